"""Durations counted only while the service team is at work, as Zendesk's and Chatwoot's business-hours
reports count them: a question asked at 7:50 pm on Friday and answered at 8:10 am on Monday waited
20 minutes of business time, not 60 hours.

Computed in SQL as arithmetic on each row, with no calendar table to join: B(t), the business seconds from
an origin to the local wall-clock time t, is whole weeks × the weekly total + the business seconds of the
earlier weekdays of t's week + the part of t's own day inside its opening span; a duration is
B(stop) − B(start). Wall-clock time is the UTC time plus the zone's offset then (analytics/periods.py), so
a daylight-saving night, outside opening hours, changes nothing. Public holidays are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, List, Mapping, Tuple

from sqlalchemy import Float, Integer, case, cast, func, literal, select
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from analytics.periods import PeriodError, offset_segments, zone_named
from analytics.sql import SQLITE, epoch_seconds, greatest, least, utc_offset

MINUTES_PER_DAY = 24 * 60
DAY = 86400
# 1970-01-01, day 0 of the epoch, was a Thursday: (day + 3) % 7 is the weekday with Monday = 0
EPOCH_WEEKDAY_SHIFT = 3


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

    def opening_seconds(self) -> List[Tuple[int, int]]:
        """(opens, length) in seconds for Monday..Sunday; (0, 0) on closed days."""
        spans = []
        for day in range(7):
            opens, closes = self.by_weekday.get(day, (0, 0))
            spans.append((opens * 60, (closes - opens) * 60))
        return spans


def _floor(value: Any, dialect: str) -> ColumnElement:
    """An integer floor: epoch values are positive, so SQLite's truncating CAST is a floor."""
    if dialect == SQLITE:
        return cast(value, Integer)
    return cast(func.floor(value), Integer)


def _by_weekday(weekday: ColumnElement, values: List[int]) -> ColumnElement:
    return case(*[(weekday == day, literal(v, Integer)) for day, v in enumerate(values)], else_=literal(0, Integer))


def _wall_seconds(moment: Any, segments: List[Tuple[Any, int]], dialect: str) -> ColumnElement:
    """`moment` as local wall-clock seconds since the epoch."""
    return epoch_seconds(moment, dialect) + utc_offset(moment, segments)


def _local_days(wall: Any, dialect: str) -> ColumnElement:
    return _floor(wall / float(DAY), dialect)


def _clock_at(wall: Any, days: Any, hours: BusinessHours, dialect: str) -> ColumnElement:
    """B at the wall-clock time `wall` on local day number `days` (= floor(wall / DAY))."""
    spans = hours.opening_seconds()
    weekly = sum(length for _, length in spans)
    before: List[int] = [sum(length for _, length in spans[:day]) for day in range(7)]
    weekday = (days + EPOCH_WEEKDAY_SHIFT) % 7
    weeks = _floor((days + EPOCH_WEEKDAY_SHIFT) / 7.0, dialect)
    into_day = wall - days * DAY
    opens, lengths = _by_weekday(weekday, [o for o, _ in spans]), _by_weekday(weekday, [n for _, n in spans])
    today = greatest(literal(0.0, Float), least(into_day - opens, lengths, dialect), dialect)
    return weeks * weekly + _by_weekday(weekday, before) + today


def _business_clock(moment: Any, hours: BusinessHours, segments: List[Tuple[Any, int]], dialect: str) -> ColumnElement:
    """B(moment): business seconds from the epoch's first Monday to `moment`'s local wall-clock time."""
    wall = _wall_seconds(moment, segments, dialect)
    return _clock_at(wall, _local_days(wall, dialect), hours, dialect)


def business_seconds(
    start: Any, stop: Any, hours: BusinessHours, window: Tuple[datetime, datetime], dialect: str
) -> ColumnElement:
    """Business seconds from `start` to `stop` (NULL when stop is); `window` is the naive-UTC span the
    times fall in, for the zone's offsets."""
    segments = offset_segments(window[0], window[1], zone_named(hours.timezone))
    return _business_clock(stop, hours, segments, dialect) - _business_clock(start, hours, segments, dialect)


def _evaluated(query: Select) -> Any:
    """A subquery the database computes once per row: OFFSET 0 keeps PostgreSQL (and SQLite) from folding
    it into the outer query, which would copy its expressions into every place that reads them."""
    return query.offset(0).subquery()


def with_business_seconds(rows: Any, hours: BusinessHours, window: Tuple[datetime, datetime], dialect: str) -> Select:
    """`rows` (a subquery with `start` and `stop`) with `seconds` = business_seconds(start, stop), computed in
    steps that each read the previous one's columns: the inline expression repeats the local day ~25 times
    per moment (every weekday CASE holds it), and then again in each aggregate that reads it. Over 20,000
    handoffs that was most of first response time's cost in business hours (benchmarks/results/analytics.md)."""
    segments = offset_segments(window[0], window[1], zone_named(hours.timezone))
    walls = _evaluated(
        select(
            *rows.c,
            _wall_seconds(rows.c.start, segments, dialect).label("wall_start"),
            _wall_seconds(rows.c.stop, segments, dialect).label("wall_stop"),
        )
    )
    days = _evaluated(
        select(
            *walls.c,
            _local_days(walls.c.wall_start, dialect).label("day_start"),
            _local_days(walls.c.wall_stop, dialect).label("day_stop"),
        )
    )
    seconds = _clock_at(days.c.wall_stop, days.c.day_stop, hours, dialect) - _clock_at(
        days.c.wall_start, days.c.day_start, hours, dialect
    )
    return select(*[days.c[column.name] for column in rows.c], seconds.label("seconds")).offset(0)
