"""Conversations an agent marked good, as end-to-end test stories: what the bot did right stays right.

An active annotation with `reply_verdict: good` on a customer message says "the bot answered this well".
That conversation, from the start of its Rasa session up to and including the bot's reply to that message,
becomes one story in tests/test_learned_stories.yml, for the gate's `rasa test core --e2e` to run against
every candidate: a later model that loses the answer fails the story. The name starts with `test_` because
Rasa reads test stories only from such files (rasa/shared/core/training_data/story_reader/
yaml_story_reader.py, `is_test_stories_file`); from `learned_stories.yml` it evaluates nothing.

Where each part comes from:
- the steps come from Rasa's tracker store (its `events` table, in the same database): the interaction log
  (`messages`) keeps what was said, but not the actions that said nothing (a form, a custom action), the
  slots or the active loop, which an e2e story needs to replay a form;
- each customer turn is linked to its logged message by the event's key (conversations/projection.py's
  `event_key`, the one the event broker stored it under), so the turn carries the annotator's intent and
  entities when the message was annotated, and the logged ones otherwise;
- every customer text and every slot value is redacted as the NLU export redacts it (learning/export.py:
  `redact` with the customer's own name parts, entity spans moved onto the redacted words).

A story is written true or not at all: a conversation with a step the file cannot say faithfully (a button
payload instead of words, an action, intent, entity or slot the domain no longer has, an agent's turns,
an event Rasa's story format has no step for, no bot reply) is skipped and counted under its reason.
The file is rewritten whole and sorted, so the same annotations and logs give the same file.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple

import sqlalchemy as sa
import yaml
from rasa.shared.core.constants import DEFAULT_ACTION_NAMES, DEFAULT_SLOT_NAMES
from sqlalchemy import select
from sqlalchemy.orm import Session

from conversations.projection import event_key
from learning.export import markup, move_entities
from learning.redaction import Redaction, names_from_identity, redact
from learning.review_queue import DOMAIN_DIR, load_domain
from storage.models import Agent, Annotation, Conversation, Message
from storage.settings import PROJECT_ROOT

LEARNED_STORIES = PROJECT_ROOT / "tests" / "test_learned_stories.yml"  # `test_`: see above
GOOD = "good"
# Rasa's SQL tracker store table (rasa/core/tracker_store.py, SQLEvent); Rasa creates it, migrations skip it
TRACKER_EVENTS = sa.Table(
    "events",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255)),
    sa.Column("type_name", sa.String(255)),
    sa.Column("data", sa.Text),
)
# where a tracker starts afresh: a story replays one session
SESSION_STARTS = frozenset({"session_started", "restart"})
# tracker events a test story leaves out: Rasa's test emulates a form's rejection itself
# (rasa/core/test.py, emulate_loop_rejection), and featurization and policy-added entities are its own
UNWRITTEN = frozenset({"user_featurization", "action_execution_rejected", "loop_interrupted", "entities"})
IMPLICIT_ACTIONS = frozenset({"action_listen", "action_session_start"})  # a story's reader adds them itself


class Unfaithful(Exception):
    """The conversation cannot be written as a story that is true; `reason` is what the count says."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class StoryDomain:
    intents: FrozenSet[str]
    entities: FrozenSet[str]
    actions: FrozenSet[str]  # custom actions, responses, forms and Rasa's default actions
    forms: FrozenSet[str]
    slots: FrozenSet[str]


@lru_cache(maxsize=1)
def load_story_domain(domain_dir: Path = DOMAIN_DIR) -> StoryDomain:
    """What a story may name today: a step the current domain lacks would not replay (or not as it was)."""
    actions: List[str] = list(DEFAULT_ACTION_NAMES)
    forms: List[str] = []
    slots: List[str] = list(DEFAULT_SLOT_NAMES)  # requested_slot and Rasa's other own slots
    for path in sorted(domain_dir.glob("*.yml")):
        part = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        actions += [a if isinstance(a, str) else next(iter(a)) for a in part.get("actions") or []]
        actions += list(part.get("responses") or {})
        forms += list(part.get("forms") or {})
        slots += list(part.get("slots") or {})
    base = load_domain()
    return StoryDomain(
        frozenset(base.intents),
        frozenset(base.entities),
        frozenset(actions + forms),
        frozenset(forms),
        frozenset(slots),
    )


@dataclass(frozen=True)
class Story:
    name: str
    metadata: Dict[str, Any]
    steps: Tuple[Dict[str, Any], ...]


@dataclass(frozen=True)
class StoryExportResult:
    written: int
    skipped: Dict[str, int]  # reason → good verdicts whose conversation was not written
    path: Path


@dataclass
class _Turns:
    """One conversation's logged messages and labels, to find each tracker turn's message and label."""

    by_key: Dict[str, Message]
    by_platform_id: Dict[str, Message]
    labels: Dict[int, Annotation]  # message id → active annotation
    names: List[str]  # the customer's own name parts, for redaction


def conversation_hash(conversation: Conversation) -> str:
    """Names the source conversation without its channel id. The id alone (a phone number on WhatsApp) could
    be found again by hashing every number; with the conversation's creation time in the hash it can only
    be looked up by someone who has the database."""
    created = conversation.created_at.isoformat() if conversation.created_at else ""
    return hashlib.sha256(f"coverline-story:{conversation.id}|{created}".encode()).hexdigest()[:12]


def tracker_events(session: Session, sender_id: str) -> List[Dict[str, Any]]:
    """The conversation's tracker events as Rasa stored them, oldest first; none when Rasa never ran here
    (checked first: a failed query would abort the caller's transaction on PostgreSQL)."""
    if not sa.inspect(session.connection()).has_table(TRACKER_EVENTS.name):
        return []
    rows = session.execute(
        select(TRACKER_EVENTS.c.data).where(TRACKER_EVENTS.c.sender_id == sender_id).order_by(TRACKER_EVENTS.c.id)
    ).scalars()
    return [json.loads(data) for data in rows]


def _turns(session: Session, conversation: Conversation) -> _Turns:
    messages = session.scalars(select(Message).where(Message.conversation_id == conversation.id)).all()
    labels = session.scalars(
        select(Annotation)
        .join(Message, Message.id == Annotation.message_id)
        .where(Message.conversation_id == conversation.id, Annotation.status == "active")
    ).all()
    return _Turns(
        by_key={m.event_key: m for m in messages},
        by_platform_id={m.platform_message_id: m for m in messages if m.platform_message_id},
        labels={a.message_id: a for a in labels},
        names=names_from_identity(conversation.customer_identity),
    )


def _message_of(event: Mapping[str, Any], sender_id: str, turns: _Turns) -> Optional[Message]:
    """The logged message of a tracker event: the broker stored it under this key (Rasa publishes the event
    with its sender id); the platform's message id is the fallback."""
    message = turns.by_key.get(event_key({"sender_id": sender_id, **event}))
    return message or turns.by_platform_id.get(str(event.get("message_id") or ""))


def _annotated_index(events: Sequence[Mapping[str, Any]], message: Message, sender_id: str, turns: _Turns) -> int:
    for index, event in enumerate(events):
        logged = _message_of(event, sender_id, turns) if event.get("event") == "user" else None
        if logged is not None and logged.id == message.id:
            return index
    raise Unfaithful("not_in_tracker")


def _session_start(events: Sequence[Mapping[str, Any]], before: int) -> int:
    starts = [i for i in range(before) if events[i].get("event") in SESSION_STARTS]
    return starts[-1] + 1 if starts else 0


def _reply_end(events: Sequence[Mapping[str, Any]], user_index: int) -> int:
    """Index past the bot's reply to the user event: its actions up to the next listen. A pause ends it
    too: action_escalate hands over and pauses, and what people say after that is not the bot's reply."""
    end = user_index + 1
    while end < len(events):
        event = events[end]
        kind, name = event.get("event"), event.get("name")
        if kind in ("user", "pause") or (kind == "action" and name == "action_listen"):
            break
        end += 1
    replied = any(
        e.get("event") == "action" and e.get("name") not in IMPLICIT_ACTIONS for e in events[user_index + 1 : end]
    )
    if not replied:
        raise Unfaithful("no_bot_reply")
    return end


def _redacted_value(value: Any, names: Sequence[str]) -> Any:
    """A slot's value redacted like the words it came from (a from_text slot holds the customer's text)."""
    if isinstance(value, str):
        return redact(value, names).text
    if isinstance(value, list):
        return [_redacted_value(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _redacted_value(v, names) for k, v in value.items()}
    return value


def _entities_on(redaction: Redaction, entities: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """The export's `move_entities`, keeping each value (a synonym's "auto" for the words "car": test
    stories compare values, and the NLU export's annotated values are always the words)."""
    if any(not isinstance(e.get("start"), int) or not isinstance(e.get("end"), int) for e in entities):
        raise Unfaithful("entity_without_span")
    as_given = [dict(e) for e in entities]
    moved, _ = move_entities(as_given, redaction)
    synthetic = [dict(s) for s in redaction.entities]
    kept = iter(sorted((e for e in as_given if move_entities([e], redaction)[1] == 0), key=lambda e: e["start"]))
    return [m if m in synthetic else {**m, "value": next(kept).get("value", m["value"])} for m in moved]


def _user_step(
    event: Mapping[str, Any], label: Optional[Annotation], names: Sequence[str], domain: StoryDomain
) -> Dict[str, Any]:
    text = event.get("text") or ""
    if not text.strip() or text.startswith("/"):
        raise Unfaithful("payload_turn")  # a button or a file: no words a customer typed to test NLU on
    parse = event.get("parse_data") or {}
    intent = label.intent if label else (parse.get("intent") or {}).get("name")
    entities = list(label.entities or []) if label else list(parse.get("entities") or [])
    if intent not in domain.intents:
        raise Unfaithful("intent_not_in_domain")
    if any(e.get("entity") not in domain.entities for e in entities):
        raise Unfaithful("entity_not_in_domain")
    redaction = redact(text, names)
    return {"user": markup(redaction.text, _entities_on(redaction, entities)), "intent": intent}


def _step(event: Mapping[str, Any], names: Sequence[str], domain: StoryDomain) -> Optional[Dict[str, Any]]:
    """A non-user tracker event as a story step, None for one a story leaves out."""
    kind, name = event.get("event"), event.get("name")
    if kind == "action":
        if name in IMPLICIT_ACTIONS:
            return None
        if name not in domain.actions:
            raise Unfaithful("action_not_in_domain")
        return {"action": name}
    if kind == "slot":
        if name not in domain.slots:
            raise Unfaithful("slot_not_in_domain")
        return {"slot_was_set": [{name: _redacted_value(event.get("value"), names)}]}
    if kind == "active_loop":
        if name is not None and name not in domain.forms:
            raise Unfaithful("action_not_in_domain")
        return {"active_loop": name}
    if kind == "bot":
        if (event.get("metadata") or {}).get("author") == "agent":
            raise Unfaithful("handoff")  # an agent's words are not a bot action
        return None  # the action that said it is the step
    if kind in ("pause", "resume"):
        raise Unfaithful("handoff")  # people had the conversation: the bot predicted nothing meanwhile
    if kind in UNWRITTEN:
        return None
    raise Unfaithful("unwritable_event")  # rewind, undo, reminders, follow-ups: no story step says them


def story_steps(
    events: Sequence[Mapping[str, Any]], message: Message, sender_id: str, turns: _Turns, domain: StoryDomain
) -> List[Dict[str, Any]]:
    """The session of the annotated message, from its start through the bot's reply to it, as steps."""
    annotated = _annotated_index(events, message, sender_id, turns)
    steps: List[Dict[str, Any]] = []
    for event in events[_session_start(events, annotated) : _reply_end(events, annotated)]:
        if event.get("event") == "user":
            logged = _message_of(event, sender_id, turns)
            steps.append(_user_step(event, turns.labels.get(logged.id) if logged else None, turns.names, domain))
        else:
            step = _step(event, turns.names, domain)
            if step is not None:
                steps.append(step)
    return steps


def _good_annotations(session: Session) -> Iterable[Tuple[Annotation, Message, Conversation, Agent]]:
    return session.execute(
        select(Annotation, Message, Conversation, Agent)
        .join(Message, Message.id == Annotation.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Agent, Agent.id == Annotation.annotator_id)
        .where(Annotation.status == "active", Annotation.reply_verdict == GOOD)
        .order_by(Annotation.message_id)
    ).all()


def stories(session: Session, domain: Optional[StoryDomain] = None) -> Tuple[List[Story], Counter]:
    """Every conversation marked good, as a story, sorted by name; and the skipped ones by reason."""
    domain = domain or load_story_domain()
    written: List[Story] = []
    skipped: Counter = Counter()
    cache: Dict[str, Tuple[List[Dict[str, Any]], _Turns]] = {}
    for annotation, message, conversation, agent in _good_annotations(session):
        if conversation.id not in cache:
            cache[conversation.id] = (tracker_events(session, conversation.id), _turns(session, conversation))
        events, turns = cache[conversation.id]
        if not events:
            skipped["no_tracker"] += 1
            continue
        try:
            steps = story_steps(events, message, conversation.id, turns, domain)
        except Unfaithful as unfaithful:
            skipped[unfaithful.reason] += 1
            continue
        source = conversation_hash(conversation)
        metadata = {
            "conversation": source,
            "source_message_id": message.id,
            "annotator": agent.email,
            "annotated_at": annotation.created_at.isoformat(timespec="seconds"),
        }
        name = f"conversation {source} through message {message.id}, marked good by {agent.email}"
        written.append(Story(name, metadata, tuple(steps)))
    return sorted(written, key=lambda s: s.name), skipped


def stories_yaml(found: Sequence[Story]) -> str:
    document = {
        "version": "3.1",
        "stories": [{"story": s.name, "metadata": s.metadata, "steps": list(s.steps)} for s in found],
    }
    header = (
        "# Written by `python -m learning retrain` (learning/story_export.py) from conversations an agent\n"
        "# marked good in the review queue: redacted, as Rasa e2e test stories. Regenerated whole; review\n"
        "# before committing.\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1000)


def export_stories(session: Session, path: Path = LEARNED_STORIES) -> StoryExportResult:
    """Rewrite the stories file whole. With no story to write, an existing file is emptied (a story whose
    annotation was undone must go) and a missing one is not created."""
    found, skipped = stories(session)
    if found or path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(stories_yaml(found), encoding="utf-8")
    return StoryExportResult(len(found), dict(sorted(skipped.items())), path)
