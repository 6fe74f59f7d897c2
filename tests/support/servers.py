"""Helpers for tests that talk to the real servers: a REST customer, a web chat customer, the servers' logs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, TypeVar

import requests
import socketio

from runner.servers import api_token

T = TypeVar("T")


def say(rasa_url: str, sender: str, text: str) -> List[Dict[str, Any]]:
    response = requests.post(
        f"{rasa_url}/webhooks/rest/webhook",
        json={"sender": sender, "message": text},
        headers={"Authorization": f"Bearer {api_token()}"},  # the REST channel wants the token (bot/channels/rest.py)
        timeout=60,
    )
    response.raise_for_status()
    return response.json()


def joined(replies: List[Dict[str, Any]]) -> str:
    return " ".join(r.get("text") or "" for r in replies)


class SocketCustomer:
    """A web chat customer speaking Rasa's socket.io protocol, as rasa-webchat does."""

    def __init__(self, rasa_url: str, session_id: Optional[str] = None) -> None:
        self.session_id = session_id  # what the page claims; the server's confirmed token replaces it
        self.received: List[Dict[str, Any]] = []
        self.confirmed = False
        self.client = socketio.Client(reconnection=False)
        self.client.on("bot_uttered", self.received.append)
        self.client.on("session_confirm", self._confirm)
        self.client.connect(rasa_url, socketio_path="socket.io", transports=["websocket"])
        self.client.emit("session_request", {"session_id": session_id})
        self._wait(lambda: self.confirmed, "session_confirm")

    def _confirm(self, confirmed: Any) -> None:
        """Keep what the server confirmed, as rasa-webchat does (a string or `{session_id}`)."""
        self.session_id = confirmed["session_id"] if isinstance(confirmed, dict) else confirmed
        self.confirmed = True

    @property
    def conversation_id(self) -> str:
        """Rasa's id for the conversation: the session token without its signature."""
        assert self.session_id is not None
        return self.session_id.split(".", 1)[0]

    def ask(self, text: str, timeout: float = 60) -> str:
        """Send one message and return the bot's reply texts (waits until replies stop arriving)."""
        start = len(self.received)
        self.client.emit(
            "user_uttered", {"message": text, "session_id": self.session_id, "customData": {"language": "en"}}
        )
        self._wait(lambda: len(self.received) > start, f"a reply to {text!r}", timeout)
        settled = len(self.received)
        while True:  # a turn may produce several messages; wait until a quiet second
            time.sleep(1.0)
            if len(self.received) == settled:
                break
            settled = len(self.received)
        return " ".join(m.get("text") or "" for m in self.received[start:])

    def _wait(self, condition, what: str, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {what} within {timeout}s")
            time.sleep(0.1)

    def close(self) -> None:
        self.client.disconnect()


def server_logs(log_dir: Optional[Path]) -> str:
    if log_dir is None:
        return ""
    return "\n".join(f"--- {log.name}\n{log.read_text()[-4000:]}" for log in sorted(log_dir.glob("*.log")))


def logged(read: Callable[[], T], ready: Callable[[T], bool], timeout: float = 15.0) -> T:
    """What `read` returns once `ready` says the interaction log has caught up (or after `timeout`, for the
    test's own assertion to report). The event broker stores messages from its writer thread, just after
    Rasa answers, so a test reading the log right after a reply must give it a moment."""
    deadline = time.monotonic() + timeout
    value = read()
    while not ready(value) and time.monotonic() < deadline:
        time.sleep(0.05)
        value = read()
    return value
