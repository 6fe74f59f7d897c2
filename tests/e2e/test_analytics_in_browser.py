"""Issue 17's analytics page in Debian's Chromium (Playwright, headless) against the real inbox under uvicorn.

A month of seeded traffic (tests/support/analytics_month.py: ~1,100 conversations on six channels, an outage
day in the middle) is written to a fresh SQLite database; a team lead opens /analytics for that month in
New York time. The page must load with no console error and no failed request, fill the KPI tiles, draw
every chart from the locally served Chart.js (a canvas with data), and a click on a point of the
containment chart must list exactly the conversations the point counted, each linking to the
conversation in the inbox. The screenshot is docs/analytics-page.png (the README shows it).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Dict, Iterator, List
from zoneinfo import ZoneInfo

import pytest
import uvicorn

from inbox.main import create_app
from inbox.settings import Settings
from storage.engine import session_scope
from tests.support.analytics_month import month_of_traffic, write_month
from tests.support.inbox import PASSWORDS, FakeRasaApi, make_settings
from tests.support.inbox_fixtures import agents, cheap_password_hashing, db_url, fake_rasa  # noqa: F401 (fixtures)
from tests.support.network import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "analytics-page.png"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "analytics"
ZONE = "America/New_York"
CHARTS = [
    "conversations",
    "containment",
    "bot_resolution",
    "handoff",
    "first_response",
    "sla",
    "sentiment",
    "csat",
    "fallback",
    "recommendation_opens",
]
playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")


@pytest.fixture
def settings(db_url: str, fake_rasa: FakeRasaApi) -> Settings:  # noqa: F811 (the inbox's, in New York)
    return make_settings(db_url, fake_rasa.url, analytics_timezone=ZONE)


@pytest.fixture
def server_url(settings: Settings, agents: Dict[str, int]) -> Iterator[str]:  # noqa: F811
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", ws="none")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def month(db_url: str) -> Dict[str, str]:  # noqa: F811
    """The 30 New York days up to yesterday, written to the inbox's database; the page's from/to."""
    last_day = datetime.now(ZoneInfo(ZONE)).date() - timedelta(days=1)
    chats = month_of_traffic(last_day, ZONE)
    with session_scope(db_url) as db:
        write_month(db, chats)
    return {"from": (last_day - timedelta(days=29)).isoformat(), "to": last_day.isoformat(), "chats": str(len(chats))}


def chart_state(page: Any, metric: str) -> Dict[str, Any]:
    """What Chart.js drew on the metric's canvas: points per dataset and where the biggest one is."""
    return page.evaluate(
        """(metric) => {
            const chart = Chart.getChart(document.getElementById(`chart-${metric}`));
            if (!chart) return null;
            const sets = chart.data.datasets.map((set) => set.data.filter((v) => v !== null).length);
            return { labels: chart.data.labels.length, sets };
        }""",
        metric,
    )


def busiest_point(page: Any, metric: str) -> Dict[str, Any]:
    """The containment point with the most bot conversations, and its pixel position on the canvas."""
    return page.evaluate(
        """(metric) => {
            const chart = Chart.getChart(document.getElementById(`chart-${metric}`));
            const set = chart.data.datasets[0];
            let best = 0;
            set.raw.forEach((r, i) => { if (r.denominator > set.raw[best].denominator) best = i; });
            const element = chart.getDatasetMeta(0).data[best];
            return { index: best, x: element.x, y: element.y, ...set.raw[best], label: chart.data.labels[best] };
        }""",
        metric,
    )


def test_the_analytics_page_charts_a_month_and_drills_down(server_url: str, month: Dict[str, str]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: List[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        try:
            page.goto(f"{server_url}/analytics?from={month['from']}&to={month['to']}")
            assert "/login" in page.url
            page.fill("input[name=email]", "admin@harbor.example")
            page.fill("input[name=password]", PASSWORDS["admin"])
            page.click("button[type=submit]")
            page.wait_for_selector("body[data-analytics-loaded=true]", timeout=60_000)

            # the tiles: every conversation of the month, and rates with their counts
            tiles = page.locator("#an-tiles")
            assert tiles.locator('[data-kpi="conversations"] .an-tile-value').inner_text() == f"{int(month['chats']):,}"
            assert "%" in tiles.locator('[data-kpi="containment"] .an-tile-value').inner_text()
            assert page.locator("nav a[href='/analytics']").count() == 1

            # every chart drawn by Chart.js, 30 days each, with data
            for metric in CHARTS:
                state = chart_state(page, metric)
                assert state is not None, metric
                assert state["labels"] == 30, (metric, state)
                assert max(state["sets"]) >= 20, (metric, state)  # a point on (nearly) every day
            assert page.locator("canvas").count() == len(CHARTS)

            # a click on the busiest day's containment point lists exactly the conversations it counted
            point = busiest_point(page, "containment")
            box = page.locator("#chart-containment").bounding_box()
            page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
            page.wait_for_selector("#an-drill:not([hidden]) #an-drill-rows tr", timeout=20_000)
            assert point["label"] in page.locator("#an-drill-title").inner_text()
            assert page.locator("#an-drill-rows tr").count() == point["denominator"]
            page.click('#an-drill-parts button[data-part="misses"]')
            handed_over = point["denominator"] - point["numerator"]
            page.wait_for_function(
                "(n) => document.querySelectorAll('#an-drill-rows tr').length === n", arg=handed_over, timeout=20_000
            )
            assert handed_over > 0
            page.locator("#an-drill").scroll_into_view_if_needed()
            page.screenshot(path=str(SCREENSHOT), full_page=True)

            # each row opens that conversation in the inbox
            first = page.locator("#an-drill-rows tr").first
            conversation_id = first.get_attribute("data-id")
            first.locator("a").click()
            page.wait_for_url(f"**/conversations/{conversation_id.replace(':', '%3A')}", timeout=20_000)
            page.wait_for_selector("#conversation:not([hidden])", timeout=20_000)
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "failure-analytics.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert errors == []
