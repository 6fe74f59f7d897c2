"""Questions about escalations that more than one process asks: the one place they are written as SQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import List, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Conversation, Escalation

# A customer who needed a person this recently (on any conversation of the same channel identity) is
# coming back about something unresolved: one level more urgent.
REPEAT_CONTACT_DAYS = 14

OPEN = Escalation.open.is_(True)


def open_escalations(session: Session, conversation_id: str) -> List[Escalation]:
    """Oldest first; there is normally at most one (a second trigger raises the first one's priority)."""
    query = (
        select(Escalation)
        .where(Escalation.conversation_id == conversation_id, OPEN)
        .order_by(Escalation.created_at, Escalation.id)
    )
    return list(session.scalars(query))


def open_escalation(session: Session, conversation_id: str) -> Optional[Escalation]:
    found = open_escalations(session, conversation_id)
    return found[0] if found else None


def is_repeat_contact(session: Session, conversation: Conversation, now: datetime) -> bool:
    """Whether this customer (same channel identity, any conversation) was handed to people recently."""
    since = now.astimezone(timezone.utc).replace(tzinfo=None) - timedelta(days=REPEAT_CONTACT_DAYS)
    earlier = session.scalar(
        select(Escalation.id)
        .join(Conversation, Conversation.id == Escalation.conversation_id)
        .where(
            Conversation.channel == conversation.channel,
            Conversation.customer_identity == conversation.customer_identity,
            Escalation.created_at >= since,
        )
        .limit(1)
    )
    return earlier is not None
