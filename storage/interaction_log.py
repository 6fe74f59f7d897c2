"""The interaction log: every customer message and every bot/agent reply, stored exactly once.

Fed with Rasa tracker events (the dicts an event broker receives), so it sees every message whatever
the channel and whether or not a custom action ran or failed.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any, Dict, Optional

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import Conversation, Message, utcnow

FALLBACK_RESPONSES = {"utter_ask_rephrase", "utter_offer_human", "utter_default"}
LOGGED_EVENTS = {"user", "bot"}


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
    """The conversation row, created on first sight; the action server and the broker may race here."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        conversation = Conversation(
            id=conversation_id, channel=channel or "unknown", customer_identity=identity or conversation_id
        )
        session.add(conversation)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:
            conversation = session.get(Conversation, conversation_id, populate_existing=True)
    elif channel and conversation.channel == "unknown":
        conversation.channel = channel
    return conversation


def answer_source(metadata: Dict[str, Any]) -> str:
    """Where a reply came from: an action says so explicitly; otherwise infer from the response name."""
    if metadata.get("answer_source"):
        return str(metadata["answer_source"])
    if metadata.get("author") == "agent":
        return "agent"
    utter_action = metadata.get("utter_action") or ""
    if utter_action in FALLBACK_RESPONSES:
        return "fallback"
    if utter_action.startswith("utter_ask_"):
        return "form"
    if utter_action:
        return "template"
    return "action"


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


def _inbound(event: Dict[str, Any], conversation: Conversation, key: str) -> Message:
    parse = event.get("parse_data") or {}
    intent = parse.get("intent") or {}
    return Message(
        conversation_id=conversation.id,
        event_key=key,
        platform_message_id=event.get("message_id"),
        direction="inbound",
        author="customer",
        channel=conversation.channel,
        text=event.get("text"),
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
    conversation = ensure_conversation(session, sender, channel)
    message = _inbound(event, conversation, key) if kind == "user" else _outbound(session, event, conversation, key)
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
        return None  # the same event was stored by another writer in the meantime
    conversation.last_message_at = max(conversation.last_message_at or message.sent_at, message.sent_at)
    return message
