"""Webhook deliveries: retry dedupe, and the durable hand-over that keeps an accepted message from being lost.

Platforms retry a delivery until they see a 200 (Meta, WhatsApp and WeChat within seconds, Telegram and
X later), and behind a load balancer the retry may reach another Rasa replica. An insert into a table
with a unique constraint is the one check every replica agrees on, SQLite or PostgreSQL alike.

Once we have answered 200 the platform never sends the message again, so the row also keeps the message
itself and how its processing went: `pending` until Rasa has handled it, `processed` after, `failed`
with the error when Rasa raised. A message left pending or failed (the replica died, the tracker store
was down) is claimed again by a webhook's redelivery loop; `attempts` counts the processing attempts
started and stops the loop at `MAX_ATTEMPTS`, so a message that crashes the processor cannot crash it
forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Dict, List, Optional

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from storage.engine import session_scope
from storage.models import ChannelDelivery, Message, utcnow

PENDING, PROCESSED, FAILED = "pending", "processed", "failed"
MAX_ATTEMPTS = 5
ERROR_LIMIT = 2000


@dataclass(frozen=True)
class Unfinished:
    """A delivery to hand to Rasa again: the stored message and how many attempts it has had."""

    platform_message_id: str
    message: Dict[str, Any]
    attempts: int


def first_delivery(
    channel: str, platform_message_id: str, message: Optional[Dict[str, Any]] = None, url: Optional[str] = None
) -> bool:
    """Record the delivery (and the message, to redeliver it if processing does not finish); True if it
    is new, False if this channel has seen that message id before.

    One short transaction of its own, so the row is committed (and visible to other replicas) before
    the message is processed. `url` defaults to DATABASE_URL.
    """
    try:
        with session_scope(url) as session:
            session.add(
                ChannelDelivery(
                    channel=channel,
                    platform_message_id=platform_message_id,
                    message=message,
                    status=PENDING,
                    attempts=1,
                    updated_at=utcnow(),
                )
            )
    except IntegrityError:
        return False
    return True


def _set_status(channel: str, platform_message_id: str, url: Optional[str], **values: Any) -> None:
    with session_scope(url) as session:
        session.execute(
            update(ChannelDelivery)
            .where(ChannelDelivery.channel == channel, ChannelDelivery.platform_message_id == platform_message_id)
            .values(updated_at=utcnow(), **values)
        )


def mark_processed(channel: str, platform_message_id: str, url: Optional[str] = None) -> None:
    _set_status(channel, platform_message_id, url, status=PROCESSED, last_error=None)


def mark_failed(channel: str, platform_message_id: str, error: str, url: Optional[str] = None) -> None:
    _set_status(channel, platform_message_id, url, status=FAILED, last_error=error[:ERROR_LIMIT])


def _logged(session: Any, sender_id: Optional[str], platform_message_id: str) -> bool:
    """The interaction log already holds this inbound message: Rasa got as far as storing it."""
    if not sender_id:
        return False
    query = select(Message.id).where(
        Message.conversation_id == sender_id, Message.platform_message_id == platform_message_id
    )
    return session.execute(query.limit(1)).first() is not None


def claim_unfinished(
    channel: str, stale_after: timedelta, limit: int = 20, url: Optional[str] = None
) -> List[Unfinished]:
    """Deliveries of `channel` that are pending or failed and untouched for `stale_after`, claimed for
    this process: each claim bumps `attempts` only if nobody else did first, so two replicas never take
    the same message. Messages the interaction log already has are marked processed instead; rows
    without a stored message (JSON null: nothing to hand over) are left alone."""
    cutoff = utcnow() - stale_after
    touched = func.coalesce(ChannelDelivery.updated_at, ChannelDelivery.received_at)
    query = (
        select(ChannelDelivery)
        .where(
            ChannelDelivery.channel == channel,
            ChannelDelivery.status.in_([PENDING, FAILED]),
            ChannelDelivery.attempts < MAX_ATTEMPTS,
            ChannelDelivery.message.isnot(None),
            touched < cutoff,
        )
        .order_by(ChannelDelivery.received_at, ChannelDelivery.id)
        .limit(limit)
    )
    claimed: List[Unfinished] = []
    with session_scope(url) as session:
        rows = session.execute(query).scalars().all()
        for row in rows:
            if not row.message:
                continue
            message = dict(row.message)
            # every claim bumps `attempts`: a row whose count moved since we read it was taken by another replica
            same_row = and_(ChannelDelivery.id == row.id, ChannelDelivery.attempts == row.attempts)
            if _logged(session, message.get("sender_id"), row.platform_message_id):
                session.execute(update(ChannelDelivery).where(same_row).values(status=PROCESSED, updated_at=utcnow()))
                continue
            taken = session.execute(
                update(ChannelDelivery)
                .where(same_row)
                .values(attempts=ChannelDelivery.attempts + 1, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount == 1:
                claimed.append(Unfinished(row.platform_message_id, message, row.attempts + 1))
    return claimed


def prune_deliveries(older_than: timedelta, url: Optional[str] = None) -> int:
    """Delete processed deliveries older than `older_than` (WhatsApp retries for up to 7 days, so keep
    at least that); pending and failed ones stay for people to look at. Returns how many went."""
    cutoff = utcnow() - older_than
    with session_scope(url) as session:
        result = session.execute(
            delete(ChannelDelivery).where(ChannelDelivery.status == PROCESSED, ChannelDelivery.received_at < cutoff)
        )
        return int(result.rowcount or 0)
