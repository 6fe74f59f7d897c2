"""Every metric against values worked out by hand from tests/support/analytics_fixtures.py, on SQLite and on
PostgreSQL. The period is Sat 2026-03-07 to Tue 2026-03-10 in New York, across the start of daylight saving
time (Sunday has 23 hours); the four day buckets are written D7, D8, D9, D10 below.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import List, Optional
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import DateTime, literal, select
from sqlalchemy.orm import Session

from analytics import (
    BusinessHours,
    Durations,
    Granularity,
    Metric,
    MetricFilter,
    Part,
    PeriodError,
    Rate,
    bot_resolution,
    containment,
    conversation_ids,
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
from analytics.business_hours import business_seconds
from analytics.sql import dialect_of
from tests.support.analytics_fixtures import (
    AS_OF,
    C0,
    C1,
    C2,
    C3,
    C4,
    C5,
    C6,
    C7,
    C8,
    OPENING_HOURS,
    SLA_MINUTES,
    ZONE,
)

NY = ZoneInfo(ZONE)
HOURS = BusinessHours(ZONE, OPENING_HOURS)


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=NY)


def days(**narrowing: str) -> MetricFilter:
    return MetricFilter(local(2026, 3, 7), local(2026, 3, 11), Granularity.DAY, ZONE, **narrowing)


def values(series: list) -> list:
    return [point.value for point in series]


def rates(*pairs: tuple) -> List[Rate]:
    return [Rate(n, d) for n, d in pairs]


def none() -> Durations:
    return Durations(0, None, None, None)


def one(seconds: float) -> Durations:
    return Durations(1, seconds, seconds, seconds)


def approx(found: List[Durations]) -> List[tuple]:
    return [
        (d.count, *(None if v is None else round(v, 3) for v in (d.mean_seconds, d.median_seconds, d.p90_seconds)))
        for d in found
    ]


# -- periods -----------------------------------------------------------------------------------------------


def test_the_day_buckets_are_local_days_and_sunday_has_23_hours() -> None:
    buckets = days().buckets
    assert [b.start for b in buckets] == [local(2026, 3, d) for d in (7, 8, 9, 10)]
    assert [b.end_utc - b.start_utc for b in buckets] == [timedelta(hours=h) for h in (24, 23, 24, 24)]
    assert buckets[1].start_utc == datetime(2026, 3, 8, 5) and buckets[2].start_utc == datetime(2026, 3, 9, 4)


def test_a_period_is_widened_to_whole_buckets_and_refused_when_too_fine() -> None:
    weeks = MetricFilter(local(2026, 3, 7, 12), local(2026, 3, 11), Granularity.WEEK, ZONE)
    assert [b.start for b in weeks.buckets] == [local(2026, 3, 2), local(2026, 3, 9)]
    with pytest.raises(PeriodError):
        MetricFilter(local(2026, 1, 1), local(2027, 1, 1), Granularity.HOUR, ZONE)
    with pytest.raises(PeriodError):
        MetricFilter(local(2026, 3, 7), local(2026, 3, 8), timezone="Mars/Olympus_Mons")


# -- volumes -----------------------------------------------------------------------------------------------


def test_conversations_per_local_day(db: Session) -> None:
    # C2 started at 04:30 UTC on Mar 8, which is 23:30 on Mar 7 in New York
    assert values(conversation_volume(db, days())["all"]) == [2, 1, 2, 4]


def test_empty_days_are_filled_with_zero(db: Session) -> None:
    week = MetricFilter(local(2026, 3, 5), local(2026, 3, 12), Granularity.DAY, ZONE)
    assert values(conversation_volume(db, week)["all"]) == [0, 1, 2, 1, 2, 4, 0]


def test_conversations_by_channel_product_and_intent(db: Session) -> None:
    by_channel = {k: values(v) for k, v in conversation_volume(db, days(), by="channel").items()}
    assert by_channel == {
        "facebook": [0, 1, 0, 0],
        "instagram": [0, 0, 0, 1],
        "telegram": [1, 0, 1, 0],
        "twitter": [0, 0, 0, 1],
        "wechat": [0, 0, 0, 1],
        "whatsapp": [1, 0, 1, 1],
    }
    by_product = {k: values(v) for k, v in conversation_volume(db, days(), by="product").items()}
    assert by_product == {"auto": [1, 0, 1, 0], "home": [1, 0, 0, 0], "renters": [0, 0, 0, 1], "travel": [0, 0, 1, 0]}
    by_intent = {k: values(v) for k, v in conversation_volume(db, days(), by="intent").items()}
    assert by_intent["complain"] == [0, 1, 1, 1]  # C3 (a message while waiting), C4, C9
    assert by_intent["ask_coverage"] == [1, 0, 1, 0]
    assert by_intent["greet"] == [1, 0, 0, 1]  # C0 is before the period
    assert sorted(by_intent) == sorted(
        ["affirm", "ask_coverage", "ask_deductible", "claim_status", "complain", "deny", "greet", "inform"]
        + ["nlu_fallback", "request_human", "thank"]
    )


def test_conversations_filtered_by_channel_product_and_intent(db: Session) -> None:
    assert values(conversation_volume(db, days(channel="whatsapp"))["all"]) == [1, 0, 1, 1]
    assert values(conversation_volume(db, days(product="auto"))["all"]) == [1, 0, 1, 0]
    assert values(conversation_volume(db, days(intent="ask_coverage"))["all"]) == [1, 0, 1, 0]
    assert values(conversation_volume(db, days(channel="telegram", product="auto"))["all"]) == [0, 0, 0, 0]


def test_messages_per_local_day_by_author(db: Session) -> None:
    # C3's message at 04:30 UTC on Mar 9 is 00:30 EDT Monday: in EST it would still be Sunday
    assert values(message_volume(db, days())["all"]) == [8, 4, 17, 10]
    by_author = {k: values(v) for k, v in message_volume(db, days(), by="author").items()}
    assert by_author == {"agent": [0, 0, 5, 1], "bot": [4, 2, 4, 4], "customer": [4, 2, 8, 5]}


def test_messages_by_product_and_of_one_intent(db: Session) -> None:
    assert values(message_volume(db, days(product="auto"))["all"]) == [4, 0, 7, 0]
    assert values(message_volume(db, days(intent="ask_coverage"))["all"]) == [1, 0, 1, 0]
    by_intent = {k: values(v) for k, v in message_volume(db, days(), by="intent").items()}
    assert by_intent["inform"] == [0, 0, 2, 0] and by_intent["nlu_fallback"] == [0, 2, 0, 0]


def test_hours_across_the_spring_change_are_23_and_local() -> None:
    sunday = MetricFilter(local(2026, 3, 8), local(2026, 3, 9), Granularity.HOUR, ZONE)
    starts = [b.start for b in sunday.buckets]
    assert len(starts) == 23
    assert [s.hour for s in starts[:4]] == [0, 1, 3, 4]  # 2 a.m. does not exist


def test_messages_per_hour_on_the_spring_sunday(db: Session) -> None:
    sunday = MetricFilter(local(2026, 3, 8), local(2026, 3, 9), Granularity.HOUR, ZONE)
    counts = values(message_volume(db, sunday)["all"])
    assert counts == [0, 4] + [0] * 21  # C3's first four messages, 01:30 EST


def test_the_repeated_autumn_hour_is_two_buckets(db: Session) -> None:
    sunday = MetricFilter(local(2026, 11, 1), local(2026, 11, 2), Granularity.HOUR, ZONE)
    buckets = sunday.buckets
    assert len(buckets) == 25
    assert [b.start.hour for b in buckets[1:3]] == [1, 1] and buckets[2].start_utc == datetime(2026, 11, 1, 6)
    assert values(message_volume(db, sunday)["all"]) == [0, 2, 2] + [0] * 22
    whole_day = MetricFilter(local(2026, 11, 1), local(2026, 11, 2), Granularity.DAY, ZONE)
    assert values(message_volume(db, whole_day)["all"]) == [4]
    assert whole_day.buckets[0].end_utc - whole_day.buckets[0].start_utc == timedelta(hours=25)


def test_weeks_start_on_monday_and_take_the_whole_week(db: Session) -> None:
    weeks = MetricFilter(local(2026, 3, 7), local(2026, 3, 11), Granularity.WEEK, ZONE)
    # the period widens to Mon Mar 2: C0 (Friday) counts
    assert values(conversation_volume(db, weeks)["all"]) == [4, 6]


# -- the bot -----------------------------------------------------------------------------------------------


def test_containment(db: Session) -> None:
    # C9 had no bot reply: not a bot conversation. C7: an agent took over (no escalation): not contained.
    assert values(containment(db, days())) == rates((2, 2), (0, 1), (0, 2), (2, 3))
    assert values(containment(db, days(channel="whatsapp"))) == rates((1, 1), (0, 0), (0, 1), (1, 1))
    assert values(containment(db, days(intent="ask_coverage"))) == rates((1, 1), (0, 0), (0, 1), (0, 0))
    assert containment(db, days())[1].value.value == 0.0
    assert containment(db, days(product="home"))[1].value.value is None  # no bot conversation: no rate, not 0 %


def test_bot_resolution_handoff_wins_thumbs_down_vetoes_and_silence_needs_24_hours(db: Session) -> None:
    # C1 👍, C2 silent for days; C5 had a 👍 but was handed over; C6 👎; C8's last answer is < 24 h old
    assert values(bot_resolution(db, days(), as_of=AS_OF)) == rates((2, 2), (0, 1), (0, 2), (0, 3))
    two_days_later = AS_OF + timedelta(days=2)
    assert values(bot_resolution(db, days(), as_of=two_days_later)) == rates((2, 2), (0, 1), (0, 2), (1, 3))


def test_handoff_rate_by_reason(db: Session) -> None:
    found = {k: values(v) for k, v in handoff_rate(db, days()).items()}
    assert found == {
        "all": rates((0, 2), (1, 1), (2, 2), (1, 3)),
        "complaint": rates((0, 2), (0, 1), (1, 2), (0, 3)),
        "customer_request": rates((0, 2), (0, 1), (1, 2), (0, 3)),
        "fallback": rates((0, 2), (1, 1), (0, 2), (0, 3)),
        "taken_over": rates((0, 2), (0, 1), (0, 2), (1, 3)),
    }


def test_fallback_and_past_reply_rates(db: Session) -> None:
    # customer messages the bot answered: 4, 2, 4, 4 (C3's and C4's messages to agents, and C9's, are not)
    assert values(fallback_rate(db, days())) == rates((0, 4), (1, 2), (0, 4), (0, 4))
    assert values(past_reply_rate(db, days())) == rates((1, 4), (0, 2), (1, 4), (1, 4))
    assert values(past_reply_helpful_rate(db, days())) == rates((1, 1), (0, 0), (1, 1), (0, 1))
    assert values(fallback_rate(db, days(intent="nlu_fallback"))) == rates((0, 0), (1, 2), (0, 0), (0, 0))


def test_recommendation_open_rate_and_the_conversations_behind_it(db: Session) -> None:
    # shown per day: 2 (C1: one opened, twice; one dismissed), 1 (C3), 1 (C4), 2 (C6: one opened); C0's is before
    assert values(recommendation_open_rate(db, days())) == rates((1, 2), (0, 1), (0, 1), (1, 2))
    assert values(recommendation_open_rate(db, days(channel="whatsapp"))) == rates((1, 2), (0, 0), (0, 1), (0, 0))
    assert values(recommendation_open_rate(db, days(product="renters"))) == rates((0, 0), (0, 0), (0, 0), (1, 2))
    d7, d8, d9, d10 = days().buckets
    assert conversation_ids(db, Metric.RECOMMENDATION_OPENS, d10, days(), Part.HITS) == [C6]
    assert conversation_ids(db, Metric.RECOMMENDATION_OPENS, d7, days(), Part.MISSES) == [C1]
    assert conversation_ids(db, Metric.RECOMMENDATION_OPENS, d8, days()) == [C3]


def test_csat_is_the_thumbs_up_share_and_the_survey_is_not_there_yet(db: Session) -> None:
    found = values(csat(db, days()))
    assert [c.thumbs for c in found] == rates((1, 1), (0, 0), (1, 1), (0, 1))
    assert all(c.survey is None for c in found)


def test_sentiment_share(db: Session) -> None:
    found = {k: values(v) for k, v in sentiment_share(db, days()).items()}
    assert found == {
        "negative": rates((0, 4), (1, 2), (2, 8), (2, 5)),
        "neutral": rates((3, 4), (1, 2), (4, 8), (1, 5)),
        "positive": rates((1, 4), (0, 2), (2, 8), (1, 5)),
        "unknown": rates((0, 4), (0, 2), (0, 8), (1, 5)),
    }
    only_coverage = {k: values(v) for k, v in sentiment_share(db, days(intent="ask_coverage")).items()}
    assert only_coverage == {"neutral": rates((1, 1), (0, 0), (1, 1), (0, 0))}


# -- people ------------------------------------------------------------------------------------------------

C3_FIRST_REPLY = 24 * 3600 + 5 * 3600 + 38 * 60 + 59  # Sun 06:31:01 UTC → Mon 12:10:00 UTC
C3_RESOLVED = 24 * 3600 + 5 * 3600 + 58 * 60 + 59  # → Mon 12:30:00 UTC


def test_first_response_time_counts_agents_only_and_skips_the_unanswered(db: Session) -> None:
    # C4's handoff message is the bot's: the clock runs to the agent's reply 3 minutes later. C5: unanswered.
    found = first_response_time(db, days(), as_of=AS_OF)
    assert values(found) == [none(), one(C3_FIRST_REPLY), one(180.0), none()]


def test_first_response_time_in_business_hours(db: Session) -> None:
    # C3 was handed over on a Sunday night; the team opened at 8:00 EDT Monday and replied at 8:10
    found = first_response_time(db, days(), hours=HOURS, as_of=AS_OF)
    assert values(found) == [none(), one(600.0), one(180.0), none()]


def test_reply_time_from_the_first_waiting_message(db: Session) -> None:
    # C3: customer 12:15, agent 12:20 → 300 s; C4: customer 15:04 and 15:05, agent 15:06 → 120 s; C4's
    # 15:06:30 follows its own reply (nobody waiting); first replies after a handoff are first response time
    found = approx(values(reply_time(db, days(), as_of=AS_OF)))
    assert found == [(0, None, None, None), (0, None, None, None), (2, 210.0, 210.0, 282.0), (0, None, None, None)]
    assert approx(values(reply_time(db, days(), hours=HOURS, as_of=AS_OF)))[2] == (2, 210.0, 210.0, 282.0)


def test_resolution_time_by_the_day_it_was_resolved(db: Session) -> None:
    found = approx(values(resolution_time(db, days(), as_of=AS_OF)))
    p90 = 600 + 0.9 * (C3_RESOLVED - 600)
    assert found[2] == (2, (600 + C3_RESOLVED) / 2, (600 + C3_RESOLVED) / 2, round(p90, 3))
    assert found[1] == (0, None, None, None)
    business = approx(values(resolution_time(db, days(), hours=HOURS, as_of=AS_OF)))
    assert business[2] == (2, 1200.0, 1200.0, 1680.0)  # C3: 8:00-8:30 EDT Monday; C4: 600 s


def test_sla_met_share(db: Session) -> None:
    # C3 (p2, 15 min) answered after 29 h; C4 (p1, 5 min) in 3 min; C5 (p3, 60 min) still waiting after 44 h
    assert values(sla_met(db, days(), SLA_MINUTES, as_of=AS_OF)) == rates((0, 0), (0, 1), (1, 2), (0, 0))
    # in business time C3 waited 10 minutes
    assert values(sla_met(db, days(), SLA_MINUTES, hours=HOURS, as_of=AS_OF)) == rates((0, 0), (1, 1), (1, 2), (0, 0))
    # 28 minutes after C5's handoff its SLA is still running: not counted either way
    early = datetime(2026, 3, 9, 16, 30)
    assert values(sla_met(db, days(), SLA_MINUTES, as_of=early))[2] == Rate(1, 1)


# -- drill-down --------------------------------------------------------------------------------------------


def ids(db: Session, metric: Metric, day: int, part: Part = Part.ALL, filt: Optional[MetricFilter] = None, **kw):  # type: ignore[no-untyped-def]
    filt = filt or days()
    return conversation_ids(db, metric, filt.buckets[day], filt, part, as_of=AS_OF, **kw)


def test_drill_down_lists_the_conversations_behind_a_point(db: Session) -> None:
    assert ids(db, Metric.CONVERSATIONS, 0) == sorted([C1, C2])
    assert ids(db, Metric.CONVERSATIONS, 0, category="telegram", by="channel") == [C2]
    assert ids(db, Metric.MESSAGES, 2, category="agent", by="author") == sorted([C3, C4])
    assert ids(db, Metric.CONTAINMENT, 3) == sorted([C6, C7, C8])
    assert ids(db, Metric.CONTAINMENT, 3, Part.HITS) == sorted([C6, C8])
    assert ids(db, Metric.CONTAINMENT, 3, Part.MISSES) == [C7]
    assert ids(db, Metric.BOT_RESOLUTION, 0, Part.HITS) == sorted([C1, C2])
    assert ids(db, Metric.HANDOFF, 2, category="complaint") == [C4]
    assert ids(db, Metric.FIRST_RESPONSE, 1) == [C3]
    assert ids(db, Metric.REPLY_TIME, 2) == sorted([C3, C4])
    assert ids(db, Metric.RESOLUTION_TIME, 2) == sorted([C3, C4])
    assert ids(db, Metric.SLA, 2, Part.MISSES, sla_minutes=SLA_MINUTES) == [C5]
    assert ids(db, Metric.SLA, 1, Part.HITS, sla_minutes=SLA_MINUTES, hours=HOURS) == [C3]
    assert ids(db, Metric.CSAT, 3, Part.MISSES) == [C6]
    assert ids(db, Metric.FALLBACK, 1, Part.HITS) == [C3]
    assert ids(db, Metric.PAST_REPLY, 2, Part.HITS) == [C5]
    assert ids(db, Metric.PAST_REPLY_HELPFUL, 0, Part.HITS) == [C1]
    assert ids(db, Metric.SENTIMENT, 2, category="negative") == sorted([C3, C4])


def test_drill_down_keeps_the_filter_and_the_local_day(db: Session) -> None:
    assert ids(db, Metric.CONVERSATIONS, 0, filt=days(product="home")) == [C2]
    week = MetricFilter(local(2026, 3, 7), local(2026, 3, 11), Granularity.WEEK, ZONE)
    assert ids(db, Metric.CONVERSATIONS, 0, filt=week) == sorted([C0, C1, C2, C3])


def test_the_drill_down_and_the_point_count_the_same_conversations(db: Session) -> None:
    rates_by_metric = {
        Metric.CONTAINMENT: containment(db, days()),
        Metric.BOT_RESOLUTION: bot_resolution(db, days(), as_of=AS_OF),
    }
    for metric, series in rates_by_metric.items():
        for day, point in enumerate(series):
            assert len(ids(db, metric, day)) == point.value.denominator, (metric, day)
            assert len(ids(db, metric, day, Part.HITS)) == point.value.numerator, (metric, day)
    for channel, series in conversation_volume(db, days(), by="channel").items():
        for day, point in enumerate(series):
            assert len(ids(db, Metric.CONVERSATIONS, day, category=channel, by="channel")) == point.value


def business_time(db: Session, start: datetime, stop: datetime) -> float:
    window = (start - timedelta(days=1), stop + timedelta(days=1))
    moments = literal(start, DateTime()), literal(stop, DateTime())
    return round(float(db.scalar(select(business_seconds(*moments, HOURS, window, dialect_of(db))))), 3)


def test_business_time_skips_nights_weekends_and_the_daylight_saving_jump(db: Session) -> None:
    # Fri 19:50 EST → Mon 08:10 EDT across the spring change: 10 min on Friday, 10 on Monday (Sat 9-14 too)
    friday, monday = datetime(2026, 3, 7, 0, 50), datetime(2026, 3, 9, 12, 10)
    assert business_time(db, friday, monday) == 20 * 60 + 5 * 3600
    # a whole week is the weekly total: 5 × 12 h + 5 h
    assert business_time(db, datetime(2026, 3, 2, 5), datetime(2026, 3, 9, 4)) == 65 * 3600
    # inside one opening span it is the wall-clock time
    assert business_time(db, datetime(2026, 3, 10, 14), datetime(2026, 3, 10, 14, 7, 30)) == 450.0


def test_a_drill_down_that_does_not_fit_the_metric_says_so(db: Session) -> None:
    with pytest.raises(ValueError, match="not a rate"):
        ids(db, Metric.HANDOFF, 2, Part.HITS)
    with pytest.raises(ValueError, match="no categories"):
        ids(db, Metric.CONTAINMENT, 2, category="complaint")
    with pytest.raises(ValueError, match="sla_minutes"):
        ids(db, Metric.SLA, 2)
