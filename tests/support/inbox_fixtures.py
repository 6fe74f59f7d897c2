"""The inbox's fixtures: a fresh migrated SQLite database per test, a fake Rasa HTTP API on 127.0.0.1 that
records what the inbox sends, the real app, and signed-in agents. tests/inbox/conftest.py offers them to
tests/inbox; the tests/security modules that attack the inbox import them by name, so the cheap password
hashing stays with the inbox's tests."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Iterator
from urllib.parse import parse_qs, urlparse

import pytest

from inbox.main import create_app
from inbox.services.agents import create_agent
from inbox.settings import Settings
from storage.engine import session_scope
from tests.support.databases import migrated_sqlite
from tests.support.inbox import PASSWORDS, RASA_TOKEN, FakeRasaApi, LoggedIn, RecordedRequest, login, make_settings


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasaApi]:
    fake = FakeRasaApi()

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


@pytest.fixture
def settings(db_url: str, fake_rasa: FakeRasaApi) -> Settings:
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


@pytest.fixture
def admin(app, agents) -> LoggedIn:  # type: ignore[no-untyped-def]
    return login(app, "admin")


@pytest.fixture
def agent(app, agents) -> LoggedIn:  # type: ignore[no-untyped-def]
    return login(app, "agent")
