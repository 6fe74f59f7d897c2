"""The inbox page in Debian's Chromium (Playwright, headless): log in, see an escalation arrive live at the
top of the queue, take over, insert a canned response, reply (through the fake Rasa, logged once by the
"broker"), see the customer's answer live, add a note; admin pages and the API docs render. Screenshots go to
tests/artifacts/inbox/. Skipped where Chromium or Playwright is missing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from inbox.services import canned
from storage.engine import session_scope
from storage.models import Agent
from tests.support.inbox import PASSWORDS, FakeRasaApi, bot_says, broker_for, customer_says, escalate

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "inbox"
playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")


def test_agent_works_an_escalation_live_in_the_browser(server_url: str, db_url: str, fake_rasa: FakeRasaApi) -> None:
    fake_rasa.on_event = broker_for(db_url)
    with session_scope(db_url) as db:
        admin = db.query(Agent).filter_by(email="admin@harbor.example").one()
        canned.create(db, admin, "claim", "You can follow your claim at harbor.example/claims.", None)
    customer_says(
        db_url,
        "web-7",
        "what does my home policy cover?",
        intent="ask_coverage",
        sentiment={"label": "neutral", "confidence": 0.7},
    )
    bot_says(db_url, "web-7", "Home covers fire, theft and burst pipes.", answer_source="knowledge")
    customer_says(db_url, "web-9", "Nobody answers me!!", sentiment={"label": "negative", "confidence": 0.9})
    escalate(db_url, "web-9", 2, "customer_request", minutes_ago=20)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1500, "height": 900})
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("response", lambda response: errors.append(response.url) if response.status >= 400 else None)
        page.goto(server_url + "/")
        assert "/login" in page.url
        page.fill("input[name=email]", "admin@harbor.example")
        page.fill("input[name=password]", PASSWORDS["admin"])
        page.click("button[type=submit]")
        page.wait_for_selector('#queue li[data-id="web-9"]')
        page.wait_for_timeout(1500)  # the event stream is open

        customer_says(
            db_url,
            "web-11",
            "I am furious, my claim was denied!!!",
            sentiment={"label": "negative", "confidence": 0.97},
        )
        escalate(db_url, "web-11", 1, "complaint")
        page.wait_for_selector('#queue li[data-id="web-11"]', timeout=10000)
        assert page.locator("#queue li").first.get_attribute("data-id") == "web-11"
        assert "negative 97%" in page.locator("#queue li").first.inner_text()

        page.click('#queue li[data-id="web-11"]')
        page.wait_for_selector("#conversation:not([hidden])")
        assert "complain 0.91" in page.locator("#messages").inner_text()
        page.click('[data-action="take-over"]')
        page.wait_for_selector("#reply-form textarea:not([disabled])", timeout=10000)
        assert fake_rasa.requests[-1].body == {"event": "pause"}

        page.fill("#reply-form textarea", "/cl")
        page.click(".suggestion")
        assert page.input_value("#reply-form textarea").startswith("You can follow your claim")
        assert page.locator("#canned-suggestions").is_hidden()
        page.fill("#reply-form textarea", "Hi, I'm Admin. I'm sorry, let me look at your claim now.")
        page.press("#reply-form textarea", "Control+Enter")
        page.wait_for_selector("#messages li.agent", timeout=10000)
        assert fake_rasa.requests[-1].body["metadata"]["author"] == "agent"
        assert "Admin (agent)" in page.locator("#messages li.agent").inner_text()  # who answered

        customer_says(db_url, "web-11", "thank you", intent="thank", sentiment={"label": "positive", "confidence": 0.8})
        page.wait_for_selector("#messages li.customer >> text=thank you", timeout=10000)
        collision = '/inform{"incident_type": "collision"}'
        bot_says(db_url, "web-11", "What happened?", data={"buttons": [{"title": "Collision", "payload": collision}]})
        customer_says(db_url, "web-11", collision, intent="inform", metadata={"button_payload": True})
        page.wait_for_selector("#messages li.customer >> text=Collision", timeout=10000)
        assert "incident_type" not in page.locator("#messages").inner_text()  # the title, not the payload
        photo = {"type": "image", "url": "https://scontent.example/dent.jpg"}
        trap = {"type": "link", "url": "javascript:alert(1)", "title": "see this"}
        customer_says(
            db_url, "web-11", "/share_attachment", intent="share_attachment", metadata={"attachments": [photo, trap]}
        )
        page.wait_for_selector("#messages li.attachment.image a", timeout=10000)
        link = page.locator("#messages li.attachment.image a")
        assert (link.get_attribute("href"), link.get_attribute("rel")) == (photo["url"], "noopener noreferrer")
        assert page.locator("#messages li.attachment.link a").count() == 0  # never a javascript: link
        assert "see this" in page.locator("#messages li.attachment.link").inner_text()
        assert "/share_attachment" not in page.locator("#messages").inner_text()
        assert "null" not in page.locator("#conv-meta").inner_text()
        page.fill("#note-form textarea", "Denied for late filing; check with the adjuster.")
        page.click("#note-form button")
        page.wait_for_selector("#notes li")
        page.wait_for_selector('#queue li[data-id="web-11"] .sla.met', timeout=10000)  # replied within its SLA
        page.screenshot(path=str(ARTIFACTS / "inbox.png"))
        assert page.locator("#messages li.agent").count() == 1  # stored once, by the broker

        page.click('[data-action="hand-back"]')
        page.wait_for_selector("#conv-meta .badge.pending", timeout=10000)
        assert fake_rasa.requests[-1].body == {"event": "resume"}
        page.wait_for_selector('#queue li[data-id="web-11"]', state="detached", timeout=10000)

        for path, selector in (
            ("/admin/audit", "#audit tr"),
            ("/admin/agents", "#agents tr"),
            ("/admin/canned", "#canned tr"),
            ("/account", "#password-form"),
            ("/api/docs", ".opblock"),  # Swagger UI from our own assets, under the same CSP: no console error
        ):
            page.goto(server_url + path)
            page.wait_for_selector(selector)
            page.screenshot(path=str(ARTIFACTS / f"{path.rsplit('/', 1)[1]}.png"))
        assert "take_over" in page.goto(server_url + "/api/audit").text()
        browser.close()
    assert errors == []


def test_an_agent_sees_a_telegram_photo_in_the_transcript(server_url: str, db_url: str, fake_rasa: FakeRasaApi) -> None:
    """The photo is only a Telegram file id in the log; the page shows it, fetched through the inbox and Rasa."""
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(picture, format="JPEG")
    fake_rasa.media["telegram/AgACAgQdent"] = (picture.getvalue(), "image/jpeg")
    photo = {"type": "image", "media_id": "AgACAgQdent", "mime_type": "image/jpeg"}
    customer_says(db_url, "telegram:42", "/share_attachment", "telegram", "share_attachment",
                  metadata={"attachments": [photo]})  # fmt: skip
    escalate(db_url, "telegram:42", 2, "customer_request")
    errors: list = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page()
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("response", lambda response: errors.append(response.url) if response.status >= 400 else None)
        page.goto(server_url + "/login")
        page.fill("input[name=email]", "agent@harbor.example")
        page.fill("input[name=password]", PASSWORDS["agent"])
        page.click("button[type=submit]")
        page.click('#queue li[data-id="telegram:42"]')
        thumbnail = page.wait_for_selector("#messages li.attachment.image img.thumbnail", timeout=10000)
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail, timeout=10000)
        assert thumbnail.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [64, 48]
        href = page.locator("#messages li.attachment.image a").get_attribute("href")
        assert href.startswith("/api/conversations/telegram%3A42/messages/") and href.endswith("/attachments/0")
        page.screenshot(path=str(ARTIFACTS / "attachment.png"))
        browser.close()
    assert not errors, errors
    assert [r.path for r in fake_rasa.requests if "/media/" in r.path] == ["/webhooks/telegram/media/AgACAgQdent"]
