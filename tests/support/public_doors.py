"""Shared by tests/security/test_public_doors_*.py: a web chat customer speaking socket.io as rasa-webchat
does, and Coverline's input channels in a real Sanic server with a stand-in for Rasa that answers
through the channel's output channel (for the checks that do not need the trained model)."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, Text

import socketio
from rasa.core.channels.channel import InputChannel, UserMessage, register
from sanic import Sanic

from runner.servers import api_token

TIMEOUT = 60.0


def rest_headers(token: Optional[Text] = None) -> Dict[Text, Text]:
    """What a trusted integration sends to the REST channel: the Rasa API token as a bearer token."""
    return {"Authorization": f"Bearer {token or api_token()}"}


class WebChatCustomer:
    """One browser tab's socket: `session_request` as rasa-webchat sends it, then `user_uttered`."""

    def __init__(self, url: Text, origin: Optional[Text] = None) -> None:
        self.url = url
        self.origin = origin
        self.client = socketio.AsyncClient(reconnection=False)
        self.received: List[Dict[Text, Any]] = []
        self.confirmations: List[Any] = []
        self.client.on("bot_uttered", self.received.append)
        self.client.on("session_confirm", self.confirmations.append)

    @property
    def session_id(self) -> Text:
        """What rasa-webchat stores: the confirmed string, or the `session_id` of a confirmed object."""
        confirmed = self.confirmations[-1]
        return confirmed["session_id"] if isinstance(confirmed, dict) else confirmed

    @property
    def conversation_id(self) -> Text:
        """The id Rasa keeps the conversation under: the token's part before the signature."""
        return self.session_id.split(".", 1)[0]

    async def open(self, session_id: Optional[Text] = None) -> Text:
        """Connect and ask for a session, as the widget does on page load (with its stored id, if any).

        Long-polling, not websocket: python-engineio's async websocket client needs a newer aiohttp than
        Rasa 3.6 allows. The server treats both transports alike (rasa-webchat starts with polling too)."""
        headers = {"Origin": self.origin} if self.origin else {}
        await self.client.connect(self.url, socketio_path="socket.io", transports=["polling"], headers=headers)
        return await self.request(session_id)

    async def request(self, session_id: Optional[Text]) -> Text:
        """`session_request` on the open socket; returns what the server confirmed."""
        before = len(self.confirmations)
        await self.client.emit("session_request", {"session_id": session_id})
        await wait_until(lambda: len(self.confirmations) > before, "session_confirm")
        return self.session_id

    async def say(self, text: Text, session_id: Optional[Text] = None) -> None:
        """Send a message; `session_id` is what the client claims (rasa-webchat sends its stored one)."""
        claimed = self.session_id if session_id is None else session_id
        await self.client.emit(
            "user_uttered", {"message": text, "session_id": claimed, "customData": {"language": "en"}}
        )

    async def ask(self, text: Text, timeout: float = TIMEOUT) -> Text:
        """Send one message and return the texts of the replies (until a quiet second)."""
        start = len(self.received)
        await self.say(text)
        await wait_until(lambda: len(self.received) > start, f"a reply to {text[:60]!r}", timeout)
        settled = len(self.received)
        while True:
            await asyncio.sleep(1.0)
            if len(self.received) == settled:
                break
            settled = len(self.received)
        return " ".join(m.get("text") or "" for m in self.received[start:])

    def texts(self) -> List[Text]:
        return [m.get("text") or "" for m in self.received]

    async def close(self) -> None:
        """Leave as a closed tab does. The client's own disconnect waits for its pending long-poll (up to
        the 25 s ping interval); the server learns of the close from the engine.io close packet either way."""
        eio = self.client.eio
        reading = eio.read_loop_task
        await eio.disconnect(abort=True)
        for task in (reading, eio.write_loop_task):
            if task is not None and not task.done():
                task.cancel()
        if eio.http is not None and not eio.http.closed:
            await eio.http.close()


def socket_opens(url: Text, origin: Optional[Text]) -> bool:
    """Whether a socket.io connection with this Origin header is accepted (None: websocket-client's own
    default, the server's address). The synchronous client over websocket: a refused connection returns at
    once, where the async client over long-polling waits for its pending poll (~30 s) before raising."""
    client = socketio.Client(reconnection=False, websocket_extra_options={"origin": origin} if origin else {})
    try:
        client.connect(url, socketio_path="socket.io", transports=["websocket"])
    except socketio.exceptions.ConnectionError:
        return False
    client.disconnect()
    return True


async def wait_until(condition: Callable[[], Any], what: Text, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout}s")
        await asyncio.sleep(0.05)


class EchoRasa:
    """Stands in for Rasa's `agent.handle_message`: records each message and answers `echo: <text>`.
    `tracker_store` is where the channels read the buttons the bot offered (as from Rasa's agent)."""

    def __init__(self, tracker_store: Any = None) -> None:
        self.messages: List[UserMessage] = []
        self.tracker_store = tracker_store

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")

    def senders(self) -> List[Text]:
        return [message.sender_id for message in self.messages]


class ChannelServer:
    """Input channels in a real Sanic server on a free port, registered with Rasa's own `register` (so
    mounted under /webhooks/<name>/ and socket.io at /socket.io, as `rasa run` does)."""

    def __init__(self, channels: Sequence[InputChannel], rasa: Optional[EchoRasa] = None) -> None:
        self.channels = list(channels)
        self.rasa = rasa or EchoRasa()
        self._server: Any = None
        self.url = ""

    async def start(self) -> None:
        Sanic.test_mode = True  # several apps in one process (see tests/support/channels.py)
        app = Sanic(f"doors_{uuid.uuid4().hex}")
        app.config.MOTD = False
        app.ctx.agent = self.rasa  # Rasa's `register` hands messages to app.ctx.agent.handle_message
        register(self.channels, app, route="/webhooks/")
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
        await self._server.startup()
        await self._server.before_start()
        await self._server.after_start()

    async def stop(self) -> None:
        for channel in self.channels:  # socket.io first: it keeps a ping task per connected client
            sio = getattr(channel, "sio", None)
            if sio is not None:
                await sio.shutdown()
        for task in asyncio.all_tasks():  # engine.io's per-socket ping timers sleep 25 s; not ours to wait for
            if getattr(task.get_coro(), "__qualname__", "") == "AsyncSocket._send_ping":
                task.cancel()
        if self._server is not None:
            await self._server.before_stop()
            await self._server.close()
            await self._server.after_stop()


async def run_with(server: ChannelServer, body: Callable[[], Awaitable[None]]) -> None:
    await server.start()
    try:
        await body()
    finally:
        await server.stop()
