"""Rasa's socket.io channel with session persistence that works on current python-socketio, and with
the customer's messages screened as coming from a public page.

Rasa 3.6 calls `sio.enter_room(...)` without awaiting it; since python-socketio made it a coroutine the
socket never joins the session's room, so with `session_persistence: true` bot replies are emitted to
an empty room and the web chat customer sees nothing. We re-register `session_request` to await it.
Every message then passes bot/channels/untrusted.py's screen (only offered button payloads are read as
intents; trusted metadata keys are dropped) before Rasa sees it. Everything else is Rasa's own channel.
"""

from __future__ import annotations

import inspect
import uuid
from typing import Any, Awaitable, Callable, Dict, FrozenSet, Iterable, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from bot.channels.untrusted import DEFAULT_ALLOWED_PAYLOADS, payloads_on_offer, screen


class PersistentSocketIOInput(SocketIOInput):
    """credentials.yml key: `bot.channels.socketio.PersistentSocketIOInput` (same settings as `socketio`)."""

    allowed_payloads: FrozenSet[Text] = DEFAULT_ALLOWED_PAYLOADS

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        """Rasa's settings, plus `allowed_payloads`: what the page itself may send (its initPayload)."""
        channel = super().from_credentials(credentials)
        assert isinstance(channel, PersistentSocketIOInput)
        channel.allow_payloads((credentials or {}).get("allowed_payloads") or DEFAULT_ALLOWED_PAYLOADS)
        return channel

    def allow_payloads(self, payloads: Iterable[Text]) -> None:
        self.allowed_payloads = frozenset(str(payload) for payload in payloads)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        server: Dict[Text, Any] = {}

        async def screened(message: UserMessage) -> Any:
            offered = await payloads_on_offer(server.get("app"), message.sender_id)
            return await on_new_message(screen(message, offered | self.allowed_payloads))

        webhook = super().blueprint(screened)
        sio = self.sio
        assert sio is not None

        @webhook.listener("after_server_start")
        async def remember_app(app: Any, *_: Any) -> None:
            server["app"] = app  # its ctx.agent holds the tracker store the offered buttons are read from

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict]) -> None:
            data = data or {}
            if not data.get("session_id"):
                data["session_id"] = uuid.uuid4().hex
            if self.session_persistence:
                joined = sio.enter_room(sid, data["session_id"], namespace=self.namespace)
                if inspect.isawaitable(joined):
                    await joined
            await sio.emit("session_confirm", data["session_id"], room=sid, namespace=self.namespace)

        return webhook
