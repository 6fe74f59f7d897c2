"""Periods in the insurer's time zone: which hours, days or weeks a chart has, and where each begins in UTC.

The interaction log stores naive UTC (`storage.models.utcnow`), but a team lead reads "Monday" as Monday
where the insurer works, and a day with a daylight-saving change has 23 or 25 hours. The buckets are
therefore built here with zoneinfo, and the SQL side (analytics/sql.py) only needs the UTC offsets in
force during the period (`offset_segments`), which SQLite can use as well as PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import Enum
from typing import List, Optional, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_BUCKETS = 5000  # a year of hours is 8,760: ask for days instead
_PROBE = timedelta(hours=1)  # time-zone offsets change on whole or half hours; bisected to the minute


class Granularity(str, Enum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"  # Monday to Sunday, ISO 8601 (as PostgreSQL's date_trunc('week'))

    def __str__(self) -> str:
        return self.value


class PeriodError(ValueError):
    """A period the metrics cannot chart; the message says why, for the person who asked."""


def zone_named(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PeriodError(f"unknown time zone {name!r}: use an IANA name such as America/New_York") from None


def as_utc(moment: datetime) -> datetime:
    """Naive UTC, as the interaction log stores it; a naive `moment` is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class Bucket:
    """One point of a chart: [start, end) in the insurer's zone, aware."""

    start: datetime
    end: datetime

    @property
    def start_utc(self) -> datetime:
        return as_utc(self.start)

    @property
    def end_utc(self) -> datetime:
        return as_utc(self.end)


def _local_floor(moment: datetime, granularity: Granularity, zone: ZoneInfo) -> datetime:
    local = moment.astimezone(zone)
    if granularity is Granularity.HOUR:
        return local.replace(minute=0, second=0, microsecond=0)
    day = local.date()
    if granularity is Granularity.WEEK:
        day -= timedelta(days=day.weekday())
    return _midnight(day, zone)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def _next_start(start: datetime, granularity: Granularity, zone: ZoneInfo) -> datetime:
    """Hours step in UTC (a 25-hour day has 25 of them); days and weeks step on the local calendar."""
    if granularity is Granularity.HOUR:
        return (start.astimezone(timezone.utc) + timedelta(hours=1)).astimezone(zone)
    days = 7 if granularity is Granularity.WEEK else 1
    return _midnight(start.date() + timedelta(days=days), zone)


def buckets(start: datetime, end: datetime, granularity: Granularity, zone: ZoneInfo) -> List[Bucket]:
    """Every bucket that meets [start, end), the first one widened back to its beginning: a chart has
    whole periods and every one of them, empty or not."""
    start_aware = start if start.tzinfo else start.replace(tzinfo=timezone.utc)
    end_aware = end if end.tzinfo else end.replace(tzinfo=timezone.utc)
    if end_aware <= start_aware:
        raise PeriodError("the period must end after it starts")
    found: List[Bucket] = []
    current = _local_floor(start_aware, granularity, zone)
    while current < end_aware:
        following = _next_start(current, granularity, zone)
        found.append(Bucket(current, following))
        if len(found) > MAX_BUCKETS:
            raise PeriodError(f"more than {MAX_BUCKETS} {granularity.value}s: choose a coarser granularity")
        current = following
    return found


def _offset_seconds(moment_utc: datetime, zone: ZoneInfo) -> int:
    offset = moment_utc.replace(tzinfo=timezone.utc).astimezone(zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _change_between(low: datetime, high: datetime, zone: ZoneInfo) -> datetime:
    """The first minute in (low, high] with the offset of `high` (one change in between)."""
    target = _offset_seconds(high, zone)
    while high - low > timedelta(minutes=1):
        middle = low + (high - low) / 2
        middle = middle.replace(second=0, microsecond=0)
        if middle <= low:
            break
        if _offset_seconds(middle, zone) == target:
            high = middle
        else:
            low = middle
    return high


def offset_segments(start_utc: datetime, end_utc: datetime, zone: ZoneInfo) -> List[Tuple[Optional[datetime], int]]:
    """The zone's UTC offsets over [start_utc, end_utc): [(from, seconds)], the first `from` None.

    A row's local time is its UTC time plus the offset of the segment it falls in; two segments around
    a daylight-saving change, one for most periods."""
    segments: List[Tuple[Optional[datetime], int]] = [(None, _offset_seconds(start_utc, zone))]
    probe = start_utc
    while probe < end_utc:
        following = min(probe + _PROBE, end_utc)
        offset = _offset_seconds(following, zone)
        if offset != segments[-1][1]:
            segments.append((_change_between(probe, following, zone), offset))
        probe = following
    return segments


def on_whole_hours(start_utc: datetime, end_utc: datetime, zone: ZoneInfo) -> bool:
    """Whether every local hour of the period is a whole UTC hour: the zone's offsets are whole hours and
    change on the hour. Then a row's local hour, day and week follow from its UTC hour alone, and per-hour
    totals (storage.models.MessageHour) can stand for the rows (not so in India, +5:30, or Nepal, +5:45)."""
    segments = offset_segments(start_utc, end_utc, zone)
    whole = all(offset % 3600 == 0 for _, offset in segments)
    return whole and all(begins is None or begins.minute == begins.second == 0 for begins, _ in segments)
