"""Spike alerts in Debian's Chromium (Playwright, headless), against the real inbox under uvicorn: an open alert
puts a banner on every inbox page; its link opens the alert page with the customer messages behind it (linked to
their conversations, markup kept as text); Acknowledge records who and turns the banner to "acknowledged"; a new
alert raised while the page is open shows up in the banner by polling. No console errors on the way.
Screenshot: docs/alerts-page.png."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import uvicorn
from sqlalchemy import select

from inbox.main import create_app
from inbox.services.agents import create_agent
from storage.engine import session_scope
from storage.models import Alert, AuditEntry
from tests.support.alert_inbox import customer_storm, stored_alert
from tests.support.databases import migrated_sqlite
from tests.support.inbox import PASSWORDS, make_settings
from tests.support.network import free_port

CHROMIUM = Path("/usr/bin/chromium")
DOCS = Path(__file__).resolve().parents[2] / "docs"
playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")

SUMMARY = "twitter: negative share 12 % → 71 % in the last 15 minutes, 17 messages"  # stored_alert's figures
HOSTILE = "<img src=x onerror=alert(1)> your site is DOWN and I can't file my claim"
MESSAGES = (
    ("twitter:2001", "Three hours waiting on my claim, the app keeps crashing", "claim_status"),
    ("twitter:2002", HOSTILE, "file_claim"),
    ("twitter:2003", "Is anyone there?? my car claim status just shows an error", "claim_status"),
    ("twitter:2004", "Cancelling my policy if this isn't fixed today", "complaint"),
)


@pytest.fixture
def inbox(tmp_path: Path) -> Iterator[Dict[str, Any]]:
    """A migrated database with an agent, and the real app under uvicorn (Rasa is not needed to work alerts)."""
    url = migrated_sqlite(tmp_path / "inbox.db")
    with session_scope(url) as db:
        create_agent(db, "agent@harbor.example", "Dana Agent", "agent", PASSWORDS["agent"])
    port = free_port()
    app = create_app(make_settings(url, f"http://127.0.0.1:{free_port()}"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield {"url": f"http://127.0.0.1:{port}", "db": url}
    server.should_exit = True
    thread.join(timeout=10)


def test_an_open_alert_is_a_banner_then_a_page_with_its_messages_then_acknowledged(inbox: Dict[str, Any]) -> None:
    url, db = inbox["url"], inbox["db"]
    messages = customer_storm(db, MESSAGES)
    alert_id = stored_alert(db, messages, summary=SUMMARY)
    problems: List[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("dialog", lambda dialog: problems.append(f"dialog: {dialog.message}"))
        page.goto(url + "/account")
        page.fill("input[name=email]", "agent@harbor.example")
        page.fill("input[name=password]", PASSWORDS["agent"])
        page.press("input[name=password]", "Enter")
        page.wait_for_url(url + "/account")

        banner = page.locator("#alert-banner")
        banner.wait_for(state="visible")
        assert SUMMARY in banner.inner_text()
        assert "not acknowledged yet" in banner.inner_text()
        page.click("#alert-banner-link")
        page.wait_for_url(f"{url}/alerts/{alert_id}")
        page.wait_for_selector("#alert-detail:not([hidden]) #alert-messages li")

        assert page.inner_text("#alert-title") == SUMMARY
        assert page.inner_text("#alert-status") == "raised"
        texts = page.locator("#alert-messages .text").all_inner_texts()
        assert texts == [text for _, text, _ in MESSAGES]  # oldest first; the markup is text, not HTML
        assert page.locator("#alert-messages img").count() == 0
        links = page.locator("#alert-messages a.conversation-link")
        assert [links.nth(i).get_attribute("href") for i in range(4)] == [f"/conversations/{c}" for c, _, _ in MESSAGES]
        assert page.locator(f".alert-item[data-id='{alert_id}']").count() == 1
        assert page.is_disabled("#alert-resolve")  # an agent resolves only what they acknowledged

        page.screenshot(path=str(DOCS / "alerts-page.png"))
        page.click("#alert-acknowledge")
        page.wait_for_function("() => document.getElementById('alert-status').textContent === 'acknowledged'")
        assert "Dana Agent" in page.inner_text("#alert-facts")
        assert page.is_disabled("#alert-acknowledge") and page.is_enabled("#alert-resolve")
        page.wait_for_function("() => document.getElementById('alert-banner').classList.contains('acknowledged')")
        assert "1 alert acknowledged, not resolved yet" in banner.inner_text()

        page.goto(url + "/review")  # every page carries the banner
        banner.wait_for(state="visible")
        assert "acknowledged, not resolved yet" in banner.inner_text()
        stored_alert(db, messages[:2], scope_value="claim_status", minutes_ago=0.5, summary="claim_status: spike")
        page.wait_for_function(  # the next poll (every 15 s) brings the new alert in
            "() => document.getElementById('alert-banner').textContent.includes('claim_status: spike')", timeout=25000
        )
        browser.close()

    assert problems == []
    with session_scope(db) as session:
        alert = session.get(Alert, alert_id)
        assert alert.status == "acknowledged" and alert.acknowledged_by_id is not None
        actions = list(session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("alert_%"))))
    assert actions == ["alert_acknowledged"]
