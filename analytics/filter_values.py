"""The values a chart's filters can take that only the log knows: the intents the model gave customers'
messages in a period, most frequent first, so the page offers what was actually seen (a new intent in the
domain appears as soon as it is used, a retired one disappears)."""

from __future__ import annotations

from typing import List, Tuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analytics.filters import MetricFilter
from analytics.periods import on_whole_hours
from analytics.scope import CUSTOMER
from storage.models import IntentHour, Message


def intents_seen(session: Session, filt: MetricFilter) -> List[Tuple[str, int]]:
    """(intent, customer messages) over the period, most messages first, then by name; the channel filter
    applies (the intents of WhatsApp), the intent and product filters do not (they are what is chosen).
    Added up from the per-hour intent totals (storage.models.IntentHour) where the zone's local hours are
    whole UTC hours, else read from the index on messages (author, sent_at), which carries the intent."""
    start, end = filt.window_utc
    if on_whole_hours(start, end, filt.zone):
        count = func.sum(IntentHour.messages)
        query = (
            select(IntentHour.intent, count)
            .where(IntentHour.hour >= start, IntentHour.hour < end)
            .group_by(IntentHour.intent)
            .order_by(count.desc(), IntentHour.intent)
        )
        if filt.channel:
            query = query.where(IntentHour.channel == filt.channel)
        return [(str(intent), int(n)) for intent, n in session.execute(query)]
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
