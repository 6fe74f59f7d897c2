"""Issue 15's harvesting loop against the real servers (Rasa with the trained model, the action server, the
inbox process), as a customer and an agent live it: a web chat customer asks something no past reply covers
and asks for a person; an agent takes over in the inbox, answers, resolves; the proposal made at the resolve
is approved; then a new customer asking the same thing in other words over REST gets the agent's answer from
the bot, with no rebuild and no restart.

The action server adds approved replies to its index on a timer (every RETRIEVAL_REFRESH_SECONDS, in a thread of
its own: retrieval/service.py `keep_fresh`), so once the action server has embedded the approved reply, the very
first customer who asks gets it. (A refresh used to start only with a question, and that question was still
answered from the index before it.) The index is a copy of the trained one: the refresh saves the index it changes.
"""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, List, Tuple

import httpx
import pytest
from sqlalchemy import select

from inbox.services.agents import create_agent
from runner.servers import PROJECT_ROOT, Ports, ServerSet
from storage.engine import session_scope
from storage.models import Message, PastReply
from tests.support.databases import migrated_sqlite
from tests.support.inbox import PASSWORDS
from tests.support.network import free_port
from tests.support.servers import SocketCustomer, joined, logged, say, server_logs

pytestmark = [pytest.mark.needs_model, pytest.mark.integration]

TRAINED_INDEX = PROJECT_ROOT / "models" / "past_replies"
# backyard trampolines: no reply in demo_data/past_replies mentions one
QUESTION = "Does my homeowners insurance cover it if a neighbor's kid gets hurt on our backyard trampoline?"
ASK_FOR_PERSON = "can I talk to a person please"
REPLY = (
    "Yes: the personal liability part of your homeowners policy pays for a guest's injuries on your trampoline, "
    "as long as it has a safety net and is not used for business. Medical payments cover small injuries "
    "whoever is at fault. Please tell us when you set one up, so we can note it on your policy."
)
NEW_WORDING = "a friend of my son broke his arm on our trampoline, will my home insurance pay for that?"
REFRESH_SECONDS = 1
DEADLINE = 60.0


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerSet]:
    if not (TRAINED_INDEX / "index.json").exists():
        pytest.skip(f"no past-replies index at {TRAINED_INDEX} (make train)")
    workdir: Path = tmp_path_factory.mktemp("live_harvest")
    url = migrated_sqlite(workdir / "coverline.db")
    create_agent_in(url)
    index_dir = workdir / "past_replies"
    shutil.copytree(TRAINED_INDEX, index_dir)
    servers = ServerSet(
        ports=Ports(rasa=free_port(), actions=free_port(), webchat=free_port(), inbox=free_port()),
        db_url=url,
        with_webchat=False,
        with_inbox=True,
        log_dir=workdir,
        extra_env={"RETRIEVAL_INDEX_DIR": str(index_dir), "RETRIEVAL_REFRESH_SECONDS": str(REFRESH_SECONDS)},
    )
    servers.start()
    try:
        servers.wait_ready(timeout=300)
    except Exception as error:
        servers.stop()
        raise RuntimeError(f"servers did not start:\n{server_logs(workdir)}") from error
    yield servers
    servers.stop()


def create_agent_in(url: str) -> None:
    with session_scope(url) as db:
        create_agent(db, "agent@harbor.example", "Sam Agent", "agent", PASSWORDS["agent"])


def wait_for(condition: Callable[[], Any], what: str, live: ServerSet, timeout: float = DEADLINE) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout:.0f}s\n{server_logs(live.log_dir)}")
        time.sleep(0.3)


def new_customer_asks(live: ServerSet, text: str) -> Tuple[str, List[dict]]:
    sender = f"rest-{uuid.uuid4().hex[:12]}"
    return sender, say(live.rasa_url, sender, text)


def test_an_approved_agent_reply_answers_the_next_customer(live: ServerSet) -> None:
    # before: nobody has answered this, so the bot has no past reply for it
    _, before = new_customer_asks(live, NEW_WORDING)
    assert REPLY not in joined(before), joined(before)

    customer = SocketCustomer(live.rasa_url)
    conversation = customer.conversation_id
    inbox = httpx.Client(base_url=live.inbox_url, timeout=30)
    try:
        first = customer.ask(QUESTION)
        assert REPLY not in first, first
        handoff = customer.ask(ASK_FOR_PERSON)
        assert "service team" in handoff or "person" in handoff, handoff

        login = inbox.post("/api/auth/login", json={"email": "agent@harbor.example", "password": PASSWORDS["agent"]})
        assert login.status_code == 200, login.text
        headers = {"X-CSRF-Token": login.json()["csrf_token"]}
        queue = wait_for(lambda: inbox.get("/api/escalations").json(), "escalation in the queue", live)
        assert queue[0]["conversation_id"] == conversation

        assert inbox.post(f"/api/conversations/{conversation}/take-over", headers=headers).status_code == 200
        before_reply = len(customer.received)
        sent = inbox.post(f"/api/conversations/{conversation}/replies", json={"text": REPLY}, headers=headers)
        assert sent.status_code == 202 and sent.json()["status"] == "sent", sent.text
        wait_for(lambda: len(customer.received) > before_reply, "agent reply in the customer's widget", live)
        assert customer.received[-1]["text"] == REPLY
        resolved = inbox.post(f"/api/conversations/{conversation}/resolve", headers=headers)
        assert resolved.status_code == 200, resolved.text

        proposals = inbox.get("/api/harvest/proposals").json()
        assert [(p["conversation_id"], p["status"]) for p in proposals] == [(conversation, "proposed")], proposals
        proposal = proposals[0]
        assert QUESTION in proposal["question"] and ASK_FOR_PERSON not in proposal["question"], proposal
        assert proposal["reply"] == REPLY, proposal
        approved = inbox.post(f"/api/harvest/proposals/{proposal['id']}/approve", headers=headers)
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved" and approved.json()["past_reply_id"], approved.text
        past_reply_id = approved.json()["past_reply_id"]
    finally:
        customer.close()
        inbox.close()

    # no customer asks until the action server has embedded the approved reply: its timer, not a question, does it
    def embedded() -> bool:
        with session_scope(live.db_url) as db:
            return db.scalar(select(PastReply.embedding_model).where(PastReply.id == past_reply_id)) is not None

    wait_for(embedded, "embedding of the approved reply by the action server's refresh timer", live)
    time.sleep(REFRESH_SECONDS)  # the refresh marks the row, then swaps the changed index in
    sender, replies = new_customer_asks(live, NEW_WORDING)  # the first customer after the approval, in other words
    answer = joined(replies)
    assert REPLY in answer and "answered a similar question" in answer, answer

    def answers_to(sender: str) -> List[Tuple[str, Any]]:
        with session_scope(live.db_url) as db:
            rows = db.execute(
                select(Message.answer_source, Message.past_reply_id).where(
                    Message.conversation_id == sender, Message.author == "bot"
                )
            )
            return [tuple(row) for row in rows]

    logged_answer = logged(lambda: answers_to(sender), lambda rows: ("retrieval", past_reply_id) in rows)
    assert ("retrieval", past_reply_id) in logged_answer, logged_answer
