"""The analytics API (issue 17, item 2) on SQLite and PostgreSQL, over the hand-written log of
tests/support/analytics_fixtures.py, whose every value is worked out in tests/analytics/test_metrics.py.

The insurer is in New York (ANALYTICS_TIMEZONE); the period is Sat 7 to Tue 10 March 2026, across the start
of daylight saving time. "Now" is the real clock, long after the fixture, so every 24-hour silence has
passed (bot resolution's "two days later" values) and C5's unanswered handoff is a breached SLA.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from typing import Any, Dict, Iterator, List
from zoneinfo import ZoneInfo

import pytest
from fastapi.routing import APIRoute

from analytics import Granularity, Metric, MetricFilter, Point, Rate
from inbox.main import create_app
from inbox.services import analytics as service
from inbox.services.agents import create_agent
from settings import PROJECT_ROOT, SettingsError, load
from storage.engine import session_scope
from storage.migrate import upgrade
from tests.support.analytics_fixtures import C2, C3, C4, C5, C6, C7, C8, ZONE, write_fixture
from tests.support.databases import migrated_sqlite, postgres_answers, postgres_database
from tests.support.inbox import PASSWORDS, LoggedIn, client_for, login, make_settings

PERIOD = "start=2026-03-07&end=2026-03-11"
C3_FIRST_REPLY = 24 * 3600 + 5 * 3600 + 38 * 60 + 59  # Sun 06:31:01 UTC → Mon 12:10:00 UTC
NO_RATE_URL = "http://127.0.0.1:9"  # the analytics routes never call Rasa


def _fill(url: str) -> str:
    with session_scope(url) as db:
        write_fixture(db)
        for role in ("admin", "agent"):
            create_agent(db, f"{role}@harbor.example", role.title(), role, PASSWORDS[role])
    return url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def log_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield _fill(migrated_sqlite(tmp_path_factory.mktemp("analytics-api") / "log.db"))
        return
    if not postgres_answers():
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    for url in postgres_database():
        upgrade(url)
        yield _fill(url)


@pytest.fixture(scope="module")
def app(log_url: str):  # type: ignore[no-untyped-def]
    return create_app(make_settings(log_url, NO_RATE_URL, analytics_timezone=ZONE))


@pytest.fixture(scope="module")
def agent(app) -> LoggedIn:  # type: ignore[no-untyped-def]
    return login(app, "agent")


def get(who: LoggedIn, path: str, **params: Any) -> Dict[str, Any]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = who.get(f"/api/analytics/{path}?{PERIOD}" + (f"&{query}" if query else ""))
    assert response.status_code == 200, response.text
    return response.json()


def lines(found: Dict[str, Any]) -> Dict[str, List[Any]]:
    return {line["category"]: line["values"] for line in found["series"]}


def rates(*pairs: tuple) -> List[Dict[str, Any]]:
    return [{"value": n / d if d else None, "numerator": n, "denominator": d} for n, d in pairs]


# -- series ------------------------------------------------------------------------------------------------


def test_the_buckets_are_new_york_days(agent: LoggedIn) -> None:
    found = get(agent, "series", metric="conversations")
    assert found["timezone"] == ZONE and found["granularity"] == "day" and found["kind"] == "count"
    assert [b["start"] for b in found["buckets"]] == [
        "2026-03-07T00:00:00-05:00",
        "2026-03-08T00:00:00-05:00",
        "2026-03-09T00:00:00-04:00",  # Sunday had 23 hours
        "2026-03-10T00:00:00-04:00",
    ]
    assert [b["label"] for b in found["buckets"]] == [
        "Sat 7 Mar 2026",
        "Sun 8 Mar 2026",
        "Mon 9 Mar 2026",
        "Tue 10 Mar 2026",
    ]
    assert lines(found) == {"all": [2, 1, 2, 4]}  # C2 at 04:30 UTC on the 8th is the 7th in New York


def test_volumes_broken_down_and_filtered(agent: LoggedIn) -> None:
    assert lines(get(agent, "series", metric="conversations", by="channel")) == {
        "facebook": [0, 1, 0, 0],
        "instagram": [0, 0, 0, 1],
        "telegram": [1, 0, 1, 0],
        "twitter": [0, 0, 0, 1],
        "wechat": [0, 0, 0, 1],
        "whatsapp": [1, 0, 1, 1],
    }
    assert lines(get(agent, "series", metric="conversations", product="auto")) == {"all": [1, 0, 1, 0]}
    assert lines(get(agent, "series", metric="conversations", intent="ask_coverage")) == {"all": [1, 0, 1, 0]}
    assert lines(get(agent, "series", metric="messages", by="author")) == {
        "agent": [0, 0, 5, 1],
        "bot": [4, 2, 4, 4],
        "customer": [4, 2, 8, 5],
    }


def test_rates_keep_numerator_and_denominator_and_no_rate_is_null(agent: LoggedIn) -> None:
    assert lines(get(agent, "series", metric="containment")) == {"all": rates((2, 2), (0, 1), (0, 2), (2, 3))}
    whatsapp = lines(get(agent, "series", metric="containment", channel="whatsapp"))["all"]
    assert whatsapp == rates((1, 1), (0, 0), (0, 1), (1, 1)) and whatsapp[1]["value"] is None
    # C8's 24 hours of silence are long past
    assert lines(get(agent, "series", metric="bot_resolution")) == {"all": rates((2, 2), (0, 1), (0, 2), (1, 3))}
    assert lines(get(agent, "series", metric="handoff")) == {
        "all": rates((0, 2), (1, 1), (2, 2), (1, 3)),
        "complaint": rates((0, 2), (0, 1), (1, 2), (0, 3)),
        "customer_request": rates((0, 2), (0, 1), (1, 2), (0, 3)),
        "fallback": rates((0, 2), (1, 1), (0, 2), (0, 3)),
        "taken_over": rates((0, 2), (0, 1), (0, 2), (1, 3)),
    }
    assert lines(get(agent, "series", metric="sla")) == {"all": rates((0, 0), (0, 1), (1, 2), (0, 0))}
    assert lines(get(agent, "series", metric="csat")) == {"all": rates((1, 1), (0, 0), (1, 1), (0, 1))}
    assert lines(get(agent, "series", metric="fallback")) == {"all": rates((0, 4), (1, 2), (0, 4), (0, 4))}
    assert lines(get(agent, "series", metric="sentiment"))["negative"] == rates((0, 4), (1, 2), (2, 8), (2, 5))


def test_durations_in_seconds(agent: LoggedIn) -> None:
    found = lines(get(agent, "series", metric="first_response"))["all"]
    empty = {"count": 0, "mean": None, "median": None, "p90": None}
    assert found == [
        empty,
        {"count": 1, "mean": C3_FIRST_REPLY, "median": C3_FIRST_REPLY, "p90": C3_FIRST_REPLY},
        {"count": 1, "mean": 180.0, "median": 180.0, "p90": 180.0},
        empty,
    ]


def test_weeks_and_hours(agent: LoggedIn) -> None:
    weeks = get(agent, "series", metric="conversations", granularity="week")
    assert [b["label"] for b in weeks["buckets"]] == ["week of 2 Mar 2026", "week of 9 Mar 2026"]
    assert lines(weeks) == {"all": [4, 6]}  # widened to Monday 2 March: C0 counts
    sunday = agent.get("/api/analytics/series?metric=messages&granularity=hour&start=2026-03-08&end=2026-03-09").json()
    assert len(sunday["buckets"]) == 23 and sunday["buckets"][2]["label"] == "Sun 8 Mar 03:00 EDT"
    assert lines(sunday)["all"][:3] == [0, 4, 0]


def test_the_zone_comes_from_the_settings(log_url: str) -> None:
    utc_app = create_app(make_settings(log_url, NO_RATE_URL))  # ANALYTICS_TIMEZONE's default, UTC
    found = get(login(utc_app, "agent"), "series", metric="conversations")
    assert found["timezone"] == "UTC" and found["buckets"][0]["start"] == "2026-03-07T00:00:00+00:00"
    assert lines(found) == {"all": [1, 2, 2, 4]}  # C2 is on the 8th in UTC


# -- the headline figures ----------------------------------------------------------------------------------


def test_summary_totals_the_period(agent: LoggedIn) -> None:
    found = get(agent, "summary")
    assert (found["conversations"], found["messages"]) == (9, 39)
    assert found["containment"] == rates((4, 8))[0]
    assert found["bot_resolution"] == rates((3, 8))[0]
    assert found["handoff"] == rates((4, 8))[0]
    assert found["first_response"] == {"count": 2, "mean": (C3_FIRST_REPLY + 180) / 2}
    assert found["sla"] == rates((1, 3))[0]
    assert found["csat"] == rates((2, 3))[0]
    assert found["fallback"] == rates((1, 14))[0]
    assert found["negative_sentiment"] == rates((5, 19))[0]
    assert (found["start"], found["end"]) == ("2026-03-07T00:00:00-05:00", "2026-03-11T00:00:00-04:00")


# -- drill-down --------------------------------------------------------------------------------------------


def drill(who: LoggedIn, metric: str, day: str, **params: Any) -> List[str]:
    found = get(who, "drilldown", metric=metric, bucket=f"2026-03-{day}T00:00:00", **params)
    return [c["id"] for c in found["conversations"]]


def test_drill_down_lists_the_conversations_behind_a_point(agent: LoggedIn) -> None:
    assert drill(agent, "containment", "10") == sorted([C6, C7, C8])
    assert drill(agent, "containment", "10", part="misses") == [C7]
    assert drill(agent, "conversations", "07", by="channel", category="telegram") == [C2]
    assert drill(agent, "handoff", "09", category="complaint") == [C4]
    assert drill(agent, "handoff", "09", part="hits") == sorted([C4, C5])  # the "all" series: handed over
    assert drill(agent, "sla", "09", part="misses") == [C5]
    assert drill(agent, "first_response", "08") == [C3]
    assert drill(agent, "sentiment", "09", category="negative") == sorted([C3, C4])
    found = get(agent, "drilldown", metric="containment", bucket="2026-03-10", part="misses")
    assert found["bucket"]["label"] == "Tue 10 Mar 2026" and found["truncated"] is False
    assert found["conversations"] == [
        {
            "id": C7,
            "channel": "twitter",
            "status": "open",
            "started_at": "2026-03-10T14:00:00+00:00",
            "last_message_at": "2026-03-10T14:05:00+00:00",
        }
    ]


def test_drill_down_keeps_the_filters_and_says_when_it_is_cut(agent: LoggedIn) -> None:
    assert drill(agent, "conversations", "09", channel="whatsapp") == [C4]
    cut = get(agent, "drilldown", metric="conversations", bucket="2026-03-10T00:00:00-04:00", limit=2)
    assert len(cut["conversations"]) == 2 and cut["truncated"] is True


# -- CSV ---------------------------------------------------------------------------------------------------


def csv_rows(who: LoggedIn, **params: Any) -> List[List[str]]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = who.get(f"/api/analytics/series.csv?{PERIOD}&{query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="coverline-')
    return list(csv.reader(io.StringIO(response.text)))


def test_csv_of_a_rate_has_numbers_and_leaves_no_rate_empty(agent: LoggedIn) -> None:
    rows = csv_rows(agent, metric="containment", channel="whatsapp")
    assert rows == [
        ["bucket_start", "bucket_end", "category", "rate", "numerator", "denominator"],
        ["2026-03-07T00:00:00-05:00", "2026-03-08T00:00:00-05:00", "all", "1.0", "1", "1"],
        ["2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00", "all", "", "0", "0"],
        ["2026-03-09T00:00:00-04:00", "2026-03-10T00:00:00-04:00", "all", "0.0", "0", "1"],
        ["2026-03-10T00:00:00-04:00", "2026-03-11T00:00:00-04:00", "all", "1.0", "1", "1"],
    ]


def test_csv_of_counts_and_durations(agent: LoggedIn) -> None:
    rows = csv_rows(agent, metric="conversations", by="product")
    assert rows[0] == ["bucket_start", "bucket_end", "category", "count"]
    assert [(r[2], int(r[3])) for r in rows[1:] if r[0].startswith("2026-03-07")] == [
        ("auto", 1),
        ("home", 1),
        ("renters", 0),
        ("travel", 0),
    ]
    durations = csv_rows(agent, metric="first_response")
    assert durations[0][3:] == ["count", "mean_seconds", "median_seconds", "p90_seconds"]
    assert durations[1][3:] == ["0", "", "", ""]
    assert [float(v) for v in durations[3][3:]] == [1, 180, 180, 180]


def test_csv_cells_a_spreadsheet_would_run_are_quoted_as_text() -> None:
    filt = MetricFilter(
        service.parse_moment("start", "2026-03-07", ZoneInfo(ZONE)),
        service.parse_moment("end", "2026-03-08", ZoneInfo(ZONE)),
        Granularity.DAY,
        ZONE,
    )
    found = {'=HYPERLINK("http://evil")': [Point(filt.buckets[0], Rate(1, 3))]}
    rows = list(csv.reader(io.StringIO(service.series_csv(Metric.SENTIMENT, filt, found))))
    assert rows[1][2] == '\'=HYPERLINK("http://evil")' and rows[1][3:] == ["0.333333", "1", "3"]


# -- who may ask, and what is refused ----------------------------------------------------------------------


def analytics_routes(app) -> List[APIRoute]:  # type: ignore[no-untyped-def]
    return [r for r in app.routes if isinstance(r, APIRoute) and r.path.startswith("/api/analytics")]


def test_every_route_wants_a_login_and_only_reads(app, agent: LoggedIn) -> None:  # type: ignore[no-untyped-def]
    routes = analytics_routes(app)
    assert sorted(r.path for r in routes) == [
        "/api/analytics/drilldown",
        "/api/analytics/intents",
        "/api/analytics/metrics",
        "/api/analytics/series",
        "/api/analytics/series.csv",
        "/api/analytics/summary",
    ]
    anonymous = client_for(app)
    for route in routes:
        assert route.methods == {"GET"}, route.path  # nothing changes state: no CSRF token to check
        response = anonymous.get(f"{route.path}?metric=containment&bucket=2026-03-07")
        assert response.status_code == 401, route.path
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert anonymous.post(route.path).status_code in (401, 405)
    # a cookie session reads without the CSRF header (a GET changes nothing), as every inbox GET does
    assert agent.client.get(f"/api/analytics/summary?{PERIOD}").status_code == 200
    page = agent.get("/analytics")
    assert page.status_code == 200 and "/vendor/chart.js/chart.umd.js" in page.text and 'href="/analytics"' in page.text
    assert "/login" in anonymous.get("/analytics", follow_redirects=False).headers["location"]


def test_admins_and_api_tokens_read_too(app) -> None:  # type: ignore[no-untyped-def]
    admin = login(app, "admin")
    assert get(admin, "summary")["conversations"] == 9
    token = admin.post("/api/auth/tokens", json={"label": "dashboard"}).json()["token"]
    bearer = client_for(app).get(f"/api/analytics/summary?{PERIOD}", headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 200 and bearer.json()["messages"] == 39


@pytest.mark.parametrize(
    "query, says",
    [
        ("series?metric=nope", "metric"),
        ("series?metric=containment&start=2026-13-01", "is not a date"),
        ("series?metric=containment&start=2026-03-10&end=2026-03-01", "must end after it starts"),
        ("series?metric=containment&granularity=hour&start=2024-01-01&end=2026-01-01", "more than 5000 hours"),
        ("series?metric=containment&granularity=month", "granularity"),
        ("series?metric=containment&start=9999-12-31", "outside the years"),
        ("series?metric=containment&by=author", "cannot be broken down by 'author'"),
        ("series?metric=conversations&by=colour", "by"),
        ("series?metric=conversations&channel=what%20sapp", "channel"),
        ("series?metric=conversations&intent=" + "x" * 81, "intent"),
        ("series.csv?metric=nope", "metric"),
        ("summary?end=yesterday", "is not a date"),
        ("drilldown?metric=containment", "bucket"),
        ("drilldown?metric=containment&bucket=2026-04-01&start=2026-03-07&end=2026-03-11", "not in the chart's period"),
        ("drilldown?metric=conversations&bucket=2026-03-07&start=2026-03-07&part=hits", "not a rate"),
        ("drilldown?metric=containment&bucket=2026-03-07&start=2026-03-07&category=complaint", "no categories"),
        ("drilldown?metric=containment&bucket=2026-03-07&limit=0", "limit"),
        ("drilldown?metric=containment&bucket=2026-03-07&limit=501", "limit"),
    ],
)
def test_bad_parameters_are_a_422_with_the_reason(agent: LoggedIn, query: str, says: str) -> None:
    response = agent.get(f"/api/analytics/{query}")
    assert response.status_code == 422, response.text
    assert says in response.json()["detail"]


def test_the_api_is_in_the_openapi_document(agent: LoggedIn) -> None:
    paths = agent.get("/api/openapi.json").json()["paths"]
    for path in ("series", "series.csv", "summary", "drilldown", "metrics", "intents"):
        assert "get" in paths[f"/api/analytics/{path}"], path
    assert "text/csv" in paths["/api/analytics/series.csv"]["get"]["responses"]["200"]["content"]
    parameters = {p["name"] for p in paths["/api/analytics/series"]["get"]["parameters"]}
    assert {
        "metric",
        "by",
        "start",
        "end",
        "granularity",
        "channel",
        "product",
        "intent",
        "business_hours",
    } <= parameters
    assert paths["/api/analytics/drilldown"]["get"]["responses"]["200"]["content"]["application/json"]


def test_the_metrics_catalogue(agent: LoggedIn) -> None:
    found = agent.get("/api/analytics/metrics").json()
    assert found["timezone"] == ZONE
    assert [m["metric"] for m in found["metrics"]] == [m.value for m in Metric]
    assert "whatsapp" in found["channels"] and "auto" in found["products"]


# -- the setting -------------------------------------------------------------------------------------------


def test_analytics_timezone_is_read_once_and_checked() -> None:
    assert load({}).analytics.timezone == "UTC"
    assert load({"ANALYTICS_TIMEZONE": "Europe/Berlin"}).for_inbox().analytics_timezone == "Europe/Berlin"
    with pytest.raises(SettingsError, match="ANALYTICS_TIMEZONE='Mars/Olympus_Mons': expected an IANA time zone"):
        load({"ANALYTICS_TIMEZONE": "Mars/Olympus_Mons"})


def test_the_inbox_does_not_start_with_a_bad_zone() -> None:
    env = {**os.environ, "ANALYTICS_TIMEZONE": "../etc/passwd"}
    result = subprocess.run(
        [sys.executable, "-m", "inbox", "serve", "--port", "1"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "configuration error: ANALYTICS_TIMEZONE='../etc/passwd': expected an IANA time zone name" in result.stderr


# -- Chart.js, served by the inbox -------------------------------------------------------------------------


def test_chart_js_is_served_from_the_npm_package_and_nothing_else(app, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from inbox.web import chart_assets

    client = client_for(app)
    script = client.get("/vendor/chart.js/chart.umd.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("application/javascript")
    assert b"Chart.js v4" in script.content[:400]
    assert client.get("/vendor/chart.js/chart.umd.js.map").status_code == 404
    assert client.get("/vendor/chart.js/..%2Fpackage.json").status_code == 404
    monkeypatch.setattr(chart_assets, "VENDOR_DIR", tmp_path)
    missing = client.get("/vendor/chart.js/chart.umd.js")
    assert missing.status_code == 503 and "make install" in missing.text
