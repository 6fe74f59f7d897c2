"""What a chart asks for: a period, a granularity, the insurer's time zone and the conversations it covers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import List, Optional
from zoneinfo import ZoneInfo

from analytics.periods import Bucket, Granularity, as_utc, buckets, zone_named

DEFAULT_TIMEZONE = "UTC"  # until settings has ANALYTICS_TIMEZONE (see docs/analytics.md)


@dataclass(frozen=True)
class MetricFilter:
    """`start`/`end` are aware datetimes or naive UTC; the period is widened to whole buckets.

    `channel` is the connector's name (whatsapp, telegram, facebook, instagram, twitter, wechat, socketio,
    rest); `product` a product line the customer named (auto, home, renters, travel, life); `intent` an
    intent of the domain. How each one narrows a metric is in docs/analytics.md ("Filters").
    """

    start: datetime
    end: datetime
    granularity: Granularity = Granularity.DAY
    timezone: str = DEFAULT_TIMEZONE
    channel: Optional[str] = None
    product: Optional[str] = None
    intent: Optional[str] = None
    _buckets: List[Bucket] = field(default_factory=list, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "granularity", Granularity(self.granularity))
        zone_named(self.timezone)
        object.__setattr__(self, "_buckets", buckets(self.start, self.end, self.granularity, self.zone))

    @property
    def zone(self) -> ZoneInfo:
        return zone_named(self.timezone)

    @property
    def buckets(self) -> List[Bucket]:
        return list(self._buckets)

    @property
    def window_utc(self) -> tuple[datetime, datetime]:
        """[first bucket's start, last bucket's end) in naive UTC: the rows a chart reads."""
        return as_utc(self._buckets[0].start), as_utc(self._buckets[-1].end)
