"""Durations counted only while the service team is at work, as Zendesk's and Chatwoot's business-hours
reports count them: a question asked at 7:50 pm on Friday and answered at 8:10 am on Monday waited
20 minutes of business time, not 60 hours.

The schedule is turned into a small calendar of open spans (epoch seconds, UTC) for the period, and SQL
adds up each duration's overlap with those spans, so the database does the work for every row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Any, List, Mapping, Tuple

from sqlalchemy import Float, and_, case, func, literal, select, union_all
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from analytics.periods import PeriodError, zone_named
from analytics.sql import greatest, least

MINUTES_PER_DAY = 24 * 60
MAX_CALENDAR_DAYS = 800  # spans sent to the database with each query: about two years of working days


@dataclass(frozen=True)
class BusinessHours:
    """Opening spans per weekday (0 = Monday) as (open, close) minutes after local midnight, in `timezone`.

    Harbor Mutual's "Mon-Fri 8am-8pm, Sat 9am-2pm ET" is
    ``BusinessHours("America/New_York", {0: (480, 1200), ..., 4: (480, 1200), 5: (540, 840)})``.
    """

    timezone: str
    by_weekday: Mapping[int, Tuple[int, int]]

    def __post_init__(self) -> None:
        zone_named(self.timezone)
        for day, (opens, closes) in self.by_weekday.items():
            if day not in range(7) or not 0 <= opens < closes <= MINUTES_PER_DAY:
                raise PeriodError(f"business hours for weekday {day} must open before they close, within the day")

    def spans(self, start_utc: datetime, end_utc: datetime) -> List[Tuple[float, float]]:
        """The open spans meeting [start_utc, end_utc) as (opens, closes) epoch seconds, in order."""
        zone = zone_named(self.timezone)
        first = start_utc.replace(tzinfo=timezone.utc).astimezone(zone).date() - timedelta(days=1)
        last = end_utc.replace(tzinfo=timezone.utc).astimezone(zone).date() + timedelta(days=1)
        if (last - first).days > MAX_CALENDAR_DAYS:
            raise PeriodError(f"business hours are computed over at most {MAX_CALENDAR_DAYS} days")
        found = []
        day = first
        while day <= last:
            span = self.by_weekday.get(day.weekday())
            if span is not None:
                midnight = datetime.combine(day, time(0), tzinfo=zone)
                opens = _epoch(midnight, span[0])
                closes = _epoch(midnight, span[1])
                found.append((opens, closes))
            day += timedelta(days=1)
        return found


def _epoch(midnight: datetime, minutes: int) -> float:
    """The instant `minutes` after local midnight by the wall clock (8 am is 8 am on a 23-hour day)."""
    wall = datetime.combine(midnight.date(), time(0)) + timedelta(minutes=minutes)
    return wall.replace(tzinfo=midnight.tzinfo).timestamp()


def calendar(spans: List[Tuple[float, float]]) -> Any:
    """The spans as a derived table (opens, closes); UNION ALL of one-row SELECTs, which both databases read."""
    rows = [
        select(literal(opens, Float).label("opens"), literal(closes, Float).label("closes")) for opens, closes in spans
    ]
    return union_all(*rows).subquery("business_calendar") if len(rows) > 1 else rows[0].subquery("business_calendar")


def business_seconds(rows: Any, spans: List[Tuple[float, float]], dialect: str) -> Select:
    """(id, seconds): for each row of `rows` (id, start_epoch, stop_epoch), its seconds inside the spans;
    NULL where it has no stop."""
    if not spans:
        return select(rows.c.id, case((rows.c.stop_epoch.is_(None), None), else_=0.0).label("seconds"))
    cal = calendar(spans)
    overlap = greatest(
        0.0,
        least(rows.c.stop_epoch, cal.c.closes, dialect) - greatest(rows.c.start_epoch, cal.c.opens, dialect),
        dialect,
    )
    meets = and_(cal.c.opens < rows.c.stop_epoch, cal.c.closes > rows.c.start_epoch)
    summed: ColumnElement = func.coalesce(func.sum(overlap), 0.0)
    return (
        select(rows.c.id, case((rows.c.stop_epoch.is_(None), None), else_=summed).label("seconds"))
        .select_from(rows.outerjoin(cal, meets))
        .group_by(rows.c.id, rows.c.stop_epoch)
    )
