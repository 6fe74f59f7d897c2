"""Rasa's socket.io channel with session persistence that works on current python-socketio.

Rasa 3.6 calls `sio.enter_room(...)` without awaiting it; since python-socketio made it a coroutine the
socket never joins the session's room, so with `session_persistence: true` bot replies are emitted to
an empty room and the web chat customer sees nothing. We re-register `session_request` to await it;
everything else is Rasa's own channel.
"""

from __future__ import annotations

import inspect
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint


class PersistentSocketIOInput(SocketIOInput):
    """credentials.yml key: `bot.channels.socketio.PersistentSocketIOInput` (same settings as `socketio`)."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None

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
