"""Business hours (SERVICE_HOURS) and the intent filter's choices in the analytics API, on SQLite and
PostgreSQL, over the hand-written log of tests/support/analytics_fixtures.py (New York, Sat 7 to Tue 10
March 2026).

C3 (facebook) was handed over on Sunday 8 March at 06:31:01 UTC, 01:31 at night in New York, and first
answered on Monday at 12:10 UTC, 08:10 EDT: 29 hours on the calendar, but the team ("Mon-Fri 8am-8pm ET,
Sat 9am-2pm ET") was at work for 10 minutes of them. C4 (whatsapp) was answered in 3 minutes on a Monday
afternoon, in business hours either way.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator

import pytest

from inbox.main import create_app
from inbox.services.agents import create_agent
from settings.service_hours import service_hours
from storage.engine import session_scope
from storage.migrate import upgrade
from tests.support.analytics_fixtures import ZONE, write_fixture
from tests.support.databases import migrated_sqlite, postgres_answers, postgres_database
from tests.support.inbox import PASSWORDS, LoggedIn, login, make_settings

PERIOD = "start=2026-03-07&end=2026-03-11"
C3_CALENDAR = 24 * 3600 + 5 * 3600 + 38 * 60 + 59  # Sun 06:31:01 UTC → Mon 12:10:00 UTC
NO_RASA = "http://127.0.0.1:9"  # the analytics routes never call Rasa


def _fill(url: str) -> str:
    with session_scope(url) as db:
        write_fixture(db)
        create_agent(db, "agent@harbor.example", "Agent", "agent", PASSWORDS["agent"])
    return url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def log_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield _fill(migrated_sqlite(tmp_path_factory.mktemp("analytics-hours") / "log.db"))
        return
    if not postgres_answers():
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    for url in postgres_database():
        upgrade(url)
        yield _fill(url)


@pytest.fixture(scope="module")
def agent(log_url: str) -> LoggedIn:
    """The inbox with the default SERVICE_HOURS, the fact sheet's."""
    return login(create_app(make_settings(log_url, NO_RASA, analytics_timezone=ZONE)), "agent")


def get(who: LoggedIn, path: str, expect: int = 200, **params: Any) -> Dict[str, Any]:
    query = "".join(f"&{k}={v}" for k, v in params.items())
    response = who.get(f"/api/analytics/{path}?{PERIOD}{query}")
    assert response.status_code == expect, response.text
    return response.json()


def one(seconds: float) -> Dict[str, Any]:
    return {"count": 1, "mean": seconds, "median": seconds, "p90": seconds}


NONE = {"count": 0, "mean": None, "median": None, "p90": None}


def test_first_response_over_a_night_and_a_sunday_counts_only_the_teams_hours(agent: LoggedIn) -> None:
    calendar = get(agent, "series", metric="first_response")
    business = get(agent, "series", metric="first_response", business_hours="true")
    # by the handoff's day: C3's on Sunday 8 March, C4's on Monday 9 March
    assert calendar["series"][0]["values"] == [NONE, one(C3_CALENDAR), one(180.0), NONE]
    assert business["series"][0]["values"] == [NONE, one(600.0), one(180.0), NONE]
    assert business["business_hours"] is True and business["label"] == "First response time, business hours"
    assert calendar["business_hours"] is False


def test_resolution_time_and_sla_in_business_hours(agent: LoggedIn) -> None:
    # C3 resolved 8:30 EDT Monday (1,200 s of work since Saturday's close), C4 in 600 s
    resolved = get(agent, "series", metric="resolution_time", business_hours="true")["series"][0]["values"]
    assert resolved[2]["count"] == 2 and resolved[2]["mean"] == pytest.approx(1200.0)
    # on the team's clock C3 was answered within its 15 minutes
    sla = get(agent, "series", metric="sla", business_hours="true")["series"][0]["values"]
    assert [(v["numerator"], v["denominator"]) for v in sla] == [(0, 0), (1, 1), (1, 2), (0, 0)]


def test_summary_shows_both_clocks(agent: LoggedIn) -> None:
    found = get(agent, "summary")
    assert found["first_response"] == {"count": 2, "mean": (C3_CALENDAR + 180) / 2}
    assert found["first_response_business_hours"] == {"count": 2, "mean": (600 + 180) / 2}
    assert found["resolution_time_business_hours"]["count"] == 2


def test_service_hours_setting_decides_what_counts(log_url: str) -> None:
    # a team that starts at 9am ET had not started when C3's reply came at 8:10 EDT: no business time waited
    late_team = make_settings(
        log_url, NO_RASA, analytics_timezone=ZONE, service_hours=service_hours("Mon-Fri 9am-5pm ET")
    )
    who = login(create_app(late_team), "agent")
    values = get(who, "series", metric="first_response", business_hours="true")["series"][0]["values"]
    assert values[1] == one(0.0)
    catalogue = get(who, "metrics")
    assert catalogue["service_hours"]["timezone"] == "America/New_York"
    assert [d["day"] for d in catalogue["service_hours"]["days"]] == [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
    ]
    assert catalogue["service_hours"]["days"][0] == {"day": "monday", "opens": "09:00", "closes": "17:00"}


def test_the_catalogue_says_which_metrics_have_a_business_hours_variant(agent: LoggedIn) -> None:
    flags = {m["metric"]: m["business_hours"] for m in get(agent, "metrics")["metrics"]}
    assert {m for m, yes in flags.items() if yes} == {"first_response", "reply_time", "resolution_time", "sla"}


def test_business_hours_on_a_metric_without_durations_is_refused_with_the_reason(agent: LoggedIn) -> None:
    found = get(agent, "series", expect=422, metric="containment", business_hours="true")
    assert "no business-hours variant" in str(found)


def test_the_intent_filter_offers_the_intents_seen_most_frequent_first(agent: LoggedIn) -> None:
    found = get(agent, "intents")
    seen = [(i["intent"], i["messages"]) for i in found["intents"]]
    assert seen == [
        ("complain", 3),
        ("affirm", 2),
        ("ask_coverage", 2),
        ("ask_deductible", 2),
        ("greet", 2),
        ("inform", 2),
        ("nlu_fallback", 2),
        ("claim_status", 1),
        ("deny", 1),
        ("request_human", 1),
        ("thank", 1),
    ]
    # a channel narrows the choices; the chosen intent does not (the list is what it is chosen from)
    on_whatsapp = {i["intent"]: i["messages"] for i in get(agent, "intents", channel="whatsapp")["intents"]}
    assert on_whatsapp and sum(on_whatsapp.values()) < 19
    assert all(n <= dict(seen)[name] for name, n in on_whatsapp.items())
    assert get(agent, "intents", intent="greet")["intents"] == found["intents"]
    # a period with no customer messages offers none
    april = agent.get("/api/analytics/intents?start=2026-04-01&end=2026-04-02")
    assert april.status_code == 200 and april.json()["intents"] == []
