"""The content page in Debian's Chromium (Playwright, headless) against the real inbox: an admin creates an item
from the keyboard, previews it as Telegram shows it, retires it, and finds it under the retired filter; no
console error (a CSP violation is one). An agent has no Content link. Screenshot: docs/content-page.png.
Skipped where Chromium or Playwright is missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List

import pytest

from tests.support.inbox import PASSWORDS

CHROMIUM = Path("/usr/bin/chromium")
DOCS = Path(__file__).resolve().parents[2] / "docs"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")


def log_in(page: Any, url: str, email: str, password: str) -> None:
    page.goto(url + "/login?next=/admin/content")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def watch_errors(page: Any) -> List[str]:
    errors: List[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    return errors


def test_an_admin_creates_previews_as_telegram_and_retires_an_item(server_url: str) -> None:
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        errors = watch_errors(page)
        log_in(page, server_url, "admin@harbor.example", PASSWORDS["admin"])
        page.wait_for_selector("#content-count:has-text('0 items')")
        assert page.locator("nav a[href='/admin/content']").inner_text() == "Content"

        page.focus("#content-new")
        page.keyboard.press("Enter")  # a new item; the slug field takes the focus
        page.keyboard.type("tip-winter-driving")
        page.select_option("#content-form select[name=category]", "safety_tip")
        page.fill("input[name=title]", "Winter driving: before the roads ice over")
        page.fill("textarea[name=summary]", "Check tyres, wipers and battery; keep a scraper and a blanket in the car.")
        page.fill("textarea[name=body]", "- Fit winter tyres by November\n- Top up screen wash rated to -20°C")
        page.focus("#field-product_lines input[value=auto]")
        page.keyboard.press("Space")
        page.focus("input[name=title]")
        page.keyboard.press("Enter")  # submits the form
        page.wait_for_selector("#editor-title:has-text('Edit tip-winter-driving')")
        row = page.locator("#content-rows tr", has_text="tip-winter-driving")
        assert "auto" in row.inner_text() and "live" in row.inner_text()

        page.select_option("#preview-channel", "telegram")
        page.wait_for_selector(".preview-keyboard")
        shown = page.locator("#preview-pane").inner_text()
        assert "You might find these helpful:" in shown and "1. Winter driving: before the roads ice over" in shown
        assert "Not for me" in page.locator(".preview-keyboard").inner_text()
        assert '"callback_data"' in page.locator("#preview-json").text_content()
        page.screenshot(path=str(DOCS / "content-page.png"), full_page=True)

        page.click("#content-retire")
        page.wait_for_selector("#content-restore:not([hidden])")
        page.wait_for_selector("#content-count:has-text('0 items')")  # the list shows live items
        page.select_option("#content-filters select[name=retired]", "true")
        page.wait_for_selector("#content-rows tr:has-text('tip-winter-driving')")
        assert "retired" in page.locator("#content-rows tr").inner_text()
        assert errors == []

        agent = browser.new_page()
        log_in(agent, server_url, "agent@harbor.example", PASSWORDS["agent"])
        agent.wait_for_selector("h1")
        assert agent.locator("nav a[href='/admin/content']").count() == 0
        browser.close()
