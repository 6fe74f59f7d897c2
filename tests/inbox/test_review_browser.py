"""The review page in Debian's Chromium (Playwright, headless), keyboard alone after login: an agent works
through logged billing-frequency and autopay messages the model got wrong, picking offered intents by number,
searching all intents with `/`, marking a policy number as an entity, setting sentiment and a verdict on the
bot's reply; a message someone else annotated first shows the 409 in words; the customer's markup stays text.
The database then holds exactly those five annotations and the queue is five shorter; an admin's undo (`z`)
puts one back. Screenshots go to docs/review-queue.png and docs/review-annotate.png."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from inbox.main import create_app
from inbox.rasa_client import RasaClient
from inbox.settings import Settings
from learning import annotations, review_queue
from storage.engine import session_scope
from storage.models import Annotation
from tests.support.inbox import PASSWORDS, RASA_TOKEN, FakeRasaApi
from tests.support.network import free_port
from tests.support.review_logs import Chat

CHROMIUM = Path("/usr/bin/chromium")
DOCS = Path(__file__).resolve().parents[2] / "docs"
playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")

HOSTILE = "<img src=x onerror=alert(1)> why was I charged <b>twice</b>?"
AUTOPAY = "can I switch my autopay from monthly to yearly? policy HX-2231-77"
YEARLY = "stop taking money every month, I'd rather be billed once a year"
TWICE = "why did you charge me twice this month??"
CARD = "how do I put the autopay on a different card"
QUARTERLY = "is paying quarterly cheaper than monthly?"
FOLLOW_UP = "no!! I don't want to cancel, just change how often I pay"


def ranking(*names: str) -> List[Dict[str, Any]]:
    return [{"name": name, "confidence": round(0.4 / (i + 1), 2)} for i, name in enumerate(names)]


# What the running model answers to POST /model/parse for each text: the intents the page offers as 1-5.
PARSES = {
    AUTOPAY: ranking("cancel_policy", "pay_premium", "change_policy", "billing_issue", "renew_policy"),
    TWICE: ranking("nlu_fallback", "billing_issue", "refund_status", "complaint", "pay_premium", "check_balance"),
    CARD: ranking("pay_premium", "update_personal_info", "billing_issue", "account_access", "change_policy"),
    QUARTERLY: ranking("ask_discounts", "pay_premium", "get_quote", "premium_increase", "out_of_scope"),
}
DEFAULT_PARSE = ranking("cancel_policy", "billing_issue", "complaint", "pay_premium", "change_policy")


def parse_transport() -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        text = json.loads(request.content)["text"]
        ranked = PARSES.get(text, DEFAULT_PARSE)
        return httpx.Response(200, json={"text": text, "intent": ranked[0], "intent_ranking": ranked, "entities": []})

    return httpx.MockTransport(handler)


@pytest.fixture
def review_url(settings: Settings, agents: Dict[str, int], fake_rasa: FakeRasaApi) -> Iterator[str]:
    """The real app under uvicorn, with a Rasa whose /model/parse ranks intents for the logged texts."""
    rasa = RasaClient(fake_rasa.url, RASA_TOKEN, transport=parse_transport())
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, rasa), host="127.0.0.1", port=port, log_level="warning", ws="none")
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
def logged(db_url: str) -> Dict[str, int]:
    """Billing conversations on three channels, logged the way the event broker logs them."""
    ids: Dict[str, int] = {}
    angry = Chat(db_url, "messenger:2456789012345678", channel="facebook")
    ids[HOSTILE] = angry.customer(HOSTILE, "nlu_fallback", 0.21)
    angry.retrieved_answer("Premiums are collected on the date shown on your schedule.", helpful=False)

    wa = Chat(db_url, "whatsapp:15550001111")
    wa.customer("hi", "greet", 0.99)
    wa.bot("Hi! I'm Coverline's assistant. How can I help?", utter_action="utter_greet")
    policy = {"entity": "policy_number", "value": "HX", "start": 55, "end": 57}  # the model's span, too short
    ids[AUTOPAY] = wa.customer(AUTOPAY, "cancel_policy", 0.48, [policy], {"label": "neutral", "confidence": 0.7})
    wa.bot("Sorry to see you go. To cancel your policy I need your policy number.", utter_action="utter_cancel")
    ids[FOLLOW_UP] = wa.customer(FOLLOW_UP, "cancel_policy", 0.81, sentiment={"label": "negative", "confidence": 0.9})
    wa.handoff("customer_request")

    tg = Chat(db_url, "telegram:123456789", channel="telegram")
    ids[YEARLY] = tg.customer(YEARLY, "cancel_policy", 0.44)
    tg.bot("I can help you cancel. Which policy is it?", utter_action="utter_cancel")
    ids[TWICE] = tg.customer(TWICE, "nlu_fallback", 0.30, sentiment={"label": "neutral", "confidence": 0.55})
    tg.bot("Sorry, I didn't get that. Could you rephrase?", utter_action="utter_ask_rephrase")

    ids[CARD] = Chat(db_url, "messenger:3345678901234567", channel="facebook").customer(CARD, "nlu_fallback", 0.28)
    ids[QUARTERLY] = Chat(db_url, "whatsapp:15550002222").customer(QUARTERLY, "out_of_scope", 0.62)
    return ids


def queue_total(db_url: str) -> int:
    with session_scope(db_url) as db:
        return review_queue.queue(db, 0.6, 1, 0, None)[1]


def log_in(page: Any, url: str, role: str) -> None:
    page.goto(url + "/review")
    assert "/login" in page.url
    page.fill("input[name=email]", f"{role}@harbor.example")
    page.fill("input[name=password]", PASSWORDS[role])
    page.press("input[name=password]", "Enter")
    page.wait_for_selector("#rv-detail:not([hidden]) #rv-text")


def title(page: Any) -> str:
    return page.inner_text("#rv-title")


def wait_for_another_message(page: Any, before: str) -> None:
    try:
        page.wait_for_function("t => document.getElementById('rv-title').textContent !== t", arg=before, timeout=10000)
    except playwright.Error as error:  # say what the page said (a refused save shows its reason)
        said = page.inner_text("#rv-error") or "nothing"
        raise AssertionError(f"still on {before!r} ({page.inner_text('#rv-text')!r}); the page says: {said}") from error
    page.wait_for_selector("#rv-detail:not([hidden]) #rv-text")


def annotate_autopay(page: Any) -> None:
    """2 for pay_premium, w for the wrong reply; then e, → to the policy number, and a letter opens the entity
    search: `p`, `olicy`, Enter."""
    assert "cancel_policy" in page.inner_text("#rv-model") and "confidence 0.48" in page.inner_text("#rv-model")
    assert "To cancel your policy" in page.inner_text(".reply-judged")  # the bot's reply under judgement
    page.keyboard.press("Backspace")  # the model's span "HX" goes
    page.keyboard.press("2")  # pay_premium, offered second
    page.keyboard.press("w")  # the bot's reply was wrong
    page.keyboard.press("e")
    words = page.locator("#rv-text .word").all_inner_texts()
    for _ in range(words.index("HX-2231-77")):
        page.keyboard.press("ArrowRight")
    assert page.inner_text("#rv-text .word.picked") == "HX-2231-77"
    page.keyboard.press("Shift+ArrowLeft")
    assert page.locator("#rv-text .word.picked").all_inner_texts() == ["policy", "HX-2231-77"]
    page.keyboard.press("Shift+ArrowRight")
    assert page.locator("#rv-text .word.picked").all_inner_texts() == ["HX-2231-77"]
    page.keyboard.press("p")
    page.keyboard.type("olicy")
    assert page.inner_text("#entity-options .option.active") == "policy_number"
    assert "null" not in page.inner_text("#review")
    page.screenshot(path=str(DOCS / "review-annotate.png"))
    page.keyboard.press("Enter")
    assert page.inner_text("#rv-entities").startswith("policy_number: HX-2231-77")
    assert page.evaluate("document.activeElement.id") == "rv-detail"


def search_pay_premium(page: Any) -> None:
    page.keyboard.press("/")
    page.keyboard.type("prem")  # premium_increase starts with it, pay_premium holds it
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    assert page.inner_text("#rv-intent-chosen") == "chosen: pay_premium"


def keys(*pressed: str) -> Callable[[Any], None]:
    def press(page: Any) -> None:
        for key in pressed:
            page.keyboard.press(key)

    return press


PLANS: Dict[str, Callable[[Any], None]] = {
    AUTOPAY: annotate_autopay,
    YEARLY: search_pay_premium,
    TWICE: keys("1", "n", "h"),  # billing_issue; negative; should have handed over
    CARD: keys("1"),  # pay_premium
    QUARTERLY: keys("1", "p", "p", "u"),  # ask_discounts; positive pressed twice clears, then neutral
}
EXPECTED = {
    AUTOPAY: (
        "pay_premium",
        [{"entity": "policy_number", "value": "HX-2231-77", "start": 55, "end": 65}],
        None,
        "wrong",
    ),
    YEARLY: ("pay_premium", [], None, None),
    TWICE: ("billing_issue", [], "negative", "should_have_handed_over"),
    CARD: ("pay_premium", [], None, None),
    QUARTERLY: ("ask_discounts", [], "neutral", None),
}


def test_an_agent_annotates_five_messages_with_the_keyboard_alone(
    review_url: str, db_url: str, agents: Dict[str, int], logged: Dict[str, int]
) -> None:
    assert AUTOPAY[55:65] == "HX-2231-77"
    before = queue_total(db_url)
    assert before == 7
    errors: List[str] = []
    failed: List[str] = []
    dialogs: List[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        page = browser.new_page(viewport={"width": 1500, "height": 950})
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        log_in(page, review_url, "agent")

        # The best teacher first: the 👎 on a fallback; the customer's markup is shown as text, never run.
        assert page.inner_text("#rv-text") == HOSTILE
        assert page.inner_text("#rq-items li:first-child .review-text") == HOSTILE
        assert page.locator("#review img, #review b").count() == 0
        assert "thumbs down +5" in page.inner_text("#rv-reasons") and "fallback +4" in page.inner_text("#rv-reasons")
        assert page.locator("#recent-panel").count() == 0  # undo is an admin's
        page.keyboard.press("?")
        assert page.is_hidden("#legend-panel")
        page.keyboard.press("?")
        assert "save and go to the next message" in page.inner_text("#legend")
        assert "null" not in page.inner_text("#review")  # a message without sentiment says so in words
        page.screenshot(path=str(DOCS / "review-queue.png"))

        # Tab reaches the controls with a visible focus ring; Enter on one is that control, Esc goes back.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "1 cancel_policy 0.40"
        assert page.evaluate("document.activeElement.matches(':focus-visible')")
        page.keyboard.press("Enter")
        assert page.inner_text("#rv-intent-chosen") == "chosen: cancel_policy"
        page.keyboard.press("Escape")
        assert page.evaluate("document.activeElement.id") == "rv-detail"

        # Someone else labels it while it is on screen: the 409 is said in words beside the message.
        with session_scope(db_url) as db:
            annotations.annotate(db, logged[HOSTILE], agents["agent2"], "billing_issue")
        page.keyboard.press("1")
        page.keyboard.press("Enter")
        page.wait_for_selector("#rv-error:not([hidden])")
        assert "409" in page.inner_text("#rv-error") and "already" in page.inner_text("#rv-error").lower()
        assert page.evaluate("document.activeElement.id") == "rv-detail"
        shown = title(page)
        page.keyboard.press("s")
        wait_for_another_message(page, shown)
        assert page.is_hidden("#rv-error")

        done: List[str] = []
        for _ in range(12):
            text = page.inner_text("#rv-text")
            shown = title(page)
            if text in PLANS and text not in done:
                PLANS[text](page)
                page.keyboard.press("Enter")
                done.append(text)
            else:  # not one of ours: on to the next (or back, from the end of the list)
                at_end = page.get_attribute("#rq-items li:last-child", "aria-current") == "true"
                page.keyboard.press("k" if at_end else "j")
            if len(done) == len(PLANS):
                break
            wait_for_another_message(page, shown)
            assert page.evaluate("document.activeElement.id") == "rv-detail"  # focus kept for the next key
        assert sorted(done) == sorted(PLANS)
        page.wait_for_function("n => document.getElementById('rq-count').textContent === `(${n})`", arg=before - 6)
        assert page.is_hidden("#rv-error")
        browser.close()

    with session_scope(db_url) as db:
        rows = db.scalars(select(Annotation).where(Annotation.annotator_id == agents["agent"])).all()
        got = {row.message_id: (row.intent, row.entities or [], row.sentiment, row.reply_verdict) for row in rows}
        assert {row.status for row in rows} == {"active"}
    assert got == {logged[text]: expected for text, expected in EXPECTED.items()}
    assert queue_total(db_url) == before - 1 - 5  # the one agent2 took, and the agent's five
    assert failed == [f"{review_url}/api/review/messages/{logged[HOSTILE]}/annotation"]  # the expected 409
    assert all("409" in error for error in errors), errors
    assert dialogs == []


def test_an_admin_undoes_an_annotation_with_z_and_it_is_back_in_the_queue(
    review_url: str, db_url: str, agents: Dict[str, int], logged: Dict[str, int]
) -> None:
    with session_scope(db_url) as db:
        annotations.annotate(db, logged[CARD], agents["agent"], "pay_premium")
        newest = annotations.annotate(db, logged[QUARTERLY], agents["agent"], "ask_discounts", sentiment="neutral")
        newest_id = newest.id
    before = queue_total(db_url)
    errors: List[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        page = browser.new_page(viewport={"width": 1500, "height": 950})
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("response", lambda response: errors.append(response.url) if response.status >= 400 else None)
        log_in(page, review_url, "admin")
        page.wait_for_selector("#recent li .undo")
        assert page.locator("#recent li").count() == 2
        assert page.inner_text("#recent li:first-child").startswith("ask_discounts")
        page.keyboard.press("z")
        page.wait_for_function("n => document.getElementById('rq-count').textContent === `(${n})`", arg=before + 1)
        # the page goes to the message that came back
        page.wait_for_function("t => document.getElementById('rv-text').textContent === t", arg=QUARTERLY)
        assert page.locator("#recent li").count() == 1

        # Tick two messages with x and accept the model's labels with A (the admin's bulk accept).
        shown = title(page)
        page.keyboard.press("x")
        page.keyboard.press("k")  # the one before: the autopay message, logged as cancel_policy
        wait_for_another_message(page, shown)
        assert page.inner_text("#rv-text") == AUTOPAY
        page.keyboard.press("x")
        assert page.locator("#rq-items .tick:checked").count() == 2
        page.keyboard.press("A")
        page.wait_for_function("n => document.getElementById('rq-count').textContent === `(${n})`", arg=before - 1)
        browser.close()
    assert errors == []
    with session_scope(db_url) as db:
        undone = db.get(Annotation, newest_id)
        assert (undone.status, undone.undone_by_id) == ("undone", agents["admin"])
        bulk = db.scalars(select(Annotation).where(Annotation.bulk.is_(True))).all()
        assert len(bulk) == 2 and {a.annotator_id for a in bulk} == {agents["admin"]}
