"""Inbox fixtures: a fresh migrated SQLite database per test, a fake Rasa HTTP API on 127.0.0.1 that
records what the inbox sends, and a TestClient on the real app."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple
from urllib.parse import parse_qs, urlparse

import pytest
import uvicorn
from fastapi.testclient import TestClient

from conversations.projection import record_event
from inbox.main import create_app
from inbox.services.agents import create_agent
from inbox.settings import Settings
from storage.engine import session_scope
from storage.models import Conversation, Escalation
from tests.support.databases import migrated_sqlite
from tests.support.network import free_port

RASA_TOKEN = "rasa-test-token"
PASSWORDS = {"admin": "admin-password-123", "agent": "agent-password-123"}


@dataclass
class RecordedRequest:
    path: str
    query: Dict[str, List[str]]
    body: Any

    @property
    def token(self) -> Optional[str]:
        return (self.query.get("token") or [None])[0]


@dataclass
class FakeRasa:
    """Rasa's HTTP API as far as the inbox uses it; `on_event` can play the event broker."""

    url: str = ""
    requests: List[RecordedRequest] = field(default_factory=list)
    status: int = 200
    on_event: Optional[Callable[[str, Dict[str, Any]], None]] = None
    # what the connectors' media routes hand over: "telegram/<media id>" -> (bytes, content type)
    media: Dict[str, Tuple[bytes, str]] = field(default_factory=dict)


def error_body(message: str) -> Tuple[bytes, str]:
    return json.dumps({"error": message}).encode(), "application/json"


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            parsed = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            fake.requests.append(RecordedRequest(parsed.path, parse_qs(parsed.query), body))
            if fake.status < 400 and fake.on_event is not None:
                conversation_id = parsed.path.split("/")[2]
                fake.on_event(conversation_id, body)
            payload = json.dumps({"events": []}).encode()
            self.send_response(fake.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming): GET /webhooks/<channel>/media/<id>
            parsed = urlparse(self.path)
            fake.requests.append(RecordedRequest(parsed.path, parse_qs(parsed.query), None))
            _, _, channel, _, media_id = parsed.path.split("/")
            found = fake.media.get(f"{channel}/{media_id}")
            if self.headers.get("Authorization") != f"Bearer {RASA_TOKEN}":
                status, body, kind = 403, json.dumps({"error": "token required"}).encode(), "application/json"
            elif found is None:
                status, body, kind = (
                    404,
                    json.dumps({"error": f"{channel} no longer has this file"}).encode(),
                    "application/json",
                )
            else:
                status, (body, kind) = 200, found
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """scrypt at 1/16 of the production cost: the tests hash and check dozens of passwords on a shared CPU.
    The parameters travel with each hash, so verification is unchanged; test_auth checks the real cost."""
    import inbox.security

    monkeypatch.setattr(inbox.security, "SCRYPT_N", 2**10)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return migrated_sqlite(tmp_path / "inbox.db")


def make_settings(db_url: str, rasa_url: str, **overrides: Any) -> Settings:
    values: Dict[str, Any] = dict(
        secret_key="test-secret-key-" + "x" * 40,
        database_url=db_url,
        rasa_url=rasa_url,
        rasa_api_token=RASA_TOKEN,
        env="test",
        cookie_secure=False,
        sse_poll_seconds=0.1,
        sse_max_seconds=10.0,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(db_url: str, fake_rasa: FakeRasa) -> Settings:
    return make_settings(db_url, fake_rasa.url)


@pytest.fixture
def app(settings: Settings):  # type: ignore[no-untyped-def]
    return create_app(settings)


@pytest.fixture
def agents(db_url: str) -> Dict[str, int]:
    """An admin, an agent and a second agent; returns their ids by role name."""
    ids = {}
    with session_scope(db_url) as db:
        for key, email, role in (
            ("admin", "admin@harbor.example", "admin"),
            ("agent", "agent@harbor.example", "agent"),
            ("agent2", "agent2@harbor.example", "agent"),
        ):
            ids[key] = create_agent(db, email, key.title(), role, PASSWORDS.get(key, PASSWORDS["agent"])).id
    return ids


def client_for(app, ip: str = "testclient") -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(app, base_url="http://inbox.test", client=(ip, 50000))


@dataclass
class LoggedIn:
    client: TestClient
    csrf: str

    def post(self, path: str, json: Any = None, **kwargs: Any):  # type: ignore[no-untyped-def]
        return self.client.post(path, json=json, headers={"X-CSRF-Token": self.csrf}, **kwargs)

    def patch(self, path: str, json: Any = None):  # type: ignore[no-untyped-def]
        return self.client.patch(path, json=json, headers={"X-CSRF-Token": self.csrf})

    def delete(self, path: str):  # type: ignore[no-untyped-def]
        return self.client.delete(path, headers={"X-CSRF-Token": self.csrf})

    def get(self, path: str, **kwargs: Any):  # type: ignore[no-untyped-def]
        return self.client.get(path, **kwargs)


def login(app, role: str) -> LoggedIn:  # type: ignore[no-untyped-def]
    client = client_for(app)
    email = {"admin": "admin@harbor.example", "agent": "agent@harbor.example", "agent2": "agent2@harbor.example"}[role]
    password = PASSWORDS.get(role, PASSWORDS["agent"])
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return LoggedIn(client, response.json()["csrf_token"])


@pytest.fixture
def admin(app, agents) -> LoggedIn:  # type: ignore[no-untyped-def]
    return login(app, "admin")


@pytest.fixture
def agent(app, agents) -> LoggedIn:  # type: ignore[no-untyped-def]
    return login(app, "agent")


def customer_says(
    db_url: str,
    conversation_id: str,
    text: str,
    channel: str = "socketio",
    intent: str = "complain",
    sentiment: Optional[Dict[str, Any]] = None,
    at: Optional[float] = None,
    metadata: Optional[Dict[str, Any]] = None,
) -> int:
    """A customer message through the same writer Rasa's event broker uses."""
    event = {
        "sender_id": conversation_id,
        "event": "user",
        "timestamp": at or time.time(),
        "text": text,
        "input_channel": channel,
        "message_id": f"{conversation_id}-{time.monotonic_ns()}",
        "parse_data": {"intent": {"name": intent, "confidence": 0.91}, "entities": [], "sentiment": sentiment},
        "metadata": metadata or {},
    }
    with session_scope(db_url) as db:
        message = record_event(db, event)
        assert message is not None
        return message.id


def bot_says(
    db_url: str,
    conversation_id: str,
    text: str,
    at: Optional[float] = None,
    data: Optional[Dict[str, Any]] = None,
    **metadata: Any,
) -> int:
    event = {
        "sender_id": conversation_id,
        "event": "bot",
        "timestamp": at or time.time(),
        "text": text,
        "metadata": metadata,
        "data": data or {},
    }
    with session_scope(db_url) as db:
        message = record_event(db, event)
        assert message is not None
        return message.id


def escalate(
    db_url: str, conversation_id: str, priority: int, reason: str = "complaint", minutes_ago: float = 0
) -> int:
    """What the action server's action_escalate records."""
    from datetime import timedelta

    from storage.models import utcnow

    with session_scope(db_url) as db:
        db.get(Conversation, conversation_id).status = "escalated"
        escalation = Escalation(
            conversation_id=conversation_id,
            reason=reason,
            priority=priority,
            note="escalated in a test",
            created_at=utcnow() - timedelta(minutes=minutes_ago),
        )
        db.add(escalation)
        db.flush()
        return escalation.id


def broker_for(db_url: str) -> Callable[[str, Dict[str, Any]], None]:
    """Plays Rasa's event broker: a bot event posted to the fake Rasa lands in `messages` once."""

    def on_event(conversation_id: str, event: Dict[str, Any]) -> None:
        if event.get("event") == "bot":
            with session_scope(db_url) as db:
                record_event(db, {**event, "sender_id": conversation_id, "timestamp": time.time(), "data": {}})

    return on_event


@pytest.fixture
def server_url(settings, agents) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The real app under uvicorn on a free port: streams and browsers need a real server."""
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
