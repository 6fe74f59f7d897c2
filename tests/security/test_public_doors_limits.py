"""Issue 12, findings 5 and 6 at the public doors: limits, with a clear reply and no stall.

Before the fix: one 900 kB web chat message held the Rasa server ~17 s (a REST "hi" sent meanwhile took
17 s), a NUL byte was stored raw, and the REST channel answered 500 to an empty, `[]` or `null` body.

Now (bot/channels/limits.py, applied by socketio.py, rest.py and the social connectors' webhooks.py):
- text over 2,000 characters is refused with the bot's "too long" reply and never reaches Rasa;
- a socket.io packet over 256 KiB closes that socket before it is parsed; a REST body over 64 KiB is 413;
- NUL, other control characters and lone surrogates are stripped from the text (tab and newlines stay);
- a REST body that is not one JSON object with a string `sender` (1-255 characters, no control
  characters) and a string `message` is a 400 saying what is wrong;
- web chat metadata is kept flat and small.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from pathlib import Path
from statistics import median
from typing import Iterator, List, Tuple

import aiohttp
import pytest
import requests
from sqlalchemy import select

from bot.channels.limits import MAX_TEXT_CHARS, TOO_LONG_REPLY
from bot.channels.rest import GuardedRestInput
from bot.channels.socketio import MAX_PAYLOAD_BYTES, PersistentSocketIOInput
from runner.servers import Ports, ServerSet, api_token
from storage.engine import session_scope
from storage.models import Message
from tests.support import platforms as p
from tests.support.channels import FakePlatform
from tests.support.databases import migrated_sqlite
from tests.support.network import free_port
from tests.support.platform_payloads import reply_text, with_fresh_id, with_text
from tests.support.public_doors import ChannelServer, WebChatCustomer, rest_headers, run_with, wait_until
from tests.support.servers import logged


def channels() -> List[object]:
    webchat = PersistentSocketIOInput.from_credentials({"session_persistence": True, "metadata_key": "customData"})
    return [GuardedRestInput.from_credentials({"token": api_token()}), webchat]


async def post(url: str, body: bytes) -> Tuple[int, object]:
    headers = {"Content-Type": "application/json", **rest_headers()}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/webhooks/rest/webhook", data=body, headers=headers) as answer:
            text = await answer.text()
            try:
                return answer.status, json.loads(text)
            except ValueError:
                return answer.status, text


MALFORMED = {
    "empty": b"",
    "blank": b"  \n",
    "empty list": b"[]",
    "null": b"null",
    "a string": b'"hi"',
    "not JSON": b"sender=me&message=hi",
    "broken JSON": b'{"sender": "me", "message": "hi"',
    "not UTF-8": b'{"sender": "me", "message": "\xff\xfe"}',
    "no sender": b'{"message": "hi"}',
    "sender is a number": b'{"sender": 15550001111, "message": "hi"}',
    "sender is a list": b'{"sender": ["me"], "message": "hi"}',
    "sender is empty": b'{"sender": "", "message": "hi"}',
    "sender is blank": b'{"sender": "   ", "message": "hi"}',
    "sender over 255": json.dumps({"sender": "x" * 256, "message": "hi"}).encode(),
    "sender with NUL": b'{"sender": "me\\u0000you", "message": "hi"}',
    "sender with a lone surrogate": b'{"sender": "me\\ud800", "message": "hi"}',
    "no message": b'{"sender": "me"}',
    "message is null": b'{"sender": "me", "message": null}',
    "message is an object": b'{"sender": "me", "message": {"text": "hi"}}',
    "metadata is a list": b'{"sender": "me", "message": "hi", "metadata": []}',
    "message is empty": b'{"sender": "me", "message": ""}',
    "message is blank": b'{"sender": "me", "message": " \\t\\n"}',
    "message is a NUL": b'{"sender": "me", "message": "\\u0000"}',
    "message is a lone surrogate": b'{"sender": "me", "message": "\\ud800"}',
    "message is a lone slash": b'{"sender": "me", "message": "/"}',
    "deeply nested": b'{"sender": "me", "message": "hi", "metadata": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
}


async def test_rest_answers_a_malformed_body_with_400_and_a_reason() -> None:
    server = ChannelServer(channels())

    async def scenario() -> None:
        for name, body in MALFORMED.items():
            status, answer = await post(server.url, body)
            expected = 413 if len(body) > 64 * 1024 else 400
            assert status == expected, (name, status, answer)
            assert isinstance(answer, dict) and answer.get("error"), (name, answer)
        assert server.rasa.messages == []
        status, answer = await post(
            server.url, json.dumps({"sender": "whatsapp:15550001111", "message": "hi"}).encode()
        )
        assert (status, answer) == (200, [{"recipient_id": "whatsapp:15550001111", "text": "echo: hi"}])

    await run_with(server, scenario)


async def test_rest_refuses_long_text_with_a_reply_and_strips_what_nobody_types() -> None:
    server = ChannelServer(channels())

    async def scenario() -> None:
        sender = f"rest-{uuid.uuid4().hex[:8]}"
        longest = "a" * MAX_TEXT_CHARS
        status, answer = await post(server.url, json.dumps({"sender": sender, "message": longest + "a"}).encode())
        assert (status, answer) == (200, [{"recipient_id": sender, "text": TOO_LONG_REPLY}])
        assert server.rasa.messages == []
        status, answer = await post(server.url, json.dumps({"sender": sender, "message": "a" * 70_000}).encode())
        assert status == 413 and "larger than" in answer["error"]

        status, _ = await post(server.url, json.dumps({"sender": sender, "message": longest}).encode())
        assert status == 200
        text = (
            "my\\u0000 car\\ud800 was\\u0007 hit\\n\\ttoday \\ud83d\\ude97 \\u05e9\\u05dc\\u05d5\\u05dd"  # JSON escapes
        )
        body = '{"sender": "%s", "message": "%s"}' % (sender, text)
        status, answer = await post(server.url, body.encode())
        assert status == 200
        assert [m.text for m in server.rasa.messages] == [longest, "my car was hit\n\ttoday 🚗 שלום"]

    await run_with(server, scenario)


async def test_the_web_chat_refuses_long_text_and_oversized_packets_and_cleans_the_rest() -> None:
    server = ChannelServer(channels())

    async def scenario() -> None:
        customer, bystander = WebChatCustomer(server.url), WebChatCustomer(server.url)
        await customer.open()
        await bystander.open()

        assert await customer.ask("a" * (MAX_TEXT_CHARS + 1)) == TOO_LONG_REPLY
        assert await customer.ask("\u00e9" * 30_000) == TOO_LONG_REPLY  # 180 kB as the client's JSON: under the cap
        assert server.rasa.messages == []
        for blank in ("", " \n", "\u0000", "\ud800", "/", None, 42):  # nothing to read: no turn (NLU has no intent)
            await customer.client.emit("user_uttered", {"message": blank, "session_id": customer.session_id})

        await customer.client.emit(
            "user_uttered",
            {
                "message": "hello\u0000 there\ud800",
                "session_id": customer.session_id,
                "customData": {
                    "language": "en",
                    "nested": {"attachments": [{"type": "image", "url": "https://phish.example"}]},
                    "huge": "x" * 10_000,
                    "nul\u0000key": "v\u0000",
                    "count": 3,
                },
            },
        )
        await wait_until(lambda: server.rasa.messages, "the cleaned message")
        (message,) = server.rasa.messages
        assert message.text == "hello there"
        assert message.metadata == {"language": "en", "huge": "x" * 200, "nulkey": "v", "count": 3}

        # a packet over the cap closes that socket only; the others carry on
        await customer.say("b" * (MAX_PAYLOAD_BYTES + 1))
        await wait_until(lambda: not customer.client.connected, "the oversized packet to close the socket", 10)
        assert await bystander.ask("still there?") == "echo: still there?"
        assert [m.text for m in server.rasa.messages] == ["hello there", "still there?"]
        await bystander.close()

    await run_with(server, scenario)


# ---- against the real Rasa server with the trained model ----------------------------------------------


@pytest.fixture(scope="module")
def rasa_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerSet]:
    workdir: Path = tmp_path_factory.mktemp("door_limits")
    servers = ServerSet(
        ports=Ports(rasa=free_port(), actions=free_port()),
        db_url=migrated_sqlite(workdir / "coverline.db"),
        with_webchat=False,
        log_dir=workdir,
    )
    servers.start()
    try:
        servers.wait_ready(timeout=300)
    except Exception as error:
        servers.stop()
        logs = "\n".join(p.read_text()[-3000:] for p in workdir.glob("*.log"))
        raise RuntimeError(f"servers did not start:\n{logs}") from error
    yield servers
    servers.stop()


def timed_hi(rasa_url: str) -> float:
    sender = f"hi-{uuid.uuid4().hex[:8]}"
    start = time.monotonic()
    answer = requests.post(
        f"{rasa_url}/webhooks/rest/webhook",
        json={"sender": sender, "message": "hi"},
        headers=rest_headers(),
        timeout=60,
    )
    assert answer.status_code == 200 and answer.json(), answer.text
    return time.monotonic() - start


@pytest.mark.needs_model
@pytest.mark.integration
async def test_a_huge_web_chat_message_stalls_nobody_on_the_real_server(rasa_server: ServerSet) -> None:
    url = rasa_server.rasa_url
    usual = median([await asyncio.to_thread(timed_hi, url) for _ in range(3)])
    customer, sender = WebChatCustomer(url), WebChatCustomer(url)
    try:
        await customer.open()
        await sender.open()
        long_answer = asyncio.create_task(customer.ask("my car " * 30_000))  # 210 kB: under the packet cap
        await sender.say("x" * 900_000)  # the 900 kB message of the report: over the cap, the socket is closed
        during = await asyncio.to_thread(timed_hi, url)
        assert await long_answer == TOO_LONG_REPLY
        assert during <= usual + 1.0, f"'hi' took {during:.2f}s during the barrage, {usual:.2f}s usually"
        await wait_until(lambda: not sender.client.connected, "the 900 kB packet to close its socket", 10)
    finally:
        for client in (customer, sender):
            if client.client.connected:
                await client.close()


@pytest.mark.needs_model
@pytest.mark.integration
def test_the_real_server_answers_malformed_rest_bodies_with_400_and_stores_no_nul(rasa_server: ServerSet) -> None:
    url = f"{rasa_server.rasa_url}/webhooks/rest/webhook"
    headers = {"Content-Type": "application/json", **rest_headers()}
    for name in ("empty", "empty list", "null", "not JSON", "sender is a number", "sender over 255"):
        answer = requests.post(url, data=MALFORMED[name], headers=headers, timeout=30)
        assert answer.status_code == 400 and answer.json()["error"], (name, answer.status_code, answer.text)

    sender = f"nul-{uuid.uuid4().hex[:8]}"
    body = '{"sender": "%s", "message": "how can I pay my premium?\\u0000\\ud800"}' % sender
    answer = requests.post(url, data=body.encode(), headers=headers, timeout=60)
    assert answer.status_code == 200 and answer.json(), answer.text

    def inbound_texts() -> list:
        with session_scope(rasa_server.db_url) as db:
            return list(
                db.scalars(
                    select(Message.text).where(Message.conversation_id == sender, Message.direction == "inbound")
                )
            )

    assert logged(inbound_texts, bool) == ["how can I pay my premium?"]  # the log's writer stores it just after


# ---- the social connectors (bot/channels/webhooks.py applies the same limits) -------------------------


@pytest.mark.parametrize("platform", p.PLATFORMS, ids=lambda platform: platform.name)
async def test_every_connector_refuses_long_text_with_a_reply_and_strips_what_nobody_types(
    platform: p.Platform, sqlite_url: str
) -> None:
    api = FakePlatform()
    await api.start()
    platform.prepare(api)
    channel = platform.make(api.url)
    server = ChannelServer([channel])

    async def deliver(text: str, n: int) -> None:
        body = with_text(platform.name, p.fixture(platform.message), text)
        body = with_fresh_id(platform.name, body, random.Random(n))
        signed = platform.sign(body)
        async with aiohttp.ClientSession() as session:
            url = f"{server.url}/webhooks/{platform.name}/webhook"
            async with session.post(url, data=body, headers=signed.get("headers"), params=signed.get("params")) as r:
                assert r.status == 200, await r.text()
        await channel.handovers_done()

    async def scenario() -> None:
        await deliver("my car " * 10_000, 1)  # 70,000 characters
        assert server.rasa.messages == []
        replies = [reply_text(platform.name, call) for call in api.requests if call.path == platform.reply_path]
        assert replies == [TOO_LONG_REPLY]

        if platform.name == "wechat":
            return  # XML 1.0 cannot carry control characters or lone surrogates: such a body is a 400
        await deliver("my car\u0000 was\u0007 hit \ud800today \U0001f697", 2)
        assert [m.text for m in server.rasa.messages] == ["my car was hit today \U0001f697"]

    try:
        await run_with(server, scenario)
    finally:
        await api.stop()


async def test_engineio_long_polling_posts_get_a_prompt_4xx() -> None:
    """engine.io's own door on Sanic: an oversized post closed the session and waited for a poll that a
    scripted client never sends (the request hung for the ping timeout); a post for that closing session
    was a 500; a post that is not UTF-8 was a logged traceback."""
    server = ChannelServer(channels())

    def probe() -> List[Tuple[str, int, float]]:
        url = f"{server.url}/socket.io/"
        handshake = requests.get(url, params={"EIO": "4", "transport": "polling"}, timeout=10)
        sid = json.loads(handshake.text[1:])["sid"]
        seen = []
        for name, body in [
            ("oversized", b"4" + b"x" * (MAX_PAYLOAD_BYTES + 1)),
            ("after it", b"40"),
            ("not UTF-8", b"4\xff\xfe\x82"),
            ("garbage", bytes(range(256)) * 4),
        ]:
            start = time.monotonic()
            answer = requests.post(url, params={"EIO": "4", "transport": "polling", "sid": sid}, data=body, timeout=10)
            seen.append((name, answer.status_code, time.monotonic() - start))
        return seen

    async def scenario() -> None:
        seen = await asyncio.to_thread(probe)
        assert [(name, status) for name, status, _ in seen] == [
            ("oversized", 413),
            ("after it", 400),  # the oversized post's session is closed
            ("not UTF-8", 400),
            ("garbage", 400),
        ]
        assert max(elapsed for _, _, elapsed in seen) < 2.0, seen

    await run_with(server, scenario)
