"""Issue 12, finding 6: the REST channel shared the public port with socket.io, asked for nothing, and read
`/intent{...}` text as that intent, for any `sender` (a WhatsApp customer's conversation included).

Now (bot/channels/rest.py) a caller sends `Authorization: Bearer <REST_CHANNEL_TOKEN or RASA_API_TOKEN>`
or gets 401 and reaches nothing, and the text is screened as the web chat's: only the button payloads the
bot just offered this sender are read as intents, a typed `/restart` is read as words, and metadata only
our connectors set (attachments, the customer's identity) is dropped; the body cannot pick the channel.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List

import aiohttp
import pytest
import requests
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException

from bot.channels.rest import GuardedRestInput
from runner.servers import Ports, ServerSet, api_token
from tests.support.databases import migrated_sqlite
from tests.support.network import free_port
from tests.support.public_doors import ChannelServer, EchoRasa, rest_headers, run_with

TOKEN = "rest-door-token-5b1e0c"
SENDER = "whatsapp:15550001111"


async def post(url: str, body: Dict[str, Any], headers: Dict[str, str]) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/webhooks/rest/webhook", json=body, headers=headers) as answer:
            await answer.read()
            return answer


async def test_without_the_token_nothing_gets_in() -> None:
    server = ChannelServer([GuardedRestInput.from_credentials({"token": TOKEN})])

    async def scenario() -> None:
        body = {"sender": SENDER, "message": "how much do I owe?"}
        for headers in [
            {},
            {"Authorization": "Bearer "},
            {"Authorization": "Bearer wrong-token"},
            {"Authorization": f"Bearer {TOKEN[:-1]}"},
            {"Authorization": f"Bearer {TOKEN}x"},
            {"Authorization": f"Basic {TOKEN}"},
            {"Authorization": TOKEN},
            {"X-Auth-Token": TOKEN},
        ]:
            answer = await post(server.url, body, headers)
            assert answer.status == 401, headers
            assert answer.headers.get("WWW-Authenticate") == "Bearer"
        async with aiohttp.ClientSession() as session:  # nor in the query string
            async with session.post(f"{server.url}/webhooks/rest/webhook?token={TOKEN}", json=body) as answer:
                assert answer.status == 401
        assert server.rasa.messages == []

        answer = await post(server.url, body, {"Authorization": f"Bearer {TOKEN}"})
        assert answer.status == 200
        assert [m.sender_id for m in server.rasa.messages] == [SENDER]

    await run_with(server, scenario)


def test_the_token_comes_from_the_environment_and_none_means_no_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REST_CHANNEL_TOKEN", raising=False)
    monkeypatch.delenv("RASA_API_TOKEN", raising=False)
    with pytest.raises(RasaException, match="needs a token"):
        GuardedRestInput.from_credentials(None)
    monkeypatch.setenv("RASA_API_TOKEN", "api-token")
    assert GuardedRestInput.from_credentials(None).token == "api-token"
    monkeypatch.setenv("REST_CHANNEL_TOKEN", "rest-token")
    assert GuardedRestInput.from_credentials({}).token == "rest-token"
    assert GuardedRestInput.from_credentials({"token": "from-credentials"}).token == "from-credentials"


async def test_rest_text_is_screened_like_the_web_chat() -> None:
    store = InMemoryTrackerStore(Domain.empty())
    offered = BotUttered("Did that help?", {"buttons": [{"title": "Yes", "payload": "/affirm"}]})
    await store.save(DialogueStateTracker.from_events("rest-1", [UserUttered("windshield chip?"), offered]))
    server = ChannelServer([GuardedRestInput.from_credentials({"token": TOKEN})], EchoRasa(tracker_store=store))

    async def scenario() -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        planted = {
            "language": "en",
            "attachments": [{"type": "image", "url": "https://phish.example/login"}],
            "channel_identity": {"channel": "whatsapp", "user_id": "15550001111"},
        }
        for text in ["/affirm", "/restart", '/inform{"policy_number": "PX-77310"}']:
            body = {"sender": "rest-1", "message": text, "metadata": planted, "input_channel": "whatsapp"}
            assert (await post(server.url, body, headers)).status == 200
        assert (await post(server.url, {"sender": "rest-2", "message": "/affirm"}, headers)).status == 200

        seen = [(m.sender_id, m.text, m.input_channel, m.metadata) for m in server.rasa.messages]
        assert seen == [
            ("rest-1", "/affirm", "rest", {"language": "en", "button_payload": True}),
            ("rest-1", "restart", "rest", {"language": "en", "original_text": "/restart"}),
            (
                "rest-1",
                'inform{"policy_number": "PX-77310"}',
                "rest",
                {"language": "en", "original_text": '/inform{"policy_number": "PX-77310"}'},
            ),
            ("rest-2", "affirm", "rest", {"original_text": "/affirm"}),  # offered to rest-1, not to rest-2
        ]

    await run_with(server, scenario)


# ---- against the real Rasa server ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def rasa_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerSet]:
    workdir: Path = tmp_path_factory.mktemp("rest_door")
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


def events(servers: ServerSet, sender: str) -> List[Dict[str, Any]]:
    answer = requests.get(
        f"{servers.rasa_url}/conversations/{sender}/tracker",
        params={"token": api_token(), "include_events": "ALL"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["events"] or []


@pytest.mark.needs_model
@pytest.mark.integration
def test_the_real_rest_channel_wants_the_token_and_reads_typed_intents_as_words(rasa_server: ServerSet) -> None:
    url = f"{rasa_server.rasa_url}/webhooks/rest/webhook"
    sender = f"rest-door-{uuid.uuid4().hex[:8]}"
    body = {"sender": sender, "message": "how can I pay my premium?"}
    for headers in ({}, {"Authorization": "Bearer not-the-token"}):
        answer = requests.post(url, json=body, headers=headers, timeout=60)
        assert answer.status_code == 401, answer.text
    assert not [e for e in events(rasa_server, sender) if e["event"] == "user"]

    assert requests.post(url, json=body, headers=rest_headers(), timeout=60).json()
    typed = requests.post(url, json={"sender": sender, "message": "/restart"}, headers=rest_headers(), timeout=60)
    assert typed.status_code == 200 and typed.json(), typed.text

    seen = events(rasa_server, sender)
    assert not [e for e in seen if e["event"] == "restart"]
    users = [e for e in seen if e["event"] == "user"]
    assert [(e["text"], e["input_channel"]) for e in users] == [
        ("how can I pay my premium?", "rest"),
        ("restart", "rest"),
    ]
    assert users[-1]["parse_data"]["intent"]["name"] != "restart"
    assert users[-1]["metadata"]["original_text"] == "/restart"


@pytest.mark.needs_model
@pytest.mark.integration
async def test_the_shared_test_helper_sends_the_token(rasa_server: ServerSet) -> None:
    """tests/support/servers.py's `say`, which every live test uses, is a trusted integration."""
    from tests.support.servers import say

    replies = await asyncio.to_thread(say, rasa_server.rasa_url, f"say-{uuid.uuid4().hex[:8]}", "hello there")
    assert replies and json.dumps(replies)
