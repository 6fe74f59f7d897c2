"""The values a chart's filters can take that only the log knows: the intents the model gave customers'
messages in a period, most frequent first, so the page offers what was actually seen (a new intent in the
domain appears as soon as it is used, a retired one disappears)."""

from __future__ import annotations

from typing import List, Tuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analytics.filters import MetricFilter
from analytics.scope import CUSTOMER
from storage.models import Message


def intents_seen(session: Session, filt: MetricFilter) -> List[Tuple[str, int]]:
    """(intent, customer messages) over the period, most messages first, then by name; the channel filter
    applies (the intents of WhatsApp), the intent and product filters do not (they are what is chosen).
    Read from the index on messages (author, sent_at), which carries the intent."""
    start, end = filt.window_utc
    count = func.count()
    query = (
        select(Message.intent, count)
        .where(Message.author == CUSTOMER, Message.sent_at >= start, Message.sent_at < end, Message.intent.isnot(None))
        .group_by(Message.intent)
        .order_by(count.desc(), Message.intent)
    )
    if filt.channel:
        query = query.where(Message.channel == filt.channel)
    return [(str(intent), int(n)) for intent, n in session.execute(query)]
