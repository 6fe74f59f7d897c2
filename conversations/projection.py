"""Rasa's tracker events projected onto the interaction log: every customer message and every bot/agent
reply, stored exactly once.

Fed with the event dicts an event broker receives, so it sees every message whatever the channel and
whether or not a custom action ran or failed. A customer's message in a resolved conversation reopens
it (through the lifecycle, guarded, so it never undoes an agent's take-over).

Who the customer is (`Conversation.customer_identity`) comes from the `channel_identity` the social
connectors put in a user event's metadata (see `customer_identity`); conversations on channels without
one (REST, the web chat) are identified by their sender id.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any, Dict, Optional

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from conversations import lifecycle
from conversations.answers import answer_source
from conversations.identity import customer_identity
from storage.models import Agent, Conversation, Message, utcnow

LOGGED_EVENTS = {"user", "bot"}
# what a channel sends when a customer shares media without words: an intent they never typed
ATTACHMENT_PAYLOAD_PREFIX = "/"


def event_key(event: Dict[str, Any]) -> str:
    """A stable identity for a tracker event, so a re-published event is recognised."""
    ident = event.get("message_id") or event.get("text") or ""
    raw = f"{event.get('sender_id')}|{event.get('event')}|{event.get('timestamp')!r}|{ident}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _as_datetime(timestamp: Optional[float]) -> datetime:
    if timestamp is None:
        return utcnow()
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).replace(tzinfo=None)


def ensure_conversation(
    session: Session, conversation_id: str, channel: Optional[str] = None, identity: Optional[str] = None
) -> Conversation:
    """The conversation row, created on first sight; the action server and the broker may race here.

    `identity` (from `customer_identity`) is stored on creation and fills in a row created without one
    (the action server creates the row during the turn, before the broker sees the user event, with
    the sender id as a placeholder). A later identity with other details replaces the stored one, so a
    renamed profile shows; the bare ``<channel>:<user id>`` never replaces details already stored for
    that key. None leaves the row alone: bot events and channels without identities never change it.
    """
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        conversation = lifecycle.new_conversation(conversation_id, channel or "unknown", identity or conversation_id)
        session.add(conversation)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:
            conversation = session.get(Conversation, conversation_id, populate_existing=True)
    elif channel and conversation.channel == "unknown":
        conversation.channel = channel
    stored = conversation.customer_identity or ""
    if identity and stored != identity and not stored.endswith(" " + identity):
        conversation.customer_identity = identity  # a placeholder filled in, or a renamed profile
    return conversation


def _optional_int(value: Any) -> Optional[int]:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _optional_float(value: Any) -> Optional[float]:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _known_agent(session: Session, value: Any) -> Optional[int]:
    """The agent id of an agent reply, if it names an agent we have: a reply posted to Rasa's API by
    something else (or an id from another database) is still logged, just without an author."""
    agent_id = _optional_int(value)
    return agent_id if agent_id is not None and session.get(Agent, agent_id) is not None else None


def _customer_words(event: Dict[str, Any], attachments: Any) -> Optional[str]:
    """The text to keep for a customer message: media sent without words reach Rasa as an intent
    payload ("/share_attachment") that the customer never typed, so they are kept without text."""
    text = event.get("text")
    if attachments and isinstance(text, str) and text.startswith(ATTACHMENT_PAYLOAD_PREFIX):
        return None
    return text


def _tapped_button(session: Session, conversation_id: str, event: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The button of the bot's recent replies whose payload this message is, so the transcript can show
    what the customer tapped ("Collision") and not only the payload (`/inform{"incident_type": ...}`)."""
    text = event.get("text")
    if not (event.get("metadata") or {}).get("button_payload") or not isinstance(text, str):
        return None
    recent = session.scalars(
        select(Message.payload)
        .where(Message.conversation_id == conversation_id, Message.direction == "outbound")
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(5)
    )
    for payload in recent:
        buttons = payload.get("buttons") if isinstance(payload, dict) else None
        for button in buttons if isinstance(buttons, list) else []:
            if isinstance(button, dict) and button.get("payload") == text:
                return {"title": button.get("title"), "payload": text}
    return {"title": None, "payload": text}


def _inbound(session: Session, event: Dict[str, Any], conversation: Conversation, key: str) -> Message:
    parse = event.get("parse_data") or {}
    intent = parse.get("intent") or {}
    attachments = (event.get("metadata") or {}).get("attachments")
    attachments = attachments if isinstance(attachments, list) and attachments else None
    extra = {"attachments": attachments, "button": _tapped_button(session, conversation.id, event)}
    return Message(
        conversation_id=conversation.id,
        event_key=key,
        platform_message_id=event.get("message_id"),
        direction="inbound",
        author="customer",
        channel=conversation.channel,
        text=_customer_words(event, attachments),
        payload={name: value for name, value in extra.items() if value} or None,
        intent=intent.get("name"),
        confidence=intent.get("confidence"),
        entities=[
            {k: e.get(k) for k in ("entity", "value", "start", "end", "extractor")} for e in parse.get("entities") or []
        ],
        sentiment=parse.get("sentiment"),
        sent_at=_as_datetime(event.get("timestamp")),
    )


def _outbound(session: Session, event: Dict[str, Any], conversation: Conversation, key: str) -> Message:
    metadata = event.get("metadata") or {}
    sent_at = _as_datetime(event.get("timestamp"))
    trigger = session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation.id, Message.direction == "inbound")
        .where(Message.sent_at <= sent_at)
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(1)
    ).first()
    data = {k: v for k, v in (event.get("data") or {}).items() if v}
    author = "agent" if metadata.get("author") == "agent" else "bot"
    return Message(
        conversation_id=conversation.id,
        event_key=key,
        direction="outbound",
        author=author,
        agent_id=_known_agent(session, metadata.get("agent_id")) if author == "agent" else None,
        channel=conversation.channel,
        text=event.get("text"),
        payload=data or None,
        answer_source=answer_source(metadata),
        action_name=metadata.get("utter_action") or metadata.get("action_name"),
        past_reply_id=_optional_int(metadata.get("past_reply_id")),
        retrieval_score=_optional_float(metadata.get("retrieval_score")),
        in_reply_to_id=trigger.id if trigger else None,
        latency_ms=(sent_at - trigger.sent_at).total_seconds() * 1000 if trigger else None,
        sent_at=sent_at,
    )


def _already_stored(session: Session, message: Message) -> bool:
    """Whether the log holds this event (its key) or this platform delivery (channel + platform id)."""
    if session.scalar(select(Message.id).where(Message.event_key == message.event_key)) is not None:
        return True
    return bool(message.platform_message_id) and (
        session.scalar(
            select(Message.id).where(
                Message.channel == message.channel, Message.platform_message_id == message.platform_message_id
            )
        )
        is not None
    )


def record_event(session: Session, event: Dict[str, Any]) -> Optional[Message]:
    """Store a user or bot event once; returns the new row, or None if ignored or already stored."""
    kind = event.get("event")
    sender = event.get("sender_id")
    if kind not in LOGGED_EVENTS or not sender:
        return None
    key = event_key(event)
    if session.scalar(select(Message.id).where(Message.event_key == key)) is not None:
        return None
    channel = event.get("input_channel") if kind == "user" else None
    identity = None
    if kind == "user":
        identity = customer_identity((event.get("metadata") or {}).get("channel_identity"), channel, sender)
    conversation = ensure_conversation(session, sender, channel, identity)
    message = (
        _inbound(session, event, conversation, key) if kind == "user" else _outbound(session, event, conversation, key)
    )
    if message.platform_message_id and session.scalar(
        select(Message.id).where(
            Message.channel == message.channel, Message.platform_message_id == message.platform_message_id
        )
    ):
        return None  # a platform's retry of a delivery we already have
    try:
        with session.begin_nested():
            session.add(message)
            session.flush()
    except IntegrityError:
        if _already_stored(session, message):
            return None  # the same event was stored by another writer in the meantime
        raise  # any other refusal (a constraint, a trigger, a broken schema) must not pass for a duplicate
    conversation.last_message_at = max(conversation.last_message_at or message.sent_at, message.sent_at)
    if message.direction == "inbound":
        lifecycle.reopen(session, conversation)
    return message
