"""The inbox's one client for Rasa's HTTP API: agent replies, pause (take over) and resume (hand back).

Rasa stores each event in the tracker and publishes it to the event broker, which writes the agent's
reply to `messages` (author=agent); the inbox therefore never writes the reply itself.
"""

from __future__ import annotations

from typing import Any, Dict, Optional
from urllib.parse import quote

import httpx

from inbox.errors import RasaUnavailable


class RasaClient:
    def __init__(
        self, base_url: str, token: str, timeout: float = 10.0, transport: Optional[httpx.BaseTransport] = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.transport = transport

    def _append_event(self, conversation_id: str, event: Dict[str, Any]) -> None:
        """POST one tracker event; `output_channel=latest` + side effects deliver bot events to the customer's
        channel (the one they last wrote from)."""
        url = f"{self.base_url}/conversations/{quote(conversation_id, safe='')}/tracker/events"
        params = {"output_channel": "latest", "execute_side_effects": "true", "token": self.token}
        try:
            with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
                response = client.post(url, params=params, json=event)
        except httpx.HTTPError as error:
            raise RasaUnavailable(f"Rasa did not answer at {self.base_url}: {error.__class__.__name__}") from error
        if response.status_code >= 400:
            raise RasaUnavailable(f"Rasa refused the {event['event']} event: HTTP {response.status_code}")

    def send_agent_reply(self, conversation_id: str, text: str, agent_id: int, agent_name: str) -> None:
        self._append_event(
            conversation_id,
            {"event": "bot", "text": text, "metadata": {"author": "agent", "agent_id": agent_id, "agent": agent_name}},
        )

    def pause(self, conversation_id: str) -> None:
        self._append_event(conversation_id, {"event": "pause"})

    def resume(self, conversation_id: str) -> None:
        self._append_event(conversation_id, {"event": "resume"})
