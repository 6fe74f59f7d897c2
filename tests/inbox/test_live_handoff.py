"""The handoff against the real servers (Rasa with the trained model, the action server, the inbox process):
a web chat customer asks for a person, the escalation reaches the inbox's queue, an agent takes over and
replies through the inbox API, the reply arrives in the customer's socket.io session and is logged once,
and after hand back the bot answers again. Needs `make train`'s model; started like `make run` does."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from sqlalchemy import select

from inbox.services.agents import create_agent
from runner.servers import Ports, ServerSet
from storage.engine import session_scope
from storage.models import Message
from tests.support.databases import migrated_sqlite
from tests.support.inbox import PASSWORDS
from tests.support.network import free_port

pytestmark = [pytest.mark.needs_model, pytest.mark.integration]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerSet]:
    workdir: Path = tmp_path_factory.mktemp("live_inbox")
    url = migrated_sqlite(workdir / "coverline.db")
    with session_scope(url) as db:
        create_agent(db, "agent@harbor.example", "Sam Agent", "agent", PASSWORDS["agent"])
    servers = ServerSet(
        ports=Ports(rasa=free_port(), actions=free_port(), webchat=free_port(), inbox=free_port()),
        db_url=url,
        with_webchat=False,
        with_inbox=True,
        log_dir=workdir,
    )
    servers.start()
    try:
        servers.wait_ready(timeout=300)
    except Exception as error:
        servers.stop()
        logs = "\n".join(p.read_text()[-3000:] for p in workdir.glob("*.log"))
        raise RuntimeError(f"servers did not start:\n{logs}") from error
    yield servers
    servers.stop()


def wait_for(condition, what: str, timeout: float = 30):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"no {what} within {timeout}s"
        time.sleep(0.3)


def test_handoff_through_the_inbox_reaches_the_web_chat_customer(live: ServerSet) -> None:
    from tests.support.servers import SocketCustomer

    customer = SocketCustomer(live.rasa_url)
    conversation = customer.conversation_id  # the server issues the session; the page cannot choose it
    inbox = httpx.Client(base_url=live.inbox_url, timeout=30)
    try:
        answer = customer.ask("i want to talk to a human")
        assert "service team" in answer or "person" in answer, answer
        login = inbox.post("/api/auth/login", json={"email": "agent@harbor.example", "password": PASSWORDS["agent"]})
        headers = {"X-CSRF-Token": login.json()["csrf_token"]}
        queue = wait_for(lambda: inbox.get("/api/escalations").json(), "escalation in the queue")
        assert queue[0]["conversation_id"] == conversation and queue[0]["channel"] == "socketio"

        assert inbox.post(f"/api/conversations/{conversation}/take-over", headers=headers).status_code == 200
        before = len(customer.received)
        reply = inbox.post(
            f"/api/conversations/{conversation}/replies",
            json={"text": "Hi, Sam here from the service team."},
            headers=headers,
        )
        assert reply.status_code == 202 and reply.json()["status"] == "sent", reply.text
        wait_for(lambda: len(customer.received) > before, "agent reply in the customer's widget")
        assert customer.received[-1]["text"] == "Hi, Sam here from the service team."

        def agent_rows() -> list:
            with session_scope(live.db_url) as db:
                return list(db.scalars(select(Message).where(Message.author == "agent")))

        rows = wait_for(agent_rows, "the agent's reply in the interaction log")
        time.sleep(1)
        rows = agent_rows()
        assert [(r.text, r.answer_source, r.channel) for r in rows] == [
            ("Hi, Sam here from the service team.", "agent", "socketio")
        ]
        transcript = inbox.get(f"/api/conversations/{conversation}").json()["messages"]
        assert (transcript[-1]["author"], transcript[-1]["agent_name"]) == ("agent", "Sam Agent")

        assert inbox.post(f"/api/conversations/{conversation}/hand-back", headers=headers).status_code == 200
        again = customer.ask("what are your opening hours?")
        assert again and again != "Hi, Sam here from the service team.", again
    finally:
        customer.close()
        inbox.close()
