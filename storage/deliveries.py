"""Webhook retry dedupe: the first replica to record a platform message id processes it.

Platforms retry a delivery until they see a 200 (Meta, WhatsApp and WeChat within seconds, Telegram and
X later), and behind a load balancer the retry may reach another Rasa replica. An insert into a table
with a unique constraint is the one check every replica agrees on, SQLite or PostgreSQL alike.
"""

from __future__ import annotations

from typing import Optional

from sqlalchemy.exc import IntegrityError

from storage.engine import session_scope
from storage.models import ChannelDelivery


def first_delivery(channel: str, platform_message_id: str, url: Optional[str] = None) -> bool:
    """Record the delivery; True if it is new, False if this channel has seen that message id before.

    One short transaction of its own, so the row is committed (and visible to other replicas) before
    the message is processed. `url` defaults to DATABASE_URL.
    """
    try:
        with session_scope(url) as session:
            session.add(ChannelDelivery(channel=channel, platform_message_id=platform_message_id))
    except IntegrityError:
        return False
    return True
