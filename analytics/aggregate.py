"""Rows to series: each row gets its bucket in SQL, the database groups and counts, and the buckets with no
rows are filled in here. Only one row per bucket (and category) comes back to Python, whatever the volume.

Percentiles: PostgreSQL's percentile_cont; SQLite has none, so each bucket's two neighbouring values are
picked with window functions (ROW_NUMBER, COUNT) in SQL and interpolated here the way percentile_cont does.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

from sqlalchemy import Float, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from analytics.business_hours import BusinessHours, with_business_seconds
from analytics.filters import MetricFilter
from analytics.periods import offset_segments
from analytics.results import Durations, Point
from analytics.sql import POSTGRESQL, bucket_key, epoch_seconds, key_of_bucket, read_key, utc_offset

T = TypeVar("T")
PERCENTILES = (0.5, 0.9)
ALL = "all"


def keyed(rows: Select, filt: MetricFilter, dialect: str) -> Any:
    """`rows` with a `bucket` column: the bucket key of each row's `at`."""
    inner = rows.subquery("metric_rows")
    start, end = filt.window_utc
    offset = utc_offset(inner.c.at, offset_segments(start, end, filt.zone))
    return select(*inner.c, bucket_key(inner.c.at, filt.granularity, offset, dialect).label("bucket")).subquery("keyed")


def fill(filt: MetricFilter, found: Dict[datetime, T], empty: Callable[[], T]) -> List[Point[T]]:
    """One point per bucket of the period, in order; `empty()` where no row fell."""
    return [Point(b, found.get(key_of_bucket(b, filt.granularity), empty())) for b in filt.buckets]


def grouped(session: Session, table: Any, measures: Sequence[Any], by_category: bool = False) -> List[Any]:
    """SELECT bucket[, category], measures… GROUP BY them."""
    keys = [table.c.bucket, table.c.category] if by_category else [table.c.bucket]
    return list(session.execute(select(*keys, *measures).group_by(*keys)))


def by_category(rows: List[Any], make: Callable[[Any], T]) -> Dict[str, Dict[datetime, T]]:
    """{category: {bucket key: make(row)}} from rows (bucket, category, measures…)."""
    found: Dict[str, Dict[datetime, T]] = defaultdict(dict)
    for row in rows:
        found[str(row[1])][read_key(row[0])] = make(row)
    return found


# -- durations ------------------------------------------------------------------------------------------


def timed(rows: Select, dialect: str, hours: Optional[BusinessHours], window: Tuple[datetime, datetime]) -> Select:
    """`rows` (start, stop, …) with `seconds` from start to stop: wall-clock, or inside `hours`. `window`
    (naive UTC) spans the starts and stops, for the time zone's offsets."""
    inner = rows.subquery("untimed")
    if hours is not None:
        return with_business_seconds(inner, hours, window, dialect)
    seconds = epoch_seconds(inner.c.stop, dialect) - epoch_seconds(inner.c.start, dialect)
    return select(*inner.c, seconds.label("seconds"))


def _interpolated(values: Dict[int, float], count: int, fraction: float) -> float:
    position = (count - 1) * fraction
    low, high = int(position), min(int(position) + 1, count - 1)
    if low == high or high not in values:
        return values[low]
    return values[low] + (values[high] - values[low]) * (position - low)


def _sqlite_percentiles(session: Session, table: Any) -> Dict[datetime, Dict[float, float]]:
    measured = table.c.seconds.isnot(None)
    ranked = (
        select(
            table.c.bucket,
            table.c.seconds,
            (func.row_number().over(partition_by=table.c.bucket, order_by=table.c.seconds) - 1).label("rank"),
            func.count().over(partition_by=table.c.bucket).label("n"),
        )
        .where(measured)
        .subquery("ranked")
    )
    near = [func.abs(cast(ranked.c.rank, Float) - (ranked.c.n - 1) * fraction) < 1.0 for fraction in PERCENTILES]
    neighbours: Dict[datetime, Dict[int, float]] = defaultdict(dict)
    counts: Dict[datetime, int] = {}
    for bucket, seconds, rank, n in session.execute(
        select(ranked.c.bucket, ranked.c.seconds, ranked.c.rank, ranked.c.n).where(near[0] | near[1])
    ):
        key = read_key(bucket)
        neighbours[key][rank] = float(seconds)
        counts[key] = n
    return {
        key: {fraction: _interpolated(values, counts[key], fraction) for fraction in PERCENTILES}
        for key, values in neighbours.items()
    }


def durations(session: Session, table: Any, dialect: str) -> Dict[datetime, Durations]:
    """{bucket key: Durations} over `table`'s non-null `seconds`."""
    seconds = table.c.seconds
    measures: List[Any] = [func.count(seconds), func.avg(seconds)]
    if dialect == POSTGRESQL:
        measures += [func.percentile_cont(fraction).within_group(seconds) for fraction in PERCENTILES]
    rows = session.execute(select(table.c.bucket, *measures).where(seconds.isnot(None)).group_by(table.c.bucket)).all()
    sqlite_cuts = {} if dialect == POSTGRESQL else _sqlite_percentiles(session, table)
    found = {}
    for row in rows:
        key = read_key(row[0])
        cuts = [float(v) for v in row[3:]] if dialect == POSTGRESQL else [sqlite_cuts[key][f] for f in PERCENTILES]
        found[key] = Durations(int(row[1]), _ms(row[2]), _ms(cuts[0]), _ms(cuts[1]))
    return found


def _ms(seconds: float) -> float:
    """To the millisecond: SQLite's julianday arithmetic leaves noise far below it (106739.00000024)."""
    return round(float(seconds), 3)


def no_durations() -> Durations:
    return Durations(0, None, None, None)
