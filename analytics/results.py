"""What the metrics return: a series of points, one per bucket (empty buckets included), each a count, a
rate with its numerator and denominator, or a duration summary. Plain frozen dataclasses, so the inbox's
JSON API and CSV export can read them field by field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Generic, List, Optional, TypeVar

from analytics.periods import Bucket

T = TypeVar("T")


@dataclass(frozen=True)
class Rate:
    """`numerator` of `denominator`; `value` is None when there was nothing to divide (not 0 %)."""

    numerator: int
    denominator: int

    @property
    def value(self) -> Optional[float]:
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True)
class Durations:
    """Seconds, over `count` measured rows (rows still waiting are not measured); None when count is 0.

    Median and 90th percentile interpolate linearly between neighbouring values (PostgreSQL's
    percentile_cont), so SQLite and PostgreSQL give the same figures."""

    count: int
    mean_seconds: Optional[float]
    median_seconds: Optional[float]
    p90_seconds: Optional[float]


@dataclass(frozen=True)
class Csat:
    """Customer satisfaction. `thumbs` is the 👍 share of answers rated 👍/👎. `survey` is the share of 4-5
    scores on the 1-5 survey after an agent resolves; None until that survey exists (docs/analytics.md,
    "CSAT: the survey seam")."""

    thumbs: Rate
    survey: Optional[Rate] = None


@dataclass(frozen=True)
class Point(Generic[T]):
    bucket: Bucket
    value: T


Series = List[Point[T]]
Breakdown = Dict[str, List[Point[T]]]  # category (a channel, an intent, a reason) → its series
