"""Real HTTP on 127.0.0.1 for connector tests: a fake platform API and the connector's Sanic blueprint.

The webhook runs in a real Sanic server (as `rasa run` mounts it, under /webhooks/<name>/) and replies go
over real HTTP to a small aiohttp server standing in for the platform, which records every request.
Rasa itself is replaced by `FakeRasaAgent`, which records the UserMessage and answers through the channel's
OutputChannel the way Rasa's processor does.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Text, Tuple

import aiohttp
from aiohttp import web
from rasa.core.channels.channel import UserMessage
from sanic import Sanic
from sqlalchemy import func, select

from bot.channels.webhooks import WebhookInput
from storage.engine import session_scope
from storage.models import ChannelDelivery


@dataclass
class PlatformRequest:
    method: Text
    path: Text
    query: Dict[Text, Text]
    headers: Dict[Text, Text]
    json: Any


@dataclass
class FileAnswer:
    """A non-JSON answer (a file server's bytes) or a JSON one with an error status."""

    body: bytes
    content_type: Text = "application/octet-stream"
    status: int = 200

    @classmethod
    def json(cls, answer: Any, status: int) -> "FileAnswer":
        return cls(json.dumps(answer).encode(), "application/json", status)


class FakePlatform:
    """A platform API on a free local port: records requests, answers each path with canned JSON."""

    def __init__(self) -> None:
        self.requests: List[PlatformRequest] = []
        self.answers: Dict[Text, List[Any]] = {}  # path -> answers in order (the last one repeats)
        self.fail_with: Optional[int] = None  # answer every request with this HTTP status
        self._runner: Optional[web.AppRunner] = None
        self.url = ""

    def answer(self, path: Text, *bodies: Any) -> None:
        self.answers[path] = list(bodies)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body = json.loads(raw) if raw else None
        self.requests.append(
            PlatformRequest(request.method, request.path, dict(request.query), dict(request.headers), body)
        )
        if self.fail_with:
            return web.json_response({"error": {"message": "simulated outage"}}, status=self.fail_with)
        queued = self.answers.get(request.path) or [{"ok": True}]
        answer = queued.pop(0) if len(queued) > 1 else queued[0]
        if isinstance(answer, FileAnswer):
            return web.Response(body=answer.body, status=answer.status, headers={"Content-Type": answer.content_type})
        return web.json_response(answer)

    def calls(self, path: Text) -> List[PlatformRequest]:
        return [request for request in self.requests if request.path == path]


class FakeRasaAgent:
    """Stands in for `agent.handle_message`: records messages and answers `reply` (with `buttons` if set)."""

    def __init__(self) -> None:
        self.messages: List[UserMessage] = []
        self.reply = "reply"
        self.buttons: List[Dict[Text, Any]] = []

    async def on_new_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        if self.buttons:
            await message.output_channel.send_text_with_buttons(message.sender_id, self.reply, self.buttons)
        else:
            await message.output_channel.send_text_message(message.sender_id, self.reply)


class WebhookServer:
    """The connector's blueprint in a real Sanic server on a free port, mounted where Rasa mounts it."""

    def __init__(self, channel: WebhookInput, rasa: FakeRasaAgent) -> None:
        self.channel = channel
        self.rasa = rasa
        self._server: Any = None
        self.url = ""

    async def start(self) -> None:
        # several apps in one process: Sanic's test mode keeps its per-app code touch-up repeatable
        Sanic.test_mode = True
        app = Sanic(f"webhooks_{uuid.uuid4().hex}")
        app.config.MOTD = False
        app.blueprint(self.channel.blueprint(self.rasa.on_new_message), url_prefix=f"/webhooks/{self.channel.name()}")
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks/{self.channel.name()}"
        self._server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
        await self._server.startup()
        await self._server.before_start()
        await self._server.after_start()

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.before_stop()
            await self._server.close()
            await self._server.after_stop()

    async def request(
        self,
        method: Text,
        path: Text = "/webhook",
        body: bytes = b"",
        headers: Optional[Dict[Text, Text]] = None,
        params: Optional[Dict[Text, Text]] = None,
    ) -> Tuple[int, Text]:
        """Send a request and wait until whatever it handed to Rasa has been processed."""
        async with aiohttp.ClientSession() as session:
            async with session.request(method, self.url + path, data=body, headers=headers, params=params) as response:
                status, text = response.status, await response.text()
        await self.channel.handovers_done()
        return status, text


class ThreadedPlatform:
    """FakePlatform on an event loop in its own thread, for tests that are not async."""

    def __init__(self) -> None:
        self.fake = FakePlatform()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fake-platform-api", daemon=True)

    def start(self) -> str:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self.loop).result(timeout=30)
        return self.fake.url

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)

    def requests(self) -> List[PlatformRequest]:
        return list(self.fake.requests)  # appended from the loop's thread; a copy is a consistent snapshot


def delivery_rows(channel: Text, platform_message_id: Optional[Text] = None, url: Optional[Text] = None) -> int:
    """How many deliveries the database holds for a channel (and message id)."""
    query = select(func.count()).select_from(ChannelDelivery).where(ChannelDelivery.channel == channel)
    if platform_message_id is not None:
        query = query.where(ChannelDelivery.platform_message_id == platform_message_id)
    with session_scope(url) as session:
        return int(session.scalar(query) or 0)
