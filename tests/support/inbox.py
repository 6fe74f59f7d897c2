"""The inbox under test: its settings, signed-in clients, what a fake of Rasa's HTTP API records, and
conversation history written the way Rasa's event broker and the action server write it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from fastapi.testclient import TestClient

from conversations.projection import record_event
from inbox.settings import Settings
from storage.engine import session_scope
from storage.models import Conversation, Escalation

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
class FakeRasaApi:
    """Rasa's HTTP API as far as the inbox uses it; `on_event` can play the event broker."""

    url: str = ""
    requests: List[RecordedRequest] = field(default_factory=list)
    status: int = 200
    on_event: Optional[Callable[[str, Dict[str, Any]], None]] = None
    # what the connectors' media routes hand over: "telegram/<media id>" -> (bytes, content type)
    media: Dict[str, Tuple[bytes, str]] = field(default_factory=dict)


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
