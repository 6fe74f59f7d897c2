"""Service analytics for agents and admins (issue 17): a metric's series, the period's headline figures, the
conversations behind one point, a series as CSV, and the intents seen (the intent filter's choices). Periods
are read in the insurer's time zone (ANALYTICS_TIMEZONE); `business_hours=true` counts durations and the SLA
on the team's clock (SERVICE_HOURS); definitions in docs/analytics.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Dict, List, Optional, Union

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from analytics import BusinessHours, Granularity, Metric, MetricFilter, Part
from inbox.deps import CurrentAgent, DbSession, SettingsDep
from inbox.schemas import Detail
from inbox.services import analytics as service

router = APIRouter(prefix="/analytics", tags=["analytics"])
ERRORS: Dict[Union[int, str], Dict[str, Any]] = {
    401: {"model": Detail, "description": "not logged in"},
    422: {"description": "a parameter the metrics cannot answer: unknown metric, bad date, end before start, "
          "more than 5,000 buckets, a breakdown or part the metric does not have"},
}  # fmt: skip
NAME = r"^[A-Za-z0-9_.:-]{1,80}$"
MOMENT_HELP = (
    "YYYY-MM-DD (midnight in the insurer's time zone, ANALYTICS_TIMEZONE) or an ISO 8601 date-time "
    "(without an offset: the insurer's local time)"
)


def chart_filter(
    settings: SettingsDep,
    start: Optional[str] = Query(None, max_length=40, description="first instant, inclusive: " + MOMENT_HELP),
    end: Optional[str] = Query(None, max_length=40, description="end, exclusive: " + MOMENT_HELP),
    granularity: Annotated[Granularity, Query(description="hour, day or week (Monday to Sunday)")] = Granularity.DAY,
    channel: Optional[str] = Query(None, regex=NAME, description="only this channel (whatsapp, telegram, …)"),
    product: Optional[str] = Query(None, regex=NAME, description="only conversations naming this product line"),
    intent: Optional[str] = Query(None, regex=NAME, description="only conversations/messages with this intent"),
) -> MetricFilter:
    """The period (default: the last 30 days, today included), widened to whole buckets."""
    return service.metric_filter(settings.analytics_timezone, start, end, granularity, channel, product, intent)


ChartFilter = Depends(chart_filter)
BY_HELP = "break a volume down by channel, product or intent (messages also by author)"


def team_clock(
    settings: SettingsDep,
    business_hours: bool = Query(
        False,
        description="count first response, reply and resolution time and the SLA only while the team works "
        "(SERVICE_HOURS, GET /api/analytics/metrics lists them); other metrics refuse it",
    ),
) -> Optional[BusinessHours]:
    return service.business_hours(settings.service_hours) if business_hours else None


TeamClock = Depends(team_clock)


class BucketOut(BaseModel):
    start: datetime = Field(..., description="in the insurer's time zone, with its UTC offset")
    end: datetime
    label: str


class RateOut(BaseModel):
    value: Optional[float] = Field(..., description="numerator ÷ denominator; null when the denominator is 0")
    numerator: int
    denominator: int


class DurationOut(BaseModel):
    count: int = Field(..., description="rows measured (still waiting ones are not)")
    mean: Optional[float] = Field(..., description="seconds; null when count is 0")
    median: Optional[float]
    p90: Optional[float]


class SeriesLine(BaseModel):
    category: str = Field(..., description='"all", or a channel, intent, product, author, reason or label')
    values: List[Union[int, RateOut, DurationOut]] = Field(..., description="one per bucket, in order")


class SeriesOut(BaseModel):
    metric: Metric
    label: str
    kind: str = Field(..., description="count, rate or duration")
    by: Optional[str]
    business_hours: bool = Field(..., description="durations and the SLA counted in the team's hours only")
    granularity: Granularity
    timezone: str
    start: datetime
    end: datetime
    buckets: List[BucketOut]
    series: List[SeriesLine]


class TotalDurationOut(BaseModel):
    count: int
    mean: Optional[float] = Field(..., description="seconds, over every row of the period")


class SummaryOut(BaseModel):
    timezone: str
    granularity: Granularity
    start: datetime
    end: datetime
    conversations: int
    messages: int
    containment: RateOut
    bot_resolution: RateOut
    handoff: RateOut
    first_response: TotalDurationOut
    first_response_business_hours: TotalDurationOut = Field(..., description="the same, in SERVICE_HOURS only")
    resolution_time: TotalDurationOut
    resolution_time_business_hours: TotalDurationOut = Field(..., description="the same, in SERVICE_HOURS only")
    sla: RateOut
    csat: RateOut
    fallback: RateOut
    negative_sentiment: RateOut


class ConversationBrief(BaseModel):
    id: str
    channel: str
    status: str
    started_at: datetime
    last_message_at: datetime


class DrillDownOut(BaseModel):
    metric: Metric
    bucket: BucketOut
    part: Part
    category: Optional[str]
    truncated: bool = Field(..., description="more conversations than `limit` are behind the point")
    conversations: List[ConversationBrief]


class MetricInfoOut(BaseModel):
    metric: Metric
    label: str
    kind: str
    description: str
    breakdowns: List[str]
    categories: Optional[str]
    business_hours: bool = Field(..., description="also measured in business hours (`business_hours=true`)")


class OpeningOut(BaseModel):
    day: str = Field(..., description="monday … sunday; a closed day is absent")
    opens: str = Field(..., description="local HH:MM")
    closes: str


class ServiceHoursOut(BaseModel):
    timezone: str
    days: List[OpeningOut]


class IntentSeen(BaseModel):
    intent: str
    messages: int = Field(..., description="customer messages given this intent in the period")


class IntentsOut(BaseModel):
    start: datetime
    end: datetime
    channel: Optional[str]
    intents: List[IntentSeen] = Field(..., description="most messages first")


class CatalogueOut(BaseModel):
    timezone: str
    service_hours: ServiceHoursOut = Field(..., description="SERVICE_HOURS: what business hours count")
    granularities: List[str]
    channels: List[str]
    products: List[str]
    parts: List[str]
    metrics: List[MetricInfoOut]


@router.get("/metrics", response_model=CatalogueOut, responses=ERRORS)
def metrics(*, agent: CurrentAgent, settings: SettingsDep) -> dict:
    """The metrics a chart can show, their breakdowns, and the filters' choices."""
    return service.catalogue(settings.analytics_timezone, settings.service_hours)


@router.get("/intents", response_model=IntentsOut, responses=ERRORS)
def intents(*, agent: CurrentAgent, filt: MetricFilter = ChartFilter, db: DbSession) -> dict:
    """The intents customers' messages got in the period (the intent filter's choices), most frequent first;
    a channel narrows them, the product and intent filters do not."""
    return service.intents(db, filt)


@router.get("/series", response_model=SeriesOut, responses=ERRORS)
def series(
    *,
    metric: Annotated[Metric, Query(description="which metric (GET /api/analytics/metrics lists them)")],
    by: Optional[str] = Query(None, regex=r"^(channel|product|intent|author)$", description=BY_HELP),
    agent: CurrentAgent,
    filt: MetricFilter = ChartFilter,
    hours: Optional[BusinessHours] = TeamClock,
    db: DbSession,
    settings: SettingsDep,
) -> dict:
    """One value per bucket of the period, empty buckets included, per category."""
    found = service.compute(db, metric, filt, by, settings.sla_minutes, hours=hours)
    return service.series_json(metric, filt, by, found, business_hours=hours is not None)


@router.get(
    "/series.csv",
    response_class=Response,
    responses={**ERRORS, 200: {"content": {"text/csv": {}}, "description": "a header row, then one row per bucket "
                               "and category; numbers unquoted; a rate with nothing to divide is empty"}},
)  # fmt: skip
def series_csv(
    *,
    metric: Annotated[Metric, Query(description="which metric")],
    by: Optional[str] = Query(None, regex=r"^(channel|product|intent|author)$", description=BY_HELP),
    agent: CurrentAgent,
    filt: MetricFilter = ChartFilter,
    hours: Optional[BusinessHours] = TeamClock,
    db: DbSession,
    settings: SettingsDep,
) -> Response:
    """The series as a CSV file to download."""
    found = service.compute(db, metric, filt, by, settings.sla_minutes, hours=hours)
    name = service.csv_file_name(metric, filt)
    return Response(
        service.series_csv(metric, filt, found),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/summary", response_model=SummaryOut, responses=ERRORS)
def summary(*, agent: CurrentAgent, filt: MetricFilter = ChartFilter, db: DbSession, settings: SettingsDep) -> dict:
    """The period's headline figures (the KPI tiles): rates over every row of the period; durations as count
    and mean."""
    hours = service.business_hours(settings.service_hours)
    return service.summary(db, filt, settings.sla_minutes, hours=hours)


@router.get("/drilldown", response_model=DrillDownOut, responses=ERRORS)
def drill_down(
    *,
    metric: Annotated[Metric, Query(description="the chart's metric")],
    bucket: str = Query(..., max_length=40, description="the point's bucket: its `start` as the series lists it"),
    part: Annotated[Part, Query(description="a rate's all (denominator), hits (numerator) or misses")] = Part.ALL,
    category: Optional[str] = Query(None, max_length=80, description='one series of a breakdown (not "all")'),
    by: Optional[str] = Query(None, regex=r"^(channel|product|intent|author)$", description=BY_HELP),
    limit: int = Query(100, ge=1, le=service.MAX_DRILL_DOWN),
    agent: CurrentAgent,
    filt: MetricFilter = ChartFilter,
    hours: Optional[BusinessHours] = TeamClock,
    db: DbSession,
    settings: SettingsDep,
) -> dict:
    """The conversations one point was computed from (the same rows), sorted by id."""
    return service.drill_down(db, metric, filt, bucket, part, category, by, settings.sla_minutes, limit, hours=hours)
