"""Server-sent events through a real uvicorn server: a message the broker writes, a new escalation and an
agent's action reach a logged-in browser's stream within a poll or two; a reconnect resumes from its id."""

from __future__ import annotations

import json
import time
from typing import Iterator, List, Tuple

import httpx

from inbox.services.events import Cursor, changes_since, current_cursor
from storage.engine import session_scope
from tests.support.inbox import PASSWORDS, customer_says, escalate


def logged_in(url: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=10)
    response = client.post("/api/auth/login", json={"email": "agent@harbor.example", "password": PASSWORDS["agent"]})
    assert response.status_code == 200
    return client


def read_events(lines: Iterator[str], wanted: int, timeout: float = 8.0) -> List[Tuple[str, str, dict]]:
    """(event, id, data) triples until `wanted` non-ready events arrived."""
    events: List[Tuple[str, str, dict]] = []
    name, event_id, data = "message", "", ""
    deadline = time.monotonic() + timeout
    for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and data:
            events.append((name, event_id, json.loads(data)))
            name, event_id, data = "message", "", ""
            if len([e for e in events if e[0] != "ready"]) >= wanted:
                return events
        assert time.monotonic() < deadline, f"only {events} within {timeout}s"
    return events


def test_stream_delivers_new_messages_escalations_and_actions(server_url: str, db_url: str) -> None:
    customer_says(db_url, "old-1", "before the stream opened")
    client = logged_in(server_url)
    with client.stream("GET", "/api/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines) == "retry: 2000"
        customer_says(db_url, "live-1", "Is anyone there?!", sentiment={"label": "negative", "confidence": 0.8})
        escalate(db_url, "live-1", priority=1)
        events = read_events(lines, wanted=2)
    kinds = [name for name, _, _ in events if name != "ready"]
    assert kinds == ["message", "escalation"]
    message = next(data for name, _, data in events if name == "message")
    assert message["conversation_id"] == "live-1" and message["text"] == "Is anyone there?!"
    assert message["author"] == "customer" and message["sentiment"]["label"] == "negative"
    assert all(data.get("text") != "before the stream opened" for _, _, data in events)  # starts from now
    escalation = next(data for name, _, data in events if name == "escalation")
    assert escalation == {**escalation, "conversation_id": "live-1", "priority": 1, "reason": "complaint"}


def test_reconnect_with_last_event_id_misses_nothing(server_url: str, db_url: str) -> None:
    customer_says(db_url, "c-1", "first")
    client = logged_in(server_url)
    with session_scope(db_url) as db:
        cursor = current_cursor(db)
    customer_says(db_url, "c-1", "sent while the browser was reconnecting")
    client.post(
        "/api/conversations/c-1/notes",
        json={"body": "a note"},
        headers={"X-CSRF-Token": client.get("/api/auth/me").json()["csrf_token"]},
    )
    with client.stream("GET", "/api/events", headers={"Last-Event-ID": cursor.encode()}) as response:
        events = read_events(response.iter_lines(), wanted=2)
    named = [(name, data.get("text") or data.get("action")) for name, _, data in events if name != "ready"]
    assert named == [("message", "sent while the browser was reconnecting"), ("conversation", "note")]
    assert events[-1][1] == Cursor.decode(events[-1][1]).encode()  # the last frame carries the new cursor


def test_stream_needs_login(server_url: str) -> None:
    response = httpx.get(server_url + "/api/events", timeout=5)
    assert response.status_code == 401


def test_changes_since_is_cheap_when_nothing_happened(db_url: str) -> None:
    customer_says(db_url, "c-1", "hello")
    with session_scope(db_url) as db:
        cursor = current_cursor(db)
        assert changes_since(db, cursor) == ([], cursor)
        events, after = changes_since(db, Cursor())
    assert [name for name, _ in events] == ["message"] and after == cursor
    assert Cursor.decode("garbage") is None and Cursor.decode("1.2") is None and Cursor.decode("-1.0.0") is None
