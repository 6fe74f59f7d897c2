"""The real Rasa and action servers, on SQLite and (when it answers) PostgreSQL.

Complete claim conversations over REST and socket.io, a concurrency run that must lose and double
nothing, and a turn whose action server is down that must still be logged.
"""

from __future__ import annotations

import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator, List

import pytest
import requests
from sqlalchemy import func, select

from retrieval.index import ReplyIndex
from runner.servers import Ports, ServerSet, api_token
from settings import current as current_settings
from storage.engine import session_scope
from storage.models import AnswerFeedback, Claim, Conversation, Escalation, Message, PastReply
from tests.support.databases import migrated_sqlite, postgres_answers, postgres_database
from tests.support.network import free_port
from tests.support.servers import SocketCustomer, joined, logged, say

pytestmark = [pytest.mark.needs_model, pytest.mark.integration]

CLAIM_TURNS = [
    "I need to file a claim, someone hit my car",
    "PX-88123",
    "collision",
    "yesterday",
    "a van backed into my parked car at the grocery store and crushed the front bumper",
    "03/14/1984",  # the policyholder's date of birth: a claim is filed only once the customer is verified
]
SMALL_TALK = [
    "hello there",
    "what's your phone number?",
    "does renters insurance cover my laptop if it gets stolen?",
    "how can I pay my premium?",
    "are there any discounts for bundling?",
    "is there an office in Hartford?",
    "what documents do I need for a claim?",
    "thanks a lot",
    "are you a bot?",
    "bye for now",
]


def start_servers(db_url: str, log_dir: Path) -> ServerSet:
    servers = ServerSet(
        ports=Ports(rasa=free_port(), actions=free_port(), webchat=free_port()), db_url=db_url, log_dir=log_dir
    )
    servers.start()
    try:
        servers.wait_ready(timeout=300)
    except Exception as error:
        servers.stop()
        logs = "\n".join(p.read_text()[-3000:] for p in log_dir.glob("*.log"))
        raise RuntimeError(f"servers did not start:\n{logs}") from error
    return servers


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def servers(request, tmp_path_factory) -> Iterator[ServerSet]:
    workdir = tmp_path_factory.mktemp(request.param)
    if request.param == "sqlite":
        url = migrated_sqlite(workdir / "coverline.db")
        yield from _run(url, workdir)
    else:
        if not postgres_answers():
            pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
        url = request.getfixturevalue("module_postgres_url")
        from storage.migrate import upgrade
        from storage.seed import seed

        upgrade(url)
        with session_scope(url) as s:
            seed(s)
        yield from _run(url, workdir)


def _run(url: str, workdir: Path) -> Iterator[ServerSet]:
    servers = start_servers(url, workdir)
    yield servers
    servers.stop()


@pytest.fixture(scope="module")
def module_postgres_url() -> Iterator[str]:
    yield from postgres_database()


def _rows(url: str, conversation_id: str) -> List[Message]:
    with session_scope(url) as s:
        return list(s.scalars(select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)))


def message_rows(url: str, conversation_id: str, quiet_seconds: float = 0.3) -> List[Message]:
    """The conversation's log once it has stopped growing for `quiet_seconds`: the broker's writer thread
    stores a turn's messages just after Rasa answers."""
    rows = _rows(url, conversation_id)
    for _ in range(50):
        time.sleep(quiet_seconds)
        again = _rows(url, conversation_id)
        if rows and len(again) == len(rows):
            return again
        rows = again
    return rows


def claim_reference(text: str) -> str:
    match = re.search(r"claim number is (CL-\d{6})", text)
    assert match, f"no claim number in the bot's answer: {text!r}"
    return match.group(1)


def test_file_claim_over_rest(servers: ServerSet) -> None:
    sender = f"rest-{uuid.uuid4().hex[:8]}"
    replies = [say(servers.rasa_url, sender, text) for text in CLAIM_TURNS]
    assert "policy number" in joined(replies[0]).lower()
    reference = claim_reference(joined(replies[-1]))
    with session_scope(servers.db_url) as s:
        claim = s.scalars(select(Claim).where(Claim.reference == reference)).one()
        assert (claim.policy.number, claim.incident_type, claim.conversation_id) == ("PX-88123", "collision", sender)
        assert "crushed the front bumper" in claim.description
        assert s.get(Conversation, sender).channel == "rest"
    rows = message_rows(servers.db_url, sender)
    inbound = [m for m in rows if m.direction == "inbound"]
    outbound = [m for m in rows if m.direction == "outbound"]
    assert [m.text for m in inbound] == CLAIM_TURNS
    assert inbound[0].intent == "file_claim" and inbound[0].confidence > 0.4
    assert len(outbound) == sum(len(r) for r in replies)
    assert {m.answer_source for m in outbound} >= {"form", "action"}
    assert all(m.latency_ms is not None and m.latency_ms >= 0 for m in outbound)


def test_file_claim_over_socketio(servers: ServerSet) -> None:
    customer = SocketCustomer(servers.rasa_url)
    session_id = customer.conversation_id
    try:
        answers = [customer.ask(text) for text in CLAIM_TURNS]
    finally:
        customer.close()
    reference = claim_reference(answers[-1])
    with session_scope(servers.db_url) as s:
        claim = s.scalars(select(Claim).where(Claim.reference == reference)).one()
        assert claim.conversation_id == session_id
        assert s.get(Conversation, session_id).channel == "socketio"
    rows = message_rows(servers.db_url, session_id)
    assert [m.text for m in rows if m.direction == "inbound"] == CLAIM_TURNS
    assert len([m for m in rows if m.direction == "outbound"]) == len(customer.received)


def test_webchat_buttons_work_but_typed_intents_are_read_as_words(servers: ServerSet) -> None:
    """A tapped button's payload is an intent; the same `/…` typed by hand is not (`/restart` typed in
    the chat box would otherwise wipe the conversation, mid-claim)."""
    customer = SocketCustomer(servers.rasa_url)
    session_id = customer.conversation_id
    try:
        customer.ask("i need to file a claim")  # says nothing of what happened (CLAIM_TURNS[0] does)
        customer.ask("PX-88123")  # so the bot asks what happened, with a button per incident type
        question = customer.received[-1]
        offered = [button["payload"] for button in question.get("quick_replies") or question.get("buttons") or []]
        tapped = '/inform{"incident_type": "collision"}'
        assert tapped in offered, question
        after_tap = customer.ask(tapped)
        after_typed = customer.ask("/restart")
    finally:
        customer.close()
    assert "when did it happen" in after_tap.lower()
    assert "when did it happen" in after_typed.lower()  # still in the claim form, asking for the date
    inbound = [m for m in message_rows(servers.db_url, session_id) if m.direction == "inbound"]
    assert [(m.text, m.intent) for m in inbound[2:]] == [(tapped, "inform"), ("restart", inbound[3].intent)]
    assert inbound[3].intent != "restart"
    events = requests.get(
        f"{servers.rasa_url}/conversations/{session_id}/tracker",
        params={"token": api_token(), "include_events": "ALL"},
        timeout=30,
    ).json()["events"]
    assert not [e for e in events if e["event"] == "restart"]
    assert [e.get("metadata", {}).get("original_text") for e in events if e["event"] == "user"][-1] == "/restart"


def test_concurrent_conversations_lose_and_double_nothing(servers: ServerSet) -> None:
    """5 conversations x 10 messages, all 50 sent at once: 50 inbound rows, one row per bot message."""
    run_id = uuid.uuid4().hex[:6]
    senders = [f"load-{run_id}-{n}" for n in range(5)]
    jobs = [(sender, text) for text in SMALL_TALK for sender in senders]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        replies = list(pool.map(lambda job: say(servers.rasa_url, *job), jobs))
    bot_messages = sum(len(r) for r in replies)
    assert all(replies), "every message got an answer"

    def counts() -> tuple:
        with session_scope(servers.db_url) as s:
            return tuple(
                s.scalar(
                    select(func.count())
                    .select_from(Message)
                    .where(Message.conversation_id.in_(senders), Message.direction == direction)
                )
                for direction in ("inbound", "outbound")
            )

    assert logged(counts, lambda found: found == (50, bot_messages)) == (50, bot_messages)
    with session_scope(servers.db_url) as s:
        for sender in senders:
            texts = s.scalars(
                select(Message.text).where(Message.conversation_id == sender, Message.direction == "inbound")
            )
            assert sorted(texts) == sorted(SMALL_TALK)


CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make install does it as root)")
def test_webchat_page_talks_to_the_bot(servers: ServerSet) -> None:
    """The page `make run` serves: the rasa-webchat widget greets, and answers a typed question."""
    if not servers.db_url.startswith("sqlite"):
        pytest.skip("one browser run is enough; the database is not what this test is about")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.goto(servers.webchat_url)
            page.click(".rw-launcher")
            page.wait_for_selector(".rw-response >> text=virtual assistant", timeout=60_000)
            page.fill(".rw-new-message", "what's your customer service phone number?")
            page.keyboard.press("Enter")
            page.wait_for_selector(".rw-response >> text=1-800-555-0142", timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "webchat.png"))
        finally:
            browser.close()
    with session_scope(servers.db_url) as s:
        texts = s.scalars(
            select(Message.text)
            .join(Conversation)
            .where(Conversation.channel == "socketio", Message.direction == "inbound")
        ).all()
    assert "what's your customer service phone number?" in texts


KNOWLEDGE_QUESTION = "I've got a small chip in my windshield. Will fixing it cost me my deductible?"
NONSENSE_QUESTION = "what's the best recipe for banana bread?"


def test_insurance_question_is_answered_from_past_replies(servers: ServerSet) -> None:
    """No intent has this answer; a reply an agent wrote does. It is logged with its id and score,
    and the customer's "yes, it helped" is stored against it. Nonsense gets no confident answer."""
    sender = f"kb-{uuid.uuid4().hex[:8]}"
    replies = say(servers.rasa_url, sender, KNOWLEDGE_QUESTION)
    text = joined(replies)
    assert "answered a similar question" in text and "no deductible" in text.lower(), text
    assert ["/affirm", "/deny"] in [[b["payload"] for b in r.get("buttons") or []] for r in replies]

    threshold = ReplyIndex.load(current_settings().retrieval.index_dir).calibration.threshold
    answer = next(m for m in message_rows(servers.db_url, sender) if m.answer_source == "retrieval")
    assert answer.retrieval_score >= threshold and answer.in_reply_to_id is not None
    with session_scope(servers.db_url) as s:
        past = s.get(PastReply, answer.past_reply_id)
        assert past is not None and past.reply in answer.text and past.product_line == "auto"

    thanks = joined(say(servers.rasa_url, sender, "/affirm"))
    assert "glad" in thanks.lower() or "thanks for letting me know" in thanks.lower(), thanks
    with session_scope(servers.db_url) as s:
        feedback = s.scalars(select(AnswerFeedback).where(AnswerFeedback.conversation_id == sender)).one()
        assert (feedback.past_reply_id, feedback.helpful, feedback.message_id) == (past.id, True, answer.id)

    other = f"kb-{uuid.uuid4().hex[:8]}"
    assert "answered a similar question" not in joined(say(servers.rasa_url, other, NONSENSE_QUESTION))
    assert all(m.answer_source != "retrieval" for m in message_rows(servers.db_url, other))


ANGRY = "This is a disgrace. Three weeks and nobody has called me back about my claim, I am furious"
HAPPY = "thank you so much, you have been really helpful today!"


def test_a_parse_returns_intent_ranking_and_sentiment(servers: ServerSet) -> None:
    """Rasa's own HTTP API, with the trained model: the fine-tuned component's output."""
    response = requests.post(
        f"{servers.rasa_url}/model/parse", params={"token": api_token()}, json={"text": ANGRY}, timeout=30
    )
    assert response.status_code == 200, response.text
    parsed = response.json()
    assert parsed["intent"]["name"] == "complaint"
    ranking = parsed["intent_ranking"]
    assert ranking[0]["name"] == "complaint" and len(ranking) >= 5
    assert parsed["sentiment"]["label"] == "negative" and parsed["sentiment"]["confidence"] > 0.5


def test_sentiment_of_every_customer_message_is_logged(servers: ServerSet) -> None:
    sender = f"mood-{uuid.uuid4().hex[:8]}"
    say(servers.rasa_url, sender, ANGRY)
    say(servers.rasa_url, sender, HAPPY)
    rows = logged(lambda: message_rows(servers.db_url, sender), lambda rows: len(rows) >= 4)
    inbound = [m for m in rows if m.direction == "inbound"]
    assert [m.text for m in inbound] == [ANGRY, HAPPY]
    assert [m.sentiment["label"] for m in inbound] == ["negative", "positive"]
    assert all(0.0 < m.sentiment["confidence"] <= 1.0 for m in inbound)


def test_an_angry_answer_inside_the_claim_form_goes_to_a_person(servers: ServerSet) -> None:
    """Not "That doesn't look like a policy number": the form ends and a person is asked for."""
    sender = f"form-angry-{uuid.uuid4().hex[:8]}"
    assert "policy number" in joined(say(servers.rasa_url, sender, CLAIM_TURNS[0])).lower()

    answer = joined(say(servers.rasa_url, sender, ANGRY))

    assert "look like a policy number" not in answer
    rows = logged(lambda: message_rows(servers.db_url, sender), lambda rows: rows[-1].answer_source == "handoff")
    assert rows[-1].direction == "outbound" and rows[-1].answer_source == "handoff", [
        (m.text, m.answer_source) for m in rows
    ]
    with session_scope(servers.db_url) as s:
        (escalation,) = s.scalars(select(Escalation).where(Escalation.conversation_id == sender)).all()
        assert escalation.reason in ("complaint", "negative_sentiment")
        assert s.get(Conversation, sender).status == "escalated"


def test_message_is_logged_when_the_action_server_is_down(servers: ServerSet) -> None:
    """Runs last in the module: it stops the action server."""
    servers.processes["actions"].terminate()
    servers.processes["actions"].wait(timeout=30)
    sender = f"outage-{uuid.uuid4().hex[:8]}"
    say(servers.rasa_url, sender, "how much do I owe on policy PX-88123?")
    rows = logged(lambda: message_rows(servers.db_url, sender), lambda rows: len(rows) > 0)
    assert [(m.direction, m.text) for m in rows if m.direction == "inbound"] == [
        ("inbound", "how much do I owe on policy PX-88123?")
    ]
    assert rows[0].intent == "check_balance"
