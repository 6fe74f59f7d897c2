"""The conversations behind a point of a chart: the same rows the metric counted (analytics/units.py),
restricted to one bucket, so the list a team lead opens is exactly what the point was computed from."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, List, Mapping, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from analytics import units
from analytics.business_hours import BusinessHours
from analytics.filters import MetricFilter
from analytics.periods import Bucket, as_utc
from analytics.sql import dialect_of
from conversations.answers import AnswerSource
from storage.models import utcnow

DEFAULT_LIMIT = 500


class Metric(str, Enum):
    CONVERSATIONS = "conversations"
    MESSAGES = "messages"
    CONTAINMENT = "containment"
    BOT_RESOLUTION = "bot_resolution"
    HANDOFF = "handoff"
    FIRST_RESPONSE = "first_response"
    REPLY_TIME = "reply_time"
    RESOLUTION_TIME = "resolution_time"
    SLA = "sla"
    CSAT = "csat"
    FALLBACK = "fallback"
    PAST_REPLY = "past_reply"
    PAST_REPLY_HELPFUL = "past_reply_helpful"
    RECOMMENDATION_OPENS = "recommendation_opens"
    SENTIMENT = "sentiment"

    def __str__(self) -> str:
        return self.value


class Part(str, Enum):
    """Which conversations of the point: all it was computed over (a rate's denominator), or only the hits
    (its numerator: contained, resolved, SLA met, fallback, 👍…)."""

    ALL = "all"
    HITS = "hits"
    MISSES = "misses"


def _rows(
    metric: Metric,
    filt: MetricFilter,
    dialect: str,
    window: units.Window,
    as_of: datetime,
    sla_minutes: Optional[Mapping[int, int]],
    hours: Optional[BusinessHours],
    by: Optional[str],
) -> Select:
    if metric is Metric.CONVERSATIONS:
        return units.conversation_rows(filt, dialect, window, by)
    if metric is Metric.MESSAGES:
        return units.message_rows(filt, dialect, window, by)
    if metric is Metric.CONTAINMENT:
        return units.bot_conversation_rows(filt, dialect, window)
    if metric is Metric.BOT_RESOLUTION:
        return units.bot_resolution_rows(filt, dialect, window, as_of)
    if metric is Metric.HANDOFF:
        return units.handoff_rows(filt, dialect, window)
    if metric is Metric.FIRST_RESPONSE:
        return units.first_response_rows(filt, dialect, window)
    if metric is Metric.REPLY_TIME:
        return units.reply_rows(filt, dialect, window)
    if metric is Metric.RESOLUTION_TIME:
        return units.resolution_rows(filt, dialect, window)
    if metric is Metric.SLA:
        if not sla_minutes:
            raise ValueError("the SLA drill-down needs sla_minutes (INBOX_SLA_MINUTES)")
        return units.sla_decided_rows(filt, dialect, window, as_of, sla_minutes, hours)
    if metric is Metric.CSAT:
        return units.feedback_rows(filt, dialect, window)
    if metric is Metric.FALLBACK:
        return units.answered_rows(filt, dialect, window, AnswerSource.FALLBACK)
    if metric is Metric.PAST_REPLY:
        return units.answered_rows(filt, dialect, window, AnswerSource.RETRIEVAL)
    if metric is Metric.PAST_REPLY_HELPFUL:
        return units.past_reply_feedback_rows(filt, dialect, window)
    if metric is Metric.RECOMMENDATION_OPENS:
        return units.recommendation_open_rows(filt, dialect, window)
    return units.sentiment_rows(filt, dialect, window)


def conversation_ids(
    session: Session,
    metric: Metric,
    bucket: Bucket,
    filt: MetricFilter,
    part: Part = Part.ALL,
    category: Optional[str] = None,
    by: Optional[str] = None,
    sla_minutes: Optional[Mapping[int, int]] = None,
    hours: Optional[BusinessHours] = None,
    as_of: Optional[datetime] = None,
    limit: int = DEFAULT_LIMIT,
) -> List[str]:
    """Conversation ids behind `metric` at `bucket` (one of `filt.buckets`), sorted, at most `limit`.

    `category` picks one series of a breakdown: a channel/intent/product/author of a volume (with `by`), a
    handoff reason, a sentiment label. `part` HITS/MISSES splits a rate (for the handoff rate, a
    `category` already names the handed-off conversations)."""
    metric, part = Metric(metric), Part(part)
    dialect = dialect_of(session)
    now = as_utc(as_of) if as_of is not None else utcnow()
    # the rows of the whole chart, then the bucket's: exactly what the point was computed from
    inner: Any = _rows(metric, filt, dialect, filt.window_utc, now, sla_minutes, hours, by).subquery("behind")
    in_bucket = (inner.c.at >= bucket.start_utc, inner.c.at < bucket.end_utc)
    query = select(inner.c.conversation_id).where(*in_bucket).distinct().order_by(inner.c.conversation_id)
    query = query.limit(limit)
    if category is not None:
        if "category" not in inner.c:
            raise ValueError(f"{metric} has no categories; pick one with by= (volumes), a reason or a label")
        query = query.where(inner.c.category == category)
    if part is not Part.ALL:
        if "hit" not in inner.c:
            raise ValueError(f"{metric} is not a rate: ask for all of its conversations, or a category")
        query = query.where(inner.c.hit == (1 if part is Part.HITS else 0))
    return list(session.scalars(query))
