"""The analytics page and API over analytics/: which metrics a chart may ask for, the period a request names
(in the insurer's zone, ANALYTICS_TIMEZONE), each series as plain values, the period's headline figures,
the conversations behind one point, a series as CSV, and the intents the intent filter offers. Durations
and the SLA can run on the team's clock (SERVICE_HOURS: "in business hours").

analytics/ computes; this module only chooses, validates and shapes, so the page, the JSON and the CSV
cannot disagree with the tested metrics. A request the metrics cannot answer is InvalidInput (422) with
the reason, never a 500.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

import analytics
from analytics import (
    Bucket,
    BusinessHours,
    Csat,
    Durations,
    Granularity,
    Metric,
    MetricFilter,
    Part,
    PeriodError,
    Point,
    Rate,
)
from inbox.errors import InvalidInput
from inbox.services.common import aware
from settings.service_hours import ServiceHours
from storage.models import Conversation

ALL = "all"  # the key of a series that is not broken down
DEFAULT_DAYS = 30  # the page opens on the last 30 days, today included
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100  # outside this, date arithmetic could overflow: not a real question
MAX_DRILL_DOWN = 500
# What the page offers in its filters; the API takes any well-formed name (a new connector needs no change).
CHANNELS = ("whatsapp", "telegram", "facebook", "instagram", "twitter", "wechat", "socketio", "rest")
PRODUCTS = ("auto", "home", "renters", "travel", "life")
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell (OWASP CSV injection)


class Kind(str, Enum):
    COUNT = "count"  # a whole number per bucket
    RATE = "rate"  # numerator ÷ denominator; no value (not 0) when the denominator is 0
    DURATION = "duration"  # seconds: count, mean, median, 90th percentile of the rows measured

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class MetricInfo:
    label: str
    kind: Kind
    description: str
    breakdowns: Tuple[str, ...] = ()  # the `by` a volume takes; other metrics' categories are built in
    categories: str = ""  # what the series of a built-in breakdown are
    business_hours: bool = False  # can also be measured on the team's clock (SERVICE_HOURS)


METRICS: Dict[Metric, MetricInfo] = {
    Metric.CONVERSATIONS: MetricInfo(
        "Conversations", Kind.COUNT, "conversations started", ("channel", "product", "intent")
    ),
    Metric.MESSAGES: MetricInfo(
        "Messages",
        Kind.COUNT,
        "messages sent (customers', the bot's, agents')",
        ("channel", "author", "intent", "product"),
    ),
    Metric.CONTAINMENT: MetricInfo("Containment", Kind.RATE, "bot conversations with no handoff ÷ bot conversations"),
    Metric.BOT_RESOLUTION: MetricInfo(
        "Bot resolution", Kind.RATE, "bot conversations the bot resolved (👍, or 24 h of silence) ÷ bot conversations"
    ),
    Metric.HANDOFF: MetricInfo(
        "Handoff rate", Kind.RATE, "bot conversations handed to people ÷ bot conversations", categories="reason"
    ),
    Metric.FIRST_RESPONSE: MetricInfo(
        "First response time",
        Kind.DURATION,
        "from the handoff to the first agent reply (bot replies never count)",
        business_hours=True,
    ),
    Metric.REPLY_TIME: MetricInfo(
        "Reply time", Kind.DURATION, "from a waiting customer's message to the agent's reply", business_hours=True
    ),
    Metric.RESOLUTION_TIME: MetricInfo(
        "Resolution time", Kind.DURATION, "from the handoff to its resolution", business_hours=True
    ),
    Metric.SLA: MetricInfo(
        "SLA met", Kind.RATE, "handoffs first answered within their priority's SLA ÷ decided", business_hours=True
    ),
    Metric.CSAT: MetricInfo("CSAT (👍 share)", Kind.RATE, "👍 ÷ (👍 + 👎) over the ratings given"),
    Metric.FALLBACK: MetricInfo("Fallback rate", Kind.RATE, "customer messages answered with a fallback ÷ answered"),
    Metric.PAST_REPLY: MetricInfo(
        "Past-reply answers", Kind.RATE, "customer messages answered from a past reply ÷ answered"
    ),
    Metric.PAST_REPLY_HELPFUL: MetricInfo(
        "Past-reply 👍 rate", Kind.RATE, "past-reply answers rated 👍 ÷ past-reply answers rated"
    ),
    Metric.RECOMMENDATION_OPENS: MetricInfo(
        "Recommendation opens", Kind.RATE, "recommendations opened through their link ÷ recommendations shown"
    ),
    Metric.SENTIMENT: MetricInfo(
        "Sentiment share", Kind.RATE, "customer messages with each sentiment ÷ customer messages", categories="label"
    ),
}


# -- the period a request names ----------------------------------------------------------------------------


def parse_moment(name: str, raw: str, zone: ZoneInfo) -> datetime:
    """`2026-03-01` is local midnight in the insurer's zone; a date-time without an offset is local time too;
    one with an offset (or `Z`) is that instant."""
    text = raw.strip()
    try:
        if len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text), time(0))
        else:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise InvalidInput(f"{name}: {raw!r} is not a date (YYYY-MM-DD) or an ISO 8601 date-time") from None
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise InvalidInput(f"{name}: {raw!r} is outside the years {EARLIEST_YEAR}-{LATEST_YEAR}")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def default_period(zone: ZoneInfo, now: Optional[datetime] = None) -> Tuple[datetime, datetime]:
    """The last DEFAULT_DAYS local days, today included."""
    today = (now or datetime.now(zone)).astimezone(zone).date()
    end = datetime.combine(today + timedelta(days=1), time(0), tzinfo=zone)
    return datetime.combine(today - timedelta(days=DEFAULT_DAYS - 1), time(0), tzinfo=zone), end


def metric_filter(
    timezone: str,
    start: Optional[str],
    end: Optional[str],
    granularity: Granularity,
    channel: Optional[str] = None,
    product: Optional[str] = None,
    intent: Optional[str] = None,
) -> MetricFilter:
    """The chart's filter; `start` inclusive, `end` exclusive (a missing one is the default period's)."""
    zone = ZoneInfo(timezone)
    default_start, default_end = default_period(zone)
    end_at = parse_moment("end", end, zone) if end else default_end
    start_at = parse_moment("start", start, zone) if start else min(default_start, end_at - timedelta(days=30))
    try:
        return MetricFilter(start_at, end_at, granularity, timezone, channel=channel, product=product, intent=intent)
    except PeriodError as error:
        raise InvalidInput(str(error)) from error


# -- the team's clock --------------------------------------------------------------------------------------


def business_hours(hours: ServiceHours) -> BusinessHours:
    """SERVICE_HOURS as analytics counts it (the same spans and zone the bot's handoff message promises)."""
    return BusinessHours(hours.timezone, dict(hours.by_weekday))


def service_hours_json(hours: ServiceHours) -> Dict[str, Any]:
    """The schedule as the page shows it: local "HH:MM" opening and closing per day, closed days absent."""
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    clock = lambda minutes: f"{minutes // 60:02d}:{minutes % 60:02d}"  # noqa: E731
    return {
        "timezone": hours.timezone,
        "days": [
            {"day": days[day], "opens": clock(opens), "closes": clock(closes)}
            for day, (opens, closes) in sorted(hours.by_weekday.items())
        ],
    }


def _clock(metric: Metric, hours: Optional[BusinessHours]) -> Optional[BusinessHours]:
    if hours is not None and not METRICS[metric].business_hours:
        measured = ", ".join(m.value for m, info in METRICS.items() if info.business_hours)
        raise InvalidInput(f"{metric} has no business-hours variant: only {measured} do")
    return hours


# -- series ------------------------------------------------------------------------------------------------


def _as_breakdown(found: Any) -> Dict[str, List[Point[Any]]]:
    return found if isinstance(found, dict) else {ALL: found}


def compute(
    db: Session,
    metric: Metric,
    filt: MetricFilter,
    by: Optional[str],
    sla_minutes: Mapping[int, int],
    as_of: Optional[datetime] = None,
    hours: Optional[BusinessHours] = None,
) -> Dict[str, List[Point[Any]]]:
    """{category: series} ("all" when not broken down); CSAT is its 👍 share (the survey does not exist).
    With `hours`, durations and the SLA count only the team's working time."""
    info = METRICS[metric]
    if by is not None and by not in info.breakdowns:
        allowed = ", ".join(info.breakdowns) or "nothing (its series are built in)"
        raise InvalidInput(f"{metric} cannot be broken down by {by!r}: it takes {allowed}")
    hours = _clock(metric, hours)
    calls: Dict[Metric, Callable[[], Any]] = {
        Metric.CONVERSATIONS: lambda: analytics.conversation_volume(db, filt, by=by),
        Metric.MESSAGES: lambda: analytics.message_volume(db, filt, by=by),
        Metric.CONTAINMENT: lambda: analytics.containment(db, filt),
        Metric.BOT_RESOLUTION: lambda: analytics.bot_resolution(db, filt, as_of=as_of),
        Metric.HANDOFF: lambda: analytics.handoff_rate(db, filt),
        Metric.FIRST_RESPONSE: lambda: analytics.first_response_time(db, filt, hours, as_of),
        Metric.REPLY_TIME: lambda: analytics.reply_time(db, filt, hours, as_of),
        Metric.RESOLUTION_TIME: lambda: analytics.resolution_time(db, filt, hours, as_of),
        Metric.SLA: lambda: analytics.sla_met(db, filt, sla_minutes, hours, as_of),
        Metric.CSAT: lambda: [Point(p.bucket, p.value.thumbs) for p in analytics.csat(db, filt)],
        Metric.FALLBACK: lambda: analytics.fallback_rate(db, filt),
        Metric.PAST_REPLY: lambda: analytics.past_reply_rate(db, filt),
        Metric.PAST_REPLY_HELPFUL: lambda: analytics.past_reply_helpful_rate(db, filt),
        Metric.RECOMMENDATION_OPENS: lambda: analytics.recommendation_open_rate(db, filt),
        Metric.SENTIMENT: lambda: analytics.sentiment_share(db, filt),
    }
    return _as_breakdown(calls[metric]())


def value_json(value: Any) -> Any:
    """A point's value as the API returns it: a count, a rate (value None when nothing to divide), or seconds."""
    if isinstance(value, Rate):
        return {"value": value.value, "numerator": value.numerator, "denominator": value.denominator}
    if isinstance(value, Durations):
        return {
            "count": value.count,
            "mean": value.mean_seconds,
            "median": value.median_seconds,
            "p90": value.p90_seconds,
        }
    if isinstance(value, Csat):
        return value_json(value.thumbs)
    return int(value)


def bucket_label(bucket: Bucket, granularity: Granularity) -> str:
    """How a team lead reads the bucket, in the insurer's zone; hours carry the zone's abbreviation, so the
    repeated autumn hour reads "01:00 EDT" then "01:00 EST"."""
    start = bucket.start
    if granularity is Granularity.HOUR:
        return f"{start:%a} {start.day} {start:%b %H:%M} {start.tzname()}"
    if granularity is Granularity.WEEK:
        return f"week of {start.day} {start:%b %Y}"
    return f"{start:%a} {start.day} {start:%b %Y}"


def bucket_json(bucket: Bucket, granularity: Granularity) -> Dict[str, Any]:
    return {
        "start": bucket.start.isoformat(),
        "end": bucket.end.isoformat(),
        "label": bucket_label(bucket, granularity),
    }


def series_json(
    metric: Metric,
    filt: MetricFilter,
    by: Optional[str],
    found: Dict[str, List[Point[Any]]],
    business_hours: bool = False,
) -> Dict[str, Any]:
    info = METRICS[metric]
    buckets = filt.buckets
    return {
        "metric": metric.value,
        "label": info.label + (", business hours" if business_hours else ""),
        "kind": info.kind.value,
        "by": by,
        "business_hours": business_hours,
        "granularity": filt.granularity.value,
        "timezone": filt.timezone,
        "start": buckets[0].start.isoformat(),
        "end": buckets[-1].end.isoformat(),
        "buckets": [bucket_json(b, filt.granularity) for b in buckets],
        "series": [
            {"category": category, "values": [value_json(p.value) for p in points]}
            for category, points in found.items()
        ],
    }


# -- the headline figures ----------------------------------------------------------------------------------


def _total_rate(points: List[Point[Any]]) -> Dict[str, Any]:
    """Every row a rate counts falls in one bucket, so the period's rate is the sums' ratio."""
    rates = [p.value.thumbs if isinstance(p.value, Csat) else p.value for p in points]
    return value_json(Rate(sum(r.numerator for r in rates), sum(r.denominator for r in rates)))


def _total_durations(points: List[Point[Durations]]) -> Dict[str, Any]:
    """The period's count and mean (weighted by each bucket's count); medians do not add up across buckets."""
    measured = [p.value for p in points if p.value.count]
    count = sum(d.count for d in measured)
    mean = sum(d.count * (d.mean_seconds or 0.0) for d in measured) / count if count else None
    return {"count": count, "mean": mean}


def summary(
    db: Session,
    filt: MetricFilter,
    sla_minutes: Mapping[int, int],
    as_of: Optional[datetime] = None,
    hours: Optional[BusinessHours] = None,
) -> Dict[str, Any]:
    """The KPI tiles: totals over the chart's buckets (the period widened to whole buckets); with `hours`
    also first response and resolution time in business hours."""
    one = lambda metric: compute(db, metric, filt, None, sla_minutes, as_of)[ALL]  # noqa: E731
    sentiment = compute(db, Metric.SENTIMENT, filt, None, sla_minutes, as_of)
    negative = sentiment.get("negative")
    messages_in = sum(p.value.denominator for p in next(iter(sentiment.values()), []))
    contained = _total_rate(one(Metric.CONTAINMENT))
    buckets = filt.buckets
    return {
        "timezone": filt.timezone,
        "granularity": filt.granularity.value,
        "start": buckets[0].start.isoformat(),
        "end": buckets[-1].end.isoformat(),
        "conversations": sum(p.value for p in one(Metric.CONVERSATIONS)),
        "messages": sum(p.value for p in one(Metric.MESSAGES)),
        "containment": contained,
        "bot_resolution": _total_rate(one(Metric.BOT_RESOLUTION)),
        # every bot conversation not contained was handed to people (handoff_rate's "all" is 1 − containment)
        "handoff": value_json(Rate(contained["denominator"] - contained["numerator"], contained["denominator"])),
        "first_response": _total_durations(one(Metric.FIRST_RESPONSE)),
        "first_response_business_hours": _business_total(db, Metric.FIRST_RESPONSE, filt, sla_minutes, as_of, hours),
        "resolution_time": _total_durations(one(Metric.RESOLUTION_TIME)),
        "resolution_time_business_hours": _business_total(db, Metric.RESOLUTION_TIME, filt, sla_minutes, as_of, hours),
        "sla": _total_rate(one(Metric.SLA)),
        "csat": _total_rate(one(Metric.CSAT)),
        "fallback": _total_rate(one(Metric.FALLBACK)),
        "negative_sentiment": _total_rate(negative) if negative else value_json(Rate(0, messages_in)),
    }


def _business_total(
    db: Session,
    metric: Metric,
    filt: MetricFilter,
    sla_minutes: Mapping[int, int],
    as_of: Optional[datetime],
    hours: Optional[BusinessHours],
) -> Optional[Dict[str, Any]]:
    if hours is None:
        return None
    return _total_durations(compute(db, metric, filt, None, sla_minutes, as_of, hours)[ALL])


# -- the conversations behind a point ----------------------------------------------------------------------


def find_bucket(filt: MetricFilter, raw: str) -> Bucket:
    """The chart's bucket that starts at `raw` (as the series lists it) or contains that instant."""
    moment = parse_moment("bucket", raw, filt.zone)
    for bucket in filt.buckets:
        if bucket.start <= moment < bucket.end:
            return bucket
    raise InvalidInput(
        f"bucket: {raw!r} is not in the chart's period ({filt.buckets[0].start} to {filt.buckets[-1].end})"
    )


def drill_down(
    db: Session,
    metric: Metric,
    filt: MetricFilter,
    bucket_start: str,
    part: Part,
    category: Optional[str],
    by: Optional[str],
    sla_minutes: Mapping[int, int],
    limit: int,
    as_of: Optional[datetime] = None,
    hours: Optional[BusinessHours] = None,
) -> Dict[str, Any]:
    """The conversations one point was computed from, each with its channel, start and status.

    The handoff rate's "all" series is 1 − containment, so its hits are containment's misses; its
    per-reason series name the handed-over conversations already."""
    bucket = find_bucket(filt, bucket_start)
    info = METRICS[metric]
    if by is not None and by not in info.breakdowns:
        raise InvalidInput(f"{metric} cannot be broken down by {by!r}")
    asked, asked_part = metric, part
    if metric is Metric.HANDOFF and category is None and part is not Part.ALL:
        asked, asked_part = Metric.CONTAINMENT, Part.MISSES if part is Part.HITS else Part.HITS
    elif metric is Metric.HANDOFF and category is not None:
        asked_part = Part.ALL
    if info.kind is not Kind.RATE and part is not Part.ALL:
        raise InvalidInput(f"{metric} is not a rate: ask for part=all")
    hours = _clock(metric, hours)
    try:
        ids = analytics.conversation_ids(
            db, asked, bucket, filt, asked_part, category=category, by=by, sla_minutes=sla_minutes,
            hours=hours, as_of=as_of, limit=limit + 1,
        )  # fmt: skip
    except ValueError as error:
        raise InvalidInput(str(error)) from error
    shown = ids[:limit]
    rows = {c.id: c for c in db.scalars(select(Conversation).where(Conversation.id.in_(shown)))} if shown else {}
    return {
        "metric": metric.value,
        "bucket": bucket_json(bucket, filt.granularity),
        "part": part.value,
        "category": category,
        "truncated": len(ids) > limit,
        "conversations": [_conversation_json(rows[i]) for i in shown if i in rows],
    }


def _conversation_json(conversation: Conversation) -> Dict[str, Any]:
    return {
        "id": conversation.id,
        "channel": conversation.channel,
        "status": conversation.status,
        "started_at": aware(conversation.created_at),
        "last_message_at": aware(conversation.last_message_at),
    }


# -- CSV ---------------------------------------------------------------------------------------------------

CSV_COLUMNS = {
    Kind.COUNT: ["count"],
    Kind.RATE: ["rate", "numerator", "denominator"],
    Kind.DURATION: ["count", "mean_seconds", "median_seconds", "p90_seconds"],
}


def _cell_text(text: str) -> str:
    return "'" + text if text.startswith(CSV_FORMULA_STARTS) else text


def _number(value: Optional[float], places: int) -> str:
    """A number a spreadsheet reads as one; empty, not 0, when there is none (a rate of nothing)."""
    return "" if value is None else repr(round(float(value), places))


def _csv_cells(kind: Kind, value: Any) -> List[str]:
    if kind is Kind.COUNT:
        return [str(int(value))]
    if kind is Kind.RATE:
        rate = value.thumbs if isinstance(value, Csat) else value
        return [_number(rate.value, 6), str(rate.numerator), str(rate.denominator)]
    return [str(value.count)] + [_number(v, 3) for v in (value.mean_seconds, value.median_seconds, value.p90_seconds)]


def series_csv(metric: Metric, filt: MetricFilter, found: Dict[str, List[Point[Any]]]) -> str:
    """One row per bucket and category (long format, for pivot tables), a header first; times in the
    insurer's zone with their UTC offset."""
    kind = METRICS[metric].kind
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["bucket_start", "bucket_end", "category", *CSV_COLUMNS[kind]])
    for category, points in found.items():
        for point in points:
            bucket = point.bucket
            writer.writerow(
                [bucket.start.isoformat(), bucket.end.isoformat(), _cell_text(category), *_csv_cells(kind, point.value)]
            )
    return out.getvalue()


def csv_file_name(metric: Metric, filt: MetricFilter) -> str:
    first, last = filt.buckets[0].start, filt.buckets[-1].end
    return f"coverline-{metric.value}-{filt.granularity.value}-{first:%Y%m%d}-{last:%Y%m%d}.csv"


def intents(db: Session, filt: MetricFilter) -> Dict[str, Any]:
    """The intent filter's choices: the intents customers' messages got in the period (and channel)."""
    buckets = filt.buckets
    return {
        "start": buckets[0].start.isoformat(),
        "end": buckets[-1].end.isoformat(),
        "channel": filt.channel,
        "intents": [{"intent": name, "messages": n} for name, n in analytics.intents_seen(db, filt)],
    }


def catalogue(timezone: str, hours: Optional[ServiceHours] = None) -> Dict[str, Any]:
    """What the page's filters and charts offer, and the team's hours the business-hours figures count."""
    return {
        "timezone": timezone,
        "service_hours": service_hours_json(hours) if hours is not None else None,
        "granularities": [g.value for g in Granularity],
        "channels": list(CHANNELS),
        "products": list(PRODUCTS),
        "parts": [p.value for p in Part],
        "metrics": [
            {
                "metric": metric.value,
                "label": info.label,
                "kind": info.kind.value,
                "description": info.description,
                "breakdowns": list(info.breakdowns),
                "categories": info.categories or None,
                "business_hours": info.business_hours,
            }
            for metric, info in METRICS.items()
        ],
    }
