"""Service analytics: the KPIs of issue 17 computed in SQL, per hour/day/week in the insurer's time zone,
with the conversations behind every point. Definitions and sources: docs/analytics.md."""

from analytics.business_hours import BusinessHours
from analytics.drilldown import Metric, Part, conversation_ids
from analytics.filter_values import intents_seen
from analytics.filters import MetricFilter
from analytics.metrics import (
    bot_resolution,
    containment,
    conversation_volume,
    csat,
    fallback_rate,
    first_response_time,
    handoff_rate,
    message_volume,
    past_reply_helpful_rate,
    past_reply_rate,
    recommendation_open_rate,
    reply_time,
    resolution_time,
    sentiment_share,
    sla_met,
)
from analytics.periods import Bucket, Granularity, PeriodError
from analytics.results import Breakdown, Csat, Durations, Point, Rate, Series

__all__ = [
    "Breakdown",
    "Bucket",
    "BusinessHours",
    "Csat",
    "Durations",
    "Granularity",
    "Metric",
    "MetricFilter",
    "Part",
    "PeriodError",
    "Point",
    "Rate",
    "Series",
    "bot_resolution",
    "containment",
    "conversation_ids",
    "conversation_volume",
    "csat",
    "fallback_rate",
    "first_response_time",
    "handoff_rate",
    "intents_seen",
    "message_volume",
    "past_reply_helpful_rate",
    "past_reply_rate",
    "recommendation_open_rate",
    "reply_time",
    "resolution_time",
    "sentiment_share",
    "sla_met",
]
