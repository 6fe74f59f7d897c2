"""Issue 5's acceptance test, in Debian's Chromium (Playwright, headless) against the real servers.

Rasa with the trained model, the action server, the web chat page and the agents' inbox run as `make run`
starts them, on free ports and a fresh migrated SQLite database. An agent is logged into the inbox; a
customer in the rasa-webchat widget complains angrily and the bot says a person will take over; the
conversation appears live (no reload) at the top of the agent's escalation queue with its negative
sentiment; the agent takes over and replies; the reply reaches the widget; the agent hands back and the
bot answers the customer's next question again. The interaction log and the escalation are then checked
in the database.

Screenshots go to tests/artifacts/e2e/ (inbox-queue.png, inbox-transcript.png, webchat-handoff.png, and
failure-*.png plus the servers' logs when something fails); the README's copies live in docs/images/.
"""

from __future__ import annotations

import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterator, List, Optional

import pytest
from sqlalchemy import select

from inbox.services.agents import create_agent
from runner.servers import Ports, ServerSet
from storage.engine import session_scope
from storage.models import Conversation, Escalation, Message
from tests.support.databases import migrated_sqlite
from tests.support.network import free_port
from tests.support.servers import joined, say

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.needs_model, pytest.mark.integration]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "e2e"

AGENT_EMAIL = "dana@harbor.example"
AGENT_NAME = "Dana Reyes"
AGENT_PASSWORD = "dana-password-" + secrets.token_hex(8)

EARLIER = "please connect me to a real person, I want to talk to an agent"
ANGRY = "This is a disgrace. Three weeks and nobody has called me back about my claim, I am furious"
AGENT_REPLY = "Hi, I'm Dana from the claims team, I'm looking at your claim now."
NEXT_QUESTION = "how can I pay my premium?"

# The CPU is shared with long benchmarks: a turn through the transformer NLU can take a while.
TURN_MS = 120_000
UI_MS = 60_000


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerSet]:
    """The four processes `make run` starts, on free ports, over a fresh database with one agent."""
    workdir: Path = tmp_path_factory.mktemp("e2e")
    url = migrated_sqlite(workdir / "coverline.db")
    with session_scope(url) as db:
        create_agent(db, AGENT_EMAIL, AGENT_NAME, "agent", AGENT_PASSWORD)
    servers = ServerSet(
        ports=Ports(rasa=free_port(), actions=free_port(), webchat=free_port(), inbox=free_port()),
        db_url=url,
        with_webchat=True,
        with_inbox=True,
        log_dir=workdir,
        # a key of its own, so the run neither needs nor writes var/inbox_secret_key
        extra_env={"INBOX_SECRET_KEY": secrets.token_urlsafe(48), "INBOX_LOG_LEVEL": "warning"},
    )
    servers.start()
    try:
        servers.wait_ready(timeout=600)
    except Exception as error:
        servers.stop()
        save_logs(workdir)
        logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(workdir.glob("*.log")))
        raise RuntimeError(f"servers did not start:\n{logs}") from error
    yield servers
    servers.stop()


def save_logs(workdir: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for log in workdir.glob("*.log"):
        shutil.copyfile(log, ARTIFACTS / f"failure-{log.name}")


@contextmanager
def screenshots_on_failure(pages: Dict[str, "Page"], workdir: Optional[Path]) -> Iterator[None]:
    """Whatever fails, keep what each browser page showed and what the servers logged."""
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for name, page in pages.items():
            try:
                page.screenshot(path=str(ARTIFACTS / f"failure-{name}.png"), full_page=True)
            except Exception:  # a dead page must not hide the real failure
                pass
        if workdir is not None:
            save_logs(workdir)
        raise


def conversation_rows(db_url: str, conversation_id: str) -> List[Message]:
    with session_scope(db_url) as db:
        rows = list(db.scalars(select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)))
        db.expunge_all()
        return rows


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make install does it as root)")
def test_angry_customer_is_handed_to_an_agent_and_back_in_the_browser(stack: ServerSet) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.*"):  # this run's screenshots only, none left over from an earlier one
        old.unlink()

    # Someone already waiting: a calm request for a person, over REST (priority 2, older), so "top of the
    # queue" means the angry customer was put ahead of it.
    earlier = f"rest-{secrets.token_hex(4)}"
    assert "service team" in joined(say(stack.rasa_url, earlier, EARLIER))

    inbox_errors: List[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        agent_context = browser.new_context(viewport={"width": 1500, "height": 900})
        customer_context = browser.new_context(viewport={"width": 1000, "height": 820})
        for context in (agent_context, customer_context):
            context.set_default_timeout(UI_MS)
        inbox = agent_context.new_page()
        widget = customer_context.new_page()
        inbox.on("pageerror", lambda error: inbox_errors.append(f"page error: {error}"))
        inbox.on("console", lambda m: inbox_errors.append(f"console: {m.text}") if m.type == "error" else None)
        documents: List[str] = []
        inbox.on("request", lambda r: documents.append(r.url) if r.resource_type == "document" else None)

        with screenshots_on_failure({"inbox": inbox, "webchat": widget}, stack.log_dir):
            # 1. The agent logs in; the page is live once its event stream has answered.
            inbox.goto(stack.inbox_url + "/")
            assert "/login" in inbox.url
            inbox.fill("input[name=email]", AGENT_EMAIL)
            inbox.fill("input[name=password]", AGENT_PASSWORD)
            with inbox.expect_response(lambda r: "/api/events" in r.url and r.status == 200, timeout=UI_MS):
                inbox.click("button[type=submit]")
            queue = inbox.locator("#queue li")
            expect(queue).to_have_count(1)
            expect(queue.first).to_have_attribute("data-id", earlier)
            loaded = len(documents)

            # 2. The customer opens the widget and complains; the bot says a person will take over.
            widget.goto(stack.webchat_url)
            widget.click(".rw-launcher")
            expect(widget.locator(".rw-response", has_text="virtual assistant")).to_be_visible(timeout=TURN_MS)
            widget.fill(".rw-new-message", ANGRY)
            widget.keyboard.press("Enter")
            handoff = widget.locator(".rw-response", has_text="right here in this chat")
            expect(handoff).to_be_visible(timeout=TURN_MS)
            assert "service team" in handoff.inner_text()
            session_token = widget.evaluate("() => JSON.parse(sessionStorage.getItem('chat_session')).session_id")
            session_id = session_token.split(".", 1)[0]  # the server-issued token is `<conversation id>.<signature>`
            assert session_id

            # 3. Live, without a reload: the complaint is at the top of the queue, marked negative.
            top = inbox.locator(f'#queue li[data-id="{session_id}"]')
            expect(top).to_be_visible(timeout=TURN_MS)
            expect(queue).to_have_count(2)
            expect(queue.first).to_have_attribute("data-id", session_id)
            expect(top).to_contain_text("P1")
            expect(top.locator(".badge.sentiment-negative")).to_contain_text("negative")
            expect(top).to_contain_text("socketio")
            assert len(documents) == loaded, f"the inbox page was reloaded: {documents[loaded:]}"
            inbox.screenshot(path=str(ARTIFACTS / "inbox-queue.png"))

            # 4. The agent opens it, takes over and replies.
            top.click()
            expect(inbox.locator("#conversation")).to_be_visible()
            complaint = inbox.locator("#messages li.customer", has_text="This is a disgrace")
            expect(complaint.locator(".badge.intent")).to_contain_text("complaint")
            expect(complaint.locator(".badge.sentiment-negative")).to_be_visible()
            bot_handoff = inbox.locator("#messages li.bot", has_text="right here in this chat")
            expect(bot_handoff.locator(".badge.source")).to_have_text("handoff")
            inbox.click('[data-action="take-over"]')
            expect(inbox.locator("#conv-meta .badge.open")).to_be_visible()
            textarea = inbox.locator("#reply-form textarea")
            expect(textarea).to_be_enabled()
            textarea.fill(AGENT_REPLY)
            textarea.press("Control+Enter")
            agent_line = inbox.locator("#messages li.agent", has_text="Dana from the claims team")
            expect(agent_line).to_be_visible(timeout=TURN_MS)
            expect(agent_line.locator(".badge.source")).to_have_text("agent")
            expect(textarea).to_have_value("")
            expect(top.locator(".sla.met")).to_be_visible()  # first reply well within the P1 SLA
            inbox.screenshot(path=str(ARTIFACTS / "inbox-transcript.png"))

            # 5. The customer sees the agent's reply in the widget.
            from_agent = widget.locator(".rw-response", has_text="Dana from the claims team")
            expect(from_agent).to_be_visible(timeout=TURN_MS)
            expect(from_agent).to_contain_text(AGENT_REPLY)
            expect(from_agent).to_have_count(1)
            widget.screenshot(path=str(ARTIFACTS / "webchat-handoff.png"))

            # 6. Hand back: the bot answers the customer's next question again.
            inbox.click('[data-action="hand-back"]')
            expect(inbox.locator("#conv-meta .badge.pending")).to_be_visible()
            expect(top).to_be_hidden()  # the escalation left the queue
            answers_before = widget.locator(".rw-response").count()
            widget.fill(".rw-new-message", NEXT_QUESTION)
            widget.keyboard.press("Enter")
            payment = widget.locator(".rw-response", has_text="grace period")
            expect(payment).to_be_visible(timeout=TURN_MS)
            expect(payment).to_contain_text("1-800-555-0142")
            assert widget.locator(".rw-response").count() > answers_before
            # ... and the agent watches it happen in the transcript.
            expect(inbox.locator("#messages li.customer", has_text=NEXT_QUESTION)).to_be_visible(timeout=TURN_MS)
            expect(inbox.locator("#messages li.bot", has_text="grace period")).to_be_visible(timeout=TURN_MS)
            expect(inbox.locator("#messages li.agent")).to_have_count(1)
            assert len(documents) == loaded, f"the inbox page was reloaded: {documents[loaded:]}"

            # 7. The database: every line logged once, by the right author, with sentiment.
            rows = conversation_rows(stack.db_url, session_id)
            customer = [m for m in rows if m.author == "customer"]
            for text in (ANGRY, NEXT_QUESTION):
                logged = [m for m in customer if m.text == text]
                assert len(logged) == 1, f"{text!r} logged {len(logged)} times"
                assert logged[0].direction == "inbound" and logged[0].channel == "socketio"
                assert logged[0].sentiment and logged[0].sentiment.get("label"), logged[0].sentiment
            angry = next(m for m in customer if m.text == ANGRY)
            assert angry.sentiment["label"] == "negative", angry.sentiment
            assert angry.intent == "complaint", angry.intent
            assert len(customer) == len({m.platform_message_id for m in customer}), "a customer message twice"
            agent_rows = [m for m in rows if m.author == "agent"]
            assert [(m.text, m.answer_source, m.direction, m.channel) for m in agent_rows] == [
                (AGENT_REPLY, "agent", "outbound", "socketio")
            ]
            assert any(m.author == "bot" and "grace period" in (m.text or "") for m in rows if m.id > agent_rows[0].id)
            with session_scope(stack.db_url) as db:
                escalations = list(db.scalars(select(Escalation).where(Escalation.conversation_id == session_id)))
                assert [(e.reason in ("complaint", "negative_sentiment"), e.priority) for e in escalations] == [
                    (True, 1)
                ], [(e.reason, e.priority) for e in escalations]
                assert (escalations[0].open, escalations[0].outcome) == (False, "handed_back")
                conversation = db.get(Conversation, session_id)
                assert (conversation.channel, conversation.status) == ("socketio", "pending")

        browser.close()
    assert inbox_errors == []
