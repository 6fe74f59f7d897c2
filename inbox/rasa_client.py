"""The inbox's one client for Rasa's HTTP API: agent replies, pause (take over) and resume (hand back).

Rasa stores each event in the tracker and publishes it to the event broker, which writes the agent's
reply to `messages` (author=agent); the inbox therefore never writes the reply itself.

Conversation ids go into Rasa's URLs as they are. Rasa routes `/conversations/<conversation_id:path>/…`
with Sanic, which matches the raw request path and never percent-decodes it: `whatsapp%3A15550001111`
would be a different (new, empty) tracker from `whatsapp:15550001111`. So an id is sent unencoded, and an
id with a character that would need encoding (a space, `?`, `#`, `/`, `%`, non-ASCII, control characters)
cannot be addressed at all: it is refused before anything is sent, instead of pausing or writing to a
conversation nobody is in. Every id our connectors make (web chat's uuid hex, `facebook:<psid>`,
`instagram:<igsid>`, `whatsapp:<digits>`, `telegram:<chat id, negative for groups>`, `twitter:<user id>`,
`wechat:<openid>`) is made of the characters allowed here.
"""

from __future__ import annotations

import string
from typing import Any, Dict, Optional, Tuple
from urllib.parse import quote

import httpx

from inbox.errors import InvalidInput, NotFound, RasaUnavailable

MAX_CONVERSATION_ID_LENGTH = 255  # the `conversations.id` column, and more than any channel makes
# RFC 3986 path characters that travel unencoded (unreserved, sub-delims, ":" and "@"), without "%": Rasa
# would see an escape as the three characters it is made of.
PARSE_TIMEOUT_SECONDS = 5.0  # the review page waits for the model's top intents at most this long
ADDRESSABLE_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@")


def conversation_path(conversation_id: str) -> str:
    """The id as it must appear in Rasa's URL (unchanged), or InvalidInput saying why it cannot."""
    if not conversation_id or len(conversation_id) > MAX_CONVERSATION_ID_LENGTH:
        raise InvalidInput(f"A conversation id has 1 to {MAX_CONVERSATION_ID_LENGTH} characters.")
    wrong = sorted({c for c in conversation_id if c not in ADDRESSABLE_CHARACTERS})
    if wrong or conversation_id in (".", ".."):  # a dot segment is normalised away on the way
        what = "contains " + ", ".join(repr(c) for c in wrong[:5]) if wrong else "is a path step"
        raise InvalidInput(
            f"This conversation id {what}: Rasa's HTTP API cannot address such an id (it does not decode "
            "percent-escapes), so the bot cannot be paused, resumed or answered for it from the inbox."
        )
    return conversation_id


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
        url = f"{self.base_url}/conversations/{conversation_path(conversation_id)}/tracker/events"
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

    def parse(self, text: str) -> Dict[str, Any]:
        """Rasa's NLU reading of `text` by the model it runs now (`POST /model/parse`): the review queue offers
        its top intents to the annotator. Nothing is stored in any tracker."""
        url = f"{self.base_url}/model/parse"
        try:
            with httpx.Client(timeout=min(self.timeout, PARSE_TIMEOUT_SECONDS), transport=self.transport) as client:
                response = client.post(url, params={"token": self.token}, json={"text": text})
        except httpx.HTTPError as error:
            raise RasaUnavailable(f"Rasa did not answer at {self.base_url}: {error.__class__.__name__}") from error
        if response.status_code >= 400:
            raise RasaUnavailable(f"Rasa could not parse the message: HTTP {response.status_code}")
        try:
            parsed = response.json()
        except ValueError as error:
            raise RasaUnavailable("Rasa's parse was not JSON") from error
        if not isinstance(parsed, dict):
            raise RasaUnavailable("Rasa's parse was not a JSON object")
        return parsed

    def fetch_media(self, channel: str, media_id: str) -> Tuple[bytes, str]:
        """A customer's file, fetched by the Rasa server from the platform (it holds the channel's token).
        The token goes in a header here: media URLs end up in access logs."""
        url = f"{self.base_url}/webhooks/{quote(channel, safe='')}/media/{quote(media_id, safe='')}"
        try:
            with httpx.Client(timeout=max(self.timeout, 60.0), transport=self.transport) as client:
                response = client.get(url, headers={"Authorization": f"Bearer {self.token}"})
        except httpx.HTTPError as error:
            raise RasaUnavailable(f"Rasa did not answer at {self.base_url}: {error.__class__.__name__}") from error
        if response.status_code == 404:
            raise NotFound(_error_text(response) or f"Rasa has no {channel} media route: is the channel configured?")
        if response.status_code >= 400:
            raise RasaUnavailable(f"The file could not be fetched: {_error_text(response) or response.status_code}")
        return response.content, response.headers.get("Content-Type", "application/octet-stream").split(";")[0]


def _error_text(response: httpx.Response) -> str:
    try:
        answer = response.json()
    except ValueError:
        return ""
    return str(answer.get("error") or "") if isinstance(answer, dict) else ""
