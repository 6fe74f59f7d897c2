"""The review queue: logged customer messages ranked by what a person's label would teach the model.

A message is in the queue while it has no active annotation and at least one reason to look at it. Each
reason has a weight; a message's score is the sum of its reasons' weights, and ties go to the newest
message. The reasons and weights (docs/learning.md):

| reason              | weight | why it teaches                                                         |
| ------------------- | ------ | ---------------------------------------------------------------------- |
| `thumbs_down`       | 5      | the customer said the bot's answer to it did not help                  |
| `fallback`          | 4      | the model did not understand it at all (nlu_fallback)                  |
| `before_handoff`    | 3      | the conversation went to people right after it, before the bot spoke again |
| `before_take_over`  | 3      | an agent took the conversation over right after it                      |
| `out_of_scope`      | 2      | labelled out of scope: often a real request in words the model lacks   |
| `low_confidence`    | 2      | labelled with less confidence than COVERLINE_REVIEW_CONFIDENCE_FLOOR   |
| `confused_intent`   | 1      | its intent was corrected to another one in >= 2 earlier annotations    |

Every reason is a SQL expression over the log (EXISTS subqueries and CASE), so the ranking, the filter and
the limit run in the database, the same on SQLite and PostgreSQL. The interaction log is only read.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

import yaml
from sqlalchemy import and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from conversations.answers import CLARIFYING_RESPONSES, AnswerSource
from settings import PROJECT_ROOT
from storage.models import Agent, Annotation, AnswerFeedback, AuditEntry, Escalation, Message

DOMAIN_DIR = PROJECT_ROOT / "bot" / "domain"
FALLBACK_INTENT = "nlu_fallback"  # Rasa's FallbackClassifier; not an intent of the domain
OUT_OF_SCOPE_INTENT = "out_of_scope"
CONFUSION_MIN_CORRECTIONS = 2
OFFERED_INTENTS = 5
CONTEXT_MESSAGES = 3

WEIGHTS: Dict[str, int] = {
    "thumbs_down": 5,
    "fallback": 4,
    "before_handoff": 3,
    "before_take_over": 3,
    "reply_missed": 3,
    "out_of_scope": 2,
    "low_confidence": 2,
    "confused_intent": 1,
}
REASONS = tuple(WEIGHTS)


class ReviewError(Exception):
    """A request the review queue cannot serve; the message says why, for a person."""


class MessageNotFound(ReviewError):
    pass


class NotACustomerMessage(ReviewError):
    pass


@dataclass(frozen=True)
class Domain:
    intents: Sequence[str]
    entities: Sequence[str]


@lru_cache(maxsize=1)
def load_domain() -> Domain:
    """The intents and entities of bot/domain/*.yml: what an annotation may say (a label the model cannot
    be trained on would be lost in the export)."""
    intents: List[str] = []
    entities: List[str] = []
    for path in sorted(DOMAIN_DIR.glob("*.yml")):
        part = yaml.safe_load(path.read_text()) or {}
        intents += [i if isinstance(i, str) else next(iter(i)) for i in part.get("intents") or []]
        entities += [e if isinstance(e, str) else next(iter(e)) for e in part.get("entities") or []]
    return Domain(tuple(dict.fromkeys(intents)), tuple(dict.fromkeys(entities)))


# -- which messages can be reviewed -------------------------------------------------------------------


def is_reviewable(message: Message) -> bool:
    """A customer's own words: not a bot or agent reply, not a button's payload, not a file without text."""
    return (
        message.direction == "inbound"
        and message.author == "customer"
        and bool(message.text)
        and not message.text.startswith("/")
    )


def reviewable_message(session: Session, message_id: int) -> Message:
    message = session.get(Message, message_id)
    if message is None:
        raise MessageNotFound(f"There is no message {message_id}.")
    if not is_reviewable(message):
        raise NotACustomerMessage(
            f"Message {message_id} is not a customer's written message (it is {message.author}'s "
            f"{message.direction} message{'' if message.text else ' without text'}): only those can be annotated."
        )
    return message


def _reviewable() -> ColumnElement:
    return and_(
        Message.direction == "inbound",
        Message.author == "customer",
        Message.text.isnot(None),
        Message.text != "",
        ~Message.text.startswith("/"),
    )


def _annotated() -> ColumnElement:
    return exists().where(Annotation.message_id == Message.id, Annotation.status == "active")


# -- the reasons, as SQL ------------------------------------------------------------------------------


def confused_intents(session: Session) -> Dict[str, int]:
    """Intents the model keeps getting wrong: label -> how many active annotations corrected it."""
    corrected = func.count(Annotation.id)
    rows = session.execute(
        select(Annotation.original_intent, corrected)
        .where(
            Annotation.status == "active",
            Annotation.original_intent.isnot(None),
            Annotation.intent != Annotation.original_intent,
        )
        .group_by(Annotation.original_intent)
        .having(corrected >= CONFUSION_MIN_CORRECTIONS)
    )
    return {intent: count for intent, count in rows}


def _last_customer_message_before(moment: Any, conversation_id: Any) -> ColumnElement:
    """`Message` is the customer's last message at `moment` in that conversation: written before it, and
    no other customer message came between (so the bot had not been answering something newer)."""
    later = aliased(Message)
    newer_message = (
        exists()
        .where(
            later.conversation_id == Message.conversation_id,
            later.direction == "inbound",
            later.author == "customer",
            or_(later.sent_at > Message.sent_at, and_(later.sent_at == Message.sent_at, later.id > Message.id)),
            later.sent_at <= moment,
        )
        .correlate_except(later)
    )  # two levels down: the customer message is the outermost query's row
    return and_(conversation_id == Message.conversation_id, moment >= Message.sent_at, ~newer_message)


def reason_conditions(floor: float, confused: Iterable[str]) -> Dict[str, ColumnElement]:
    """One boolean SQL expression per reason, over `Message` (the customer message)."""
    reply = aliased(Message)
    # uncorrelated: the 👎'd replies are found once through their primary keys, not once per message
    thumbs_down = Message.id.in_(
        select(reply.in_reply_to_id)
        .join(AnswerFeedback, AnswerFeedback.message_id == reply.id)
        .where(AnswerFeedback.helpful.is_(False), reply.in_reply_to_id.isnot(None))
    )
    before_handoff = exists().where(_last_customer_message_before(Escalation.created_at, Escalation.conversation_id))
    before_take_over = exists().where(
        AuditEntry.action == "take_over",
        _last_customer_message_before(AuditEntry.at, AuditEntry.conversation_id),
    )
    not_fallback = or_(Message.intent.is_(None), Message.intent.notin_([FALLBACK_INTENT, OUT_OF_SCOPE_INTENT]))
    # the model named an intent, yet the bot's reply fell back or asked what the customer wanted: a confident
    # misreading, which neither the fallback nor the confidence floor would bring to anyone's attention
    answer = aliased(Message)
    reply_missed = and_(
        not_fallback,
        exists().where(
            answer.in_reply_to_id == Message.id,
            answer.direction == "outbound",
            or_(answer.answer_source == AnswerSource.FALLBACK.value, answer.action_name.in_(CLARIFYING_RESPONSES)),
        ),
    )
    confused = list(confused)
    return {
        "thumbs_down": thumbs_down,
        "fallback": Message.intent == FALLBACK_INTENT,
        "before_handoff": before_handoff,
        "before_take_over": before_take_over,
        "reply_missed": reply_missed,
        "out_of_scope": Message.intent == OUT_OF_SCOPE_INTENT,
        "low_confidence": and_(Message.confidence.isnot(None), Message.confidence < floor, not_fallback),
        "confused_intent": Message.intent.in_(confused) if confused else literal(False),
    }


def _flags(session: Session, floor: float, include_annotated: bool = False) -> Any:
    conditions = reason_conditions(floor, confused_intents(session))
    columns = [case((condition, 1), else_=0).label(name) for name, condition in conditions.items()]
    query = select(Message.id.label("id"), Message.sent_at.label("sent_at"), *columns).where(_reviewable())
    if not include_annotated:
        query = query.where(~_annotated())
    return query.subquery("flags")


def _score(flags: Any) -> ColumnElement:
    return sum((flags.c[name] * weight for name, weight in WEIGHTS.items()), literal(0))


# -- the queue ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueItem:
    message: Message
    score: int
    reasons: List[Dict[str, Any]]


def _why(reason: str, message: Message, floor: float, confused: Mapping[str, int]) -> str:
    confidence = f"{message.confidence:.2f}" if message.confidence is not None else "?"
    return {
        "thumbs_down": "the customer gave the bot's answer to it a 👎",
        "fallback": "the model did not understand it (nlu_fallback)",
        "before_handoff": "the conversation was handed to people right after it",
        "before_take_over": "an agent took the conversation over right after it",
        "reply_missed": f"the model read it as {message.intent} ({confidence}), yet the bot's reply fell back "
        "or asked what the customer wanted",
        "out_of_scope": "the model called it out of scope",
        "low_confidence": f"the model's confidence {confidence} is under the floor {floor:.2f}",
        "confused_intent": f"{confused.get(message.intent or '', 0)} earlier annotations corrected "
        f"{message.intent} to another intent",
    }[reason]


def _reasons(row: Any, message: Message, floor: float, confused: Mapping[str, int]) -> List[Dict[str, Any]]:
    return [
        {"reason": name, "weight": WEIGHTS[name], "why": _why(name, message, floor, confused)}
        for name in REASONS
        if getattr(row, name)
    ]


def queue(
    session: Session, floor: float, limit: int = 50, offset: int = 0, reason: Optional[str] = None
) -> tuple[List[QueueItem], int]:
    """The unannotated customer messages with a reason, best teachers first; and how many there are.
    `reason` keeps only the messages that have that one (still ranked by their whole score)."""
    if reason is not None and reason not in WEIGHTS:
        raise ReviewError(f"reason must be one of {', '.join(REASONS)}")
    flags = _flags(session, floor)
    score = _score(flags)
    where = flags.c[reason] == 1 if reason else score > 0
    total = session.scalar(select(func.count()).select_from(flags).where(where)) or 0
    rows = session.execute(
        select(flags, score.label("score"))
        .where(where)
        .order_by(score.desc(), flags.c.sent_at.desc(), flags.c.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    messages = {m.id: m for m in session.scalars(select(Message).where(Message.id.in_([r.id for r in rows])))}
    confused = confused_intents(session)
    items = [QueueItem(messages[r.id], int(r.score), _reasons(r, messages[r.id], floor, confused)) for r in rows]
    return items, int(total)


def reasons_for(session: Session, message: Message, floor: float) -> List[Dict[str, Any]]:
    """Why this message is (or, annotated, was) worth a look; empty when nothing marks it."""
    flags = _flags(session, floor, include_annotated=True)
    row = session.execute(select(flags).where(flags.c.id == message.id)).first()
    return _reasons(row, message, floor, confused_intents(session)) if row is not None else []


# -- what the annotator sees around a message ----------------------------------------------------------


def message_view(message: Message) -> Dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "channel": message.channel,
        "author": message.author,
        "agent_name": message.agent.name if message.agent is not None else None,
        "text": message.text,
        "intent": message.intent,
        "confidence": message.confidence,
        "entities": message.entities,
        "sentiment": message.sentiment,
        "answer_source": message.answer_source,
        "sent_at": message.sent_at,
    }


def context(session: Session, message: Message, around: int = CONTEXT_MESSAGES) -> Dict[str, List[Dict[str, Any]]]:
    """The messages just before and after it in its conversation, with who wrote each."""
    same = Message.conversation_id == message.conversation_id
    earlier = or_(Message.sent_at < message.sent_at, and_(Message.sent_at == message.sent_at, Message.id < message.id))
    later = or_(Message.sent_at > message.sent_at, and_(Message.sent_at == message.sent_at, Message.id > message.id))
    before = session.scalars(
        select(Message).where(same, earlier).order_by(Message.sent_at.desc(), Message.id.desc()).limit(around)
    ).all()
    after = session.scalars(
        select(Message).where(same, later).order_by(Message.sent_at, Message.id).limit(around)
    ).all()
    return {"before": [message_view(m) for m in reversed(before)], "after": [message_view(m) for m in after]}


def bot_replies(session: Session, message: Message) -> List[Dict[str, Any]]:
    """What the bot (or a person) answered to it: the reply a verdict judges."""
    replies = session.scalars(
        select(Message).where(Message.in_reply_to_id == message.id).order_by(Message.sent_at, Message.id)
    ).all()
    return [message_view(m) for m in replies]


def offered_intents(
    ranking: Optional[Sequence[Mapping[str, Any]]], logged_intent: Optional[str], domain: Domain
) -> List[Dict[str, Any]]:
    """The model's top intents of the domain from a fresh parse (`ranking` is Rasa's `intent_ranking`,
    None when Rasa did not answer), else the intent as logged. nlu_fallback is never offered: it is not
    a label the model can learn."""
    known = set(domain.intents)
    if ranking is not None:
        offered = [
            {"intent": str(r.get("name")), "confidence": r.get("confidence"), "source": "model"}
            for r in ranking
            if isinstance(r, Mapping) and r.get("name") in known
        ]
        if offered:
            return offered[:OFFERED_INTENTS]
    if logged_intent in known:
        return [{"intent": logged_intent, "confidence": None, "source": "log"}]
    return []


def annotators(session: Session, ids: Iterable[int]) -> Dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(Agent.id, Agent.name).where(Agent.id.in_(wanted))).all())
