"""The few SQL expressions SQLite and PostgreSQL spell differently: local-time buckets, epoch seconds, and
two-argument greatest/least. Everything else in analytics is plain SQLAlchemy that both understand.

Time-zone arithmetic is done with fixed offsets per segment of the period (analytics/periods.py), not
with PostgreSQL's AT TIME ZONE, so both databases put a row in the same bucket by the same rule.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, List, Optional, Tuple

from sqlalchemy import Float, Integer, Interval, case, cast, extract, func, literal
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from analytics.periods import Bucket, Granularity

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
UNIX_EPOCH_JULIAN_DAY = 2440587.5


def dialect_of(session: Session) -> str:
    name = session.get_bind().dialect.name
    if name not in (SQLITE, POSTGRESQL):
        raise NotImplementedError(f"analytics runs on SQLite and PostgreSQL, not {name}")
    return name


def utc_offset(column: Any, segments: List[Tuple[Optional[datetime], int]]) -> ColumnElement:
    """The insurer's UTC offset (seconds) at each row's time."""
    if len(segments) == 1:
        return literal(segments[0][1], Integer)
    whens = [(column < start, literal(segments[i - 1][1], Integer)) for i, (start, _) in enumerate(segments) if i]
    return case(*whens, else_=literal(segments[-1][1], Integer))


def _seconds(offset: ColumnElement, dialect: str) -> ColumnElement:
    if dialect == SQLITE:
        return func.printf("%+d seconds", offset)
    return func.make_interval(0, 0, 0, 0, 0, 0, offset, type_=Interval)


def bucket_key(column: Any, granularity: Granularity, offset: ColumnElement, dialect: str) -> ColumnElement:
    """The bucket a row falls in: its local day or Monday for days and weeks; for hours the UTC instant the
    local hour began, so the two 1 a.m. hours of an autumn night stay apart."""
    if dialect == SQLITE:
        plus, minus = _seconds(offset, dialect), _seconds(-offset, dialect)
        if granularity is Granularity.HOUR:
            return func.datetime(func.strftime("%Y-%m-%d %H:00:00", column, plus), minus)
        if granularity is Granularity.WEEK:
            return func.date(column, plus, "weekday 0", "-6 days")
        return func.date(column, plus)
    shifted = column + _seconds(offset, dialect)
    if granularity is Granularity.HOUR:
        return func.date_trunc("hour", shifted) - _seconds(offset, dialect)
    return func.date_trunc(granularity.value, shifted)


def key_of_bucket(bucket: Bucket, granularity: Granularity) -> datetime:
    """What `bucket_key` returns for rows of `bucket`, as a naive datetime."""
    if granularity is Granularity.HOUR:
        return bucket.start_utc
    return bucket.start.replace(tzinfo=None)


def read_key(value: Any) -> datetime:
    """A bucket key as the driver returns it (SQLite: text; PostgreSQL: a timestamp)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return datetime.fromisoformat(str(value))


def epoch_seconds(column: Any, dialect: str) -> ColumnElement:
    if dialect == SQLITE:
        return (func.julianday(column) - UNIX_EPOCH_JULIAN_DAY) * 86400.0
    return cast(extract("epoch", column), Float)


def greatest(a: Any, b: Any, dialect: str) -> ColumnElement:
    return func.max(a, b) if dialect == SQLITE else func.greatest(a, b)


def least(a: Any, b: Any, dialect: str) -> ColumnElement:
    return func.min(a, b) if dialect == SQLITE else func.least(a, b)
