"""The service KPIs a social team runs on, per hour, day or week in the insurer's time zone.

Each function takes a session and a `MetricFilter` and returns one point per bucket of the period (empty
buckets included). The rows each metric counts are defined in analytics/units.py; the definitions, and
where they come from, are in docs/analytics.md. Everything is grouped in the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional, Tuple

from sqlalchemy import func
from sqlalchemy.orm import Session

from analytics import units
from analytics.aggregate import ALL, by_category, durations, fill, grouped, keyed, no_durations, timed
from analytics.business_hours import BusinessHours
from analytics.filters import MetricFilter
from analytics.periods import Bucket, as_utc
from analytics.results import Breakdown, Csat, Durations, Point, Rate, Series
from analytics.sql import dialect_of, key_of_bucket, read_key
from conversations.answers import AnswerSource
from storage.models import utcnow


def _now(as_of: Optional[datetime]) -> datetime:
    return as_utc(as_of) if as_of is not None else utcnow()


def _size(table: Any) -> Any:
    """How many rows a group stands for: its rows, or the sum of their `weight` (per-hour totals)."""
    return func.sum(table.c.weight) if "weight" in table.c else func.count()


def _counts(session: Session, filt: MetricFilter, rows: Any, by: Optional[str]) -> Breakdown[int]:
    dialect = dialect_of(session)
    table = keyed(rows, filt, dialect)
    if by is None:
        found = {read_key(r[0]): int(r[1]) for r in grouped(session, table, [_size(table)])}
        return {ALL: fill(filt, found, int)}
    rows_found = grouped(session, table, [_size(table)], by_category=True)
    return {
        category: fill(filt, values, int)
        for category, values in sorted(by_category(rows_found, lambda r: int(r[2])).items())
    }


def _rates(session: Session, filt: MetricFilter, rows: Any) -> Series[Rate]:
    """Rows with a 0/1 `hit`: hits ÷ rows, per bucket (each row counting `weight` times, if it has one)."""
    table = keyed(rows, filt, dialect_of(session))
    hits = func.sum(table.c.hit * table.c.weight) if "weight" in table.c else func.sum(table.c.hit)
    found = {
        read_key(r[0]): Rate(int(r[1] or 0), int(r[2] or 0)) for r in grouped(session, table, [hits, _size(table)])
    }
    return fill(filt, found, lambda: Rate(0, 0))


def _shares(session: Session, filt: MetricFilter, rows: Any) -> Breakdown[Rate]:
    """Rows (conversation_id, at, category), each in one category: per category, its rows ÷ all the bucket's
    rows. The bucket's total is the sum of its categories, so the rows are read once, not twice."""
    table = keyed(rows, filt, dialect_of(session))
    found = by_category(grouped(session, table, [_size(table)], by_category=True), lambda r: int(r[2]))
    totals: Dict[datetime, int] = {}
    for per_key in found.values():
        for key, n in per_key.items():
            totals[key] = totals.get(key, 0) + n
    return {
        category: [Point(b, Rate(per_key.get(key, 0), totals.get(key, 0))) for b, key in _buckets_and_keys(filt)]
        for category, per_key in sorted(found.items())
    }


def _buckets_and_keys(filt: MetricFilter) -> List[Tuple[Bucket, datetime]]:
    return [(b, key_of_bucket(b, filt.granularity)) for b in filt.buckets]


def _timings(
    session: Session, filt: MetricFilter, rows: Any, hours: Optional[BusinessHours], as_of: datetime
) -> Series[Durations]:
    dialect = dialect_of(session)
    start, end = filt.window_utc
    table = keyed(timed(rows, dialect, hours, (start - units.CALENDAR_LEAD, max(end, as_of))), filt, dialect)
    return fill(filt, durations(session, table, dialect), no_durations)


# -- volumes -------------------------------------------------------------------------------------------


def conversation_volume(session: Session, filt: MetricFilter, by: Optional[str] = None) -> Breakdown[int]:
    """Conversations started per bucket; `by` channel, intent or product (key "all" without one)."""
    start, end = filt.window_utc
    return _counts(session, filt, units.conversation_rows(filt, dialect_of(session), (start, end), by), by)


def message_volume(session: Session, filt: MetricFilter, by: Optional[str] = None) -> Breakdown[int]:
    """Messages sent per bucket (customers' and replies); `by` channel, author, intent or product. Added up
    from the per-hour totals where they serve (units.hourly_totals_serve), else counted row by row."""
    window = filt.window_utc
    if units.hourly_totals_serve(filt, by):
        return _counts(session, filt, units.message_hour_rows(filt, window, by), by)
    if units.intent_totals_serve(filt, by):
        return _counts(session, filt, units.intent_hour_rows(filt, window, by), by)
    return _counts(session, filt, units.message_rows(filt, dialect_of(session), window, by), by)


# -- the bot ---------------------------------------------------------------------------------------------


def containment(session: Session, filt: MetricFilter) -> Series[Rate]:
    """Bot conversations with no handoff ÷ bot conversations, by the conversation's start."""
    return _rates(session, filt, units.bot_conversation_rows(filt, dialect_of(session), filt.window_utc))


def bot_resolution(session: Session, filt: MetricFilter, as_of: Optional[datetime] = None) -> Series[Rate]:
    """Bot conversations the bot resolved ÷ bot conversations; `as_of` (default now) decides whether 24 h
    of silence have passed."""
    rows = units.bot_resolution_rows(filt, dialect_of(session), filt.window_utc, _now(as_of))
    return _rates(session, filt, rows)


def handoff_rate(session: Session, filt: MetricFilter) -> Breakdown[Rate]:
    """Per handoff reason, and "all": bot conversations handed to people (for it) ÷ bot conversations.

    "all" is 1 − containment; the reasons come from the escalations; `taken_over` (an agent wrote with no
    escalation) is what "all" has beyond the escalated conversations. Two queries: the bot conversations'
    summary (contained, escalated) per bucket, and the few escalated ones per reason."""
    dialect = dialect_of(session)
    bot = keyed(units.bot_conversation_rows(filt, dialect, filt.window_utc), filt, dialect)
    totals = {
        read_key(r[0]): (int(r[1]), int(r[2] or 0), int(r[3] or 0))
        for r in grouped(session, bot, [func.count(), func.sum(bot.c.hit), func.sum(bot.c.escalated)])
    }
    reasons = keyed(units.handoff_reason_rows(filt, dialect, filt.window_utc), filt, dialect)
    conversations = func.count(func.distinct(reasons.c.conversation_id))
    per_reason = by_category(grouped(session, reasons, [conversations], by_category=True), lambda r: int(r[2]))
    keys = [key for _, key in _buckets_and_keys(filt)]
    denominators = {key: totals.get(key, (0, 0, 0))[0] for key in keys}
    handed_over = {key: totals.get(key, (0, 0, 0))[0] - totals.get(key, (0, 0, 0))[1] for key in keys}
    taken_over = {key: handed_over[key] - totals.get(key, (0, 0, 0))[2] for key in keys}
    found: Dict[str, Dict[datetime, int]] = {ALL: handed_over, **per_reason}
    if any(taken_over.values()):
        found[units.TAKEN_OVER] = taken_over
    return {
        category: [Point(b, Rate(per_key.get(key, 0), denominators[key])) for b, key in _buckets_and_keys(filt)]
        for category, per_key in sorted(found.items())
    }


def _answered(session: Session, filt: MetricFilter, source: AnswerSource) -> Any:
    """The answered messages: from the per-hour totals where they serve, else row by row."""
    if units.hourly_totals_serve(filt):
        return units.answer_hour_rows(filt, filt.window_utc, source)
    return units.answered_rows(filt, dialect_of(session), filt.window_utc, source)


def fallback_rate(session: Session, filt: MetricFilter) -> Series[Rate]:
    """Customer messages the bot answered with a fallback ÷ customer messages the bot answered."""
    return _rates(session, filt, _answered(session, filt, AnswerSource.FALLBACK))


def past_reply_rate(session: Session, filt: MetricFilter) -> Series[Rate]:
    """Customer messages answered from a past reply ÷ customer messages the bot answered."""
    return _rates(session, filt, _answered(session, filt, AnswerSource.RETRIEVAL))


def past_reply_helpful_rate(session: Session, filt: MetricFilter) -> Series[Rate]:
    """Past-reply answers rated 👍 ÷ past-reply answers rated, by the answer's time."""
    return _rates(session, filt, units.past_reply_feedback_rows(filt, dialect_of(session), filt.window_utc))


def recommendation_open_rate(session: Session, filt: MetricFilter) -> Series[Rate]:
    """Recommendations opened through their tracked link ÷ recommendations shown, by when they were shown."""
    return _rates(session, filt, units.recommendation_open_rows(filt, dialect_of(session), filt.window_utc))


# -- people ----------------------------------------------------------------------------------------------


def first_response_time(
    session: Session, filt: MetricFilter, hours: Optional[BusinessHours] = None, as_of: Optional[datetime] = None
) -> Series[Durations]:
    """From each handoff to the first agent reply, by the handoff's time; `hours` counts business time only."""
    rows = units.first_response_rows(filt, dialect_of(session), filt.window_utc)
    return _timings(session, filt, rows, hours, _now(as_of))


def reply_time(
    session: Session, filt: MetricFilter, hours: Optional[BusinessHours] = None, as_of: Optional[datetime] = None
) -> Series[Durations]:
    """From a waiting customer's first message to the agent's next reply, by the reply's time."""
    rows = units.reply_rows(filt, dialect_of(session), filt.window_utc)
    return _timings(session, filt, rows, hours, _now(as_of))


def resolution_time(
    session: Session, filt: MetricFilter, hours: Optional[BusinessHours] = None, as_of: Optional[datetime] = None
) -> Series[Durations]:
    """From the handoff to the agent's resolution, by the resolution's time."""
    rows = units.resolution_rows(filt, dialect_of(session), filt.window_utc)
    return _timings(session, filt, rows, hours, _now(as_of))


def sla_met(
    session: Session,
    filt: MetricFilter,
    sla_minutes: Mapping[int, int],
    hours: Optional[BusinessHours] = None,
    as_of: Optional[datetime] = None,
) -> Series[Rate]:
    """Handoffs first answered within their priority's SLA ÷ handoffs decided (answered, or still waiting
    past the SLA), by the handoff's time. `sla_minutes` is INBOX_SLA_MINUTES (settings.handoff.sla_minutes);
    with `hours` the SLA clock runs in business time only."""
    rows = units.sla_decided_rows(filt, dialect_of(session), filt.window_utc, _now(as_of), sla_minutes, hours)
    return _rates(session, filt, rows)


# -- how customers feel ----------------------------------------------------------------------------------


def csat(session: Session, filt: MetricFilter) -> Series[Csat]:
    """👍 share of the answers rated in each bucket; the survey share stays None until the survey exists."""
    thumbs = _rates(session, filt, units.feedback_rows(filt, dialect_of(session), filt.window_utc))
    return [Point(p.bucket, Csat(thumbs=p.value)) for p in thumbs]


def sentiment_share(session: Session, filt: MetricFilter) -> Breakdown[Rate]:
    """Per sentiment label: customer messages with it ÷ customer messages, per bucket (from the per-hour
    totals where they serve)."""
    if units.hourly_totals_serve(filt):
        return _shares(session, filt, units.sentiment_hour_rows(filt, filt.window_utc))
    return _shares(session, filt, units.sentiment_rows(filt, dialect_of(session), filt.window_utc))
