"""Reading conversations: the filtered list across channels and one conversation's full transcript.

Personal data customers type (card numbers, SSNs, emails, phones; storage/pii.py) is masked in everything
read here, and search does not match on it; `reveal_message` gives one message's original text to an admin
or the conversation's assignee, and audits it. Masks are computed at read time, so the rules can change
without rewriting the log, and nothing masked is ever written back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Tuple

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import Session, aliased

from conversations.status import parse_status
from inbox.errors import InvalidInput, NotFound, PermissionDenied
from inbox.schemas import MAX_ID
from inbox.services import audit
from inbox.services.common import aware
from inbox.services.sla import sla_due_at
from inbox.settings import Settings
from storage import pii
from storage.models import Agent, Conversation, ConversationNote, Escalation, Message

SENTIMENTS = ("negative", "neutral", "positive")
TRANSCRIPT_LIMIT = 1000
# attachment types (bot/channels/webhooks.py) as a list line names them; the others read as they are
ATTACHMENT_WORDS = {"image": "photo", "file": "document", "audio": "audio", "contact": "contact card"}


@dataclass
class ConversationFilter:
    status: Optional[str] = None  # pending, escalated, open, resolved
    channel: Optional[str] = None
    sentiment: Optional[str] = None  # of the last customer message
    assignee: Optional[str] = None  # "me", "none" or an agent id
    q: Optional[str] = None
    limit: int = 50
    offset: int = 0


def preview(message: Message) -> Optional[str]:
    """A list's one-line view of a message: a tapped button's title, its text, or for media sent without
    words what they are ("[photo, document]"), so a conversation ending in a damage photo does not look empty."""
    payload = message.payload if isinstance(message.payload, dict) else {}
    button = payload.get("button")
    if isinstance(button, dict) and button.get("title"):
        return pii.mask(str(button["title"]))  # what the customer tapped, not the payload behind it
    if message.text:
        return pii.mask(message.text)
    attachments = payload.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return message.text
    kinds = [ATTACHMENT_WORDS.get(str(item.get("type")), str(item.get("type"))) for item in attachments]
    return "[" + ", ".join(kinds) + "]"


def message_dict(message: Message, reveal: bool = False) -> Dict[str, Any]:
    """A transcript line, personal data masked (`masked` names the kinds) unless `reveal` (audited by the
    caller)."""
    sentiment = message.sentiment if isinstance(message.sentiment, dict) else None
    masked = pii.value_kinds([message.text, message.payload])
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "direction": message.direction,
        "author": message.author,
        "agent_name": message.agent.name if message.agent is not None else None,
        "channel": message.channel,
        "text": message.text if reveal else pii.mask(message.text),
        "payload": message.payload if reveal else pii.mask_value(message.payload),
        "masked": masked,
        "intent": message.intent,
        "confidence": message.confidence,
        "sentiment": sentiment,
        "answer_source": message.answer_source,
        "action_name": message.action_name,
        "retrieval_score": message.retrieval_score,
        "sent_at": aware(message.sent_at),
    }


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _last_customer_message():  # type: ignore[no-untyped-def]
    """Correlated subquery: the id of a conversation's latest customer message."""
    return (
        select(func.max(Message.id))
        .where(Message.conversation_id == Conversation.id, Message.author == "customer")
        .correlate(Conversation)
        .scalar_subquery()
    )


def _text_matches(db: Session, needle: str) -> set:
    """Conversations with a message whose *masked* text contains `needle`: the database narrows the
    candidates (ILIKE on the stored text), the mask decides, so a card number, SSN, email or phone is not
    a search key (searching "4111" or "gmail" finds no one by their card or address)."""
    folded = needle.casefold()
    found: set = set()
    candidates = db.execute(
        select(Message.conversation_id, Message.text).where(Message.text.ilike(_like(needle), escape="\\"))
    )
    for conversation_id, text in candidates:
        if conversation_id not in found and folded in (pii.mask(text) or "").casefold():
            found.add(conversation_id)
    return found


def _assignee_clause(assignee: str, me: Agent):  # type: ignore[no-untyped-def]
    if assignee == "me":
        return Conversation.assignee_id == me.id
    if assignee == "none":
        return Conversation.assignee_id.is_(None)
    if not assignee.isdigit() or not 0 < int(assignee) <= MAX_ID:
        raise InvalidInput("assignee must be 'me', 'none' or an agent id")
    return Conversation.assignee_id == int(assignee)


def list_conversations(
    db: Session, settings: Settings, me: Agent, filters: ConversationFilter
) -> Tuple[List[Dict[str, Any]], int]:
    """Newest activity first, with each row's last message, customer sentiment and open escalation."""
    last_customer = aliased(Message)
    query = select(Conversation).outerjoin(last_customer, last_customer.id == _last_customer_message())
    if filters.status:
        try:
            status = parse_status(filters.status)
        except ValueError as error:
            raise InvalidInput(str(error)) from error
        query = query.where(Conversation.status == status.value)
    if filters.channel:
        query = query.where(Conversation.channel == filters.channel)
    if filters.sentiment:
        if filters.sentiment not in SENTIMENTS:
            raise InvalidInput(f"sentiment must be one of {', '.join(SENTIMENTS)}")
        query = query.where(last_customer.sentiment["label"].as_string() == filters.sentiment)
    if filters.assignee:
        query = query.where(_assignee_clause(filters.assignee, me))
    if filters.q and filters.q.strip():
        pattern = _like(filters.q.strip())
        query = query.where(
            or_(
                Conversation.id.ilike(pattern, escape="\\"),
                Conversation.customer_identity.ilike(pattern, escape="\\"),
                Conversation.id.in_(
                    bindparam(
                        "text_matches",
                        sorted(_text_matches(db, filters.q.strip())),
                        expanding=True,
                        literal_execute=True,
                    )
                ),
            )
        )
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(
        db.scalars(
            query.order_by(Conversation.last_message_at.desc(), Conversation.id)
            .limit(filters.limit)
            .offset(filters.offset)
        )
    )
    return summaries(db, settings, rows), int(total)


def summaries(db: Session, settings: Settings, conversations: Iterable[Conversation]) -> List[Dict[str, Any]]:
    """List rows for these conversations in four queries, whatever their number (no N+1)."""
    conversations = list(conversations)
    ids = [c.id for c in conversations]
    if not ids:
        return []
    last_any = dict(
        db.execute(
            select(Message.conversation_id, func.max(Message.id))
            .where(Message.conversation_id.in_(ids))
            .group_by(Message.conversation_id)
        ).all()
    )
    last_cust = dict(
        db.execute(
            select(Message.conversation_id, func.max(Message.id))
            .where(Message.conversation_id.in_(ids), Message.author == "customer")
            .group_by(Message.conversation_id)
        ).all()
    )
    wanted = set(last_any.values()) | set(last_cust.values())
    messages = {m.id: m for m in db.scalars(select(Message).where(Message.id.in_(wanted)))} if wanted else {}
    escalations: Dict[str, Escalation] = {}
    for escalation in db.scalars(
        select(Escalation)
        .where(Escalation.conversation_id.in_(ids), Escalation.open.is_(True))
        .order_by(Escalation.priority.desc(), Escalation.id)
    ):
        escalations[escalation.conversation_id] = escalation  # the most urgent open one wins
    assignee_ids = {c.assignee_id for c in conversations if c.assignee_id}
    names = (
        dict(db.execute(select(Agent.id, Agent.name).where(Agent.id.in_(assignee_ids))).all()) if assignee_ids else {}
    )
    result = []
    for conversation in conversations:
        last = messages.get(last_any.get(conversation.id))
        customer = messages.get(last_cust.get(conversation.id))
        escalation = escalations.get(conversation.id)
        result.append(
            {
                "id": conversation.id,
                "channel": conversation.channel,
                "customer_identity": conversation.customer_identity,
                "status": conversation.status,
                "assignee": {"id": conversation.assignee_id, "name": names.get(conversation.assignee_id)}
                if conversation.assignee_id
                else None,
                "created_at": aware(conversation.created_at),
                "last_message_at": aware(conversation.last_message_at),
                "last_message": {"author": last.author, "text": preview(last), "sent_at": aware(last.sent_at)}
                if last
                else None,
                "sentiment": customer.sentiment
                if customer is not None and isinstance(customer.sentiment, dict)
                else None,
                "escalation": escalation_brief(settings, escalation) if escalation else None,
            }
        )
    return result


def escalation_brief(settings: Settings, escalation: Escalation) -> Dict[str, Any]:
    return {
        "id": escalation.id,
        "reason": escalation.reason,
        "priority": escalation.priority,
        "created_at": aware(escalation.created_at),
        "sla_due_at": aware(sla_due_at(settings, escalation)),
        "open": escalation.open,
        "outcome": escalation.outcome,
        "assigned_at": aware(escalation.assigned_at),
        "resolved_at": aware(escalation.resolved_at),
        "note": pii.mask(escalation.note),  # the customer's words that set it off
    }


def get_conversation(db: Session, conversation_id: str) -> Conversation:
    conversation = db.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"Conversation {conversation_id!r} not found.")
    return conversation


def conversation_detail(db: Session, settings: Settings, conversation_id: str) -> Dict[str, Any]:
    """Summary + the transcript (last 1000 messages, oldest first) + notes + every escalation."""
    conversation = get_conversation(db, conversation_id)
    detail = summaries(db, settings, [conversation])[0]
    latest = list(
        db.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.id.desc())
            .limit(TRANSCRIPT_LIMIT)
        )
    )
    detail["messages"] = [message_dict(m) for m in reversed(latest)]
    detail["notes"] = list_notes(db, conversation_id)
    detail["escalations"] = [
        escalation_brief(settings, e)
        for e in db.scalars(
            select(Escalation).where(Escalation.conversation_id == conversation_id).order_by(Escalation.id)
        )
    ]
    return detail


def messages_after(db: Session, conversation_id: str, after_id: int, limit: int = 200) -> List[Dict[str, Any]]:
    get_conversation_exists(db, conversation_id)
    rows = db.scalars(
        select(Message)
        .where(and_(Message.conversation_id == conversation_id, Message.id > after_id))
        .order_by(Message.id)
        .limit(limit)
    )
    return [message_dict(m) for m in rows]


def reveal_message(
    db: Session, agent: Agent, conversation_id: str, message_id: int, ip: Optional[str]
) -> Dict[str, Any]:
    """One message as it was written, for an admin or the agent the conversation is assigned to; the audit
    row (who, which message, which kinds of data) is committed before the text is handed over."""
    conversation = get_conversation(db, conversation_id)
    if agent.role != "admin" and conversation.assignee_id != agent.id:
        owner = db.get(Agent, conversation.assignee_id) if conversation.assignee_id else None
        who = f"{owner.name} has this conversation" if owner else "This conversation is not assigned to you"
        raise PermissionDenied(
            f"{who}: only an admin or the agent it is assigned to can reveal a message's original text."
        )
    message = db.get(Message, message_id)
    if message is None or message.conversation_id != conversation_id:
        raise NotFound(f"Message {message_id} is not in conversation {conversation_id!r}.")
    line = message_dict(message, reveal=True)
    audit.record(
        db,
        "message_revealed",
        agent_id=agent.id,
        conversation_id=conversation_id,
        detail={"message_id": message_id, "kinds": line["masked"]},
        ip=ip,
    )
    db.commit()
    return line


def get_conversation_exists(db: Session, conversation_id: str) -> None:
    if db.scalar(select(Conversation.id).where(Conversation.id == conversation_id)) is None:
        raise NotFound(f"Conversation {conversation_id!r} not found.")


def note_dict(note: ConversationNote, author: Optional[str]) -> Dict[str, Any]:
    return {
        "id": note.id,
        "conversation_id": note.conversation_id,
        "agent_id": note.agent_id,
        "agent_name": author,
        "body": note.body,
        "created_at": aware(note.created_at),
    }


def list_notes(db: Session, conversation_id: str) -> List[Dict[str, Any]]:
    rows = db.execute(
        select(ConversationNote, Agent.name)
        .join(Agent, Agent.id == ConversationNote.agent_id)
        .where(ConversationNote.conversation_id == conversation_id)
        .order_by(ConversationNote.id)
    ).all()
    return [note_dict(note, name) for note, name in rows]


def channels(db: Session) -> List[str]:
    return sorted(c for c in db.scalars(select(Conversation.channel).distinct()) if c)
