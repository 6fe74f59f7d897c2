"""Inbox fixtures: a fresh migrated SQLite database per test, a fake Rasa HTTP API on 127.0.0.1 that
records what the inbox sends, and a TestClient on the real app (tests/support/inbox_fixtures.py, shared
with tests/security); and the real app under uvicorn."""

from __future__ import annotations

import threading
import time
from typing import Iterator

import pytest
import uvicorn

from inbox.main import create_app
from tests.support.inbox_fixtures import (  # noqa: F401 (fixtures)
    admin,
    agent,
    agents,
    app,
    cheap_password_hashing,
    db_url,
    fake_rasa,
    settings,
)
from tests.support.network import free_port


@pytest.fixture
def server_url(settings, agents) -> Iterator[str]:  # type: ignore[no-untyped-def]  # noqa: F811
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
