"""Issue 12, finding 6: the Rasa API token showed in `ps` (`rasa run --auth-token=<token>`), and Rasa answered
CORS from any origin, with credentials (`--cors "*"`).

Now the runner starts Rasa through bot/server.py, which reads the token from RASA_API_TOKEN, and CORS
answers only the configured origins (CORS_ORIGINS, by default the web chat page's), for the HTTP routes
and for the web chat's socket.io alike.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Iterator

import pytest
import requests

from bot.channels.socketio import PersistentSocketIOInput
from runner.servers import Ports, ServerSet, api_token
from tests.support.databases import migrated_sqlite
from tests.support.network import free_port
from tests.support.public_doors import ChannelServer, WebChatCustomer, run_with, socket_opens

EVIL = "https://harbor-mutual-support.example"


async def test_the_socket_opens_only_for_configured_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "http://127.0.0.1:8080 http://localhost:8080")
    channel = PersistentSocketIOInput.from_credentials({"session_persistence": True})
    server = ChannelServer([channel])

    async def scenario() -> None:
        for origin in ("http://127.0.0.1:8080", "http://LOCALHOST:8080/", server.url):  # the last: same origin
            assert await asyncio.to_thread(socket_opens, server.url, origin), origin
        customer = WebChatCustomer(server.url)  # no Origin header at all: not a browser
        assert await customer.open()
        await customer.close()
        for origin in (EVIL, "http://127.0.0.1:8081", "http://127.0.0.1:8080.evil.example", "null"):
            assert not await asyncio.to_thread(socket_opens, server.url, origin), origin

    await run_with(server, scenario)


@pytest.fixture(scope="module")
def rasa_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerSet]:
    workdir: Path = tmp_path_factory.mktemp("server_door")
    servers = ServerSet(
        ports=Ports(rasa=free_port(), actions=free_port(), webchat=free_port()),
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


@pytest.mark.needs_model
@pytest.mark.integration
def test_the_token_is_not_on_the_command_line_yet_the_api_wants_it(rasa_server: ServerSet) -> None:
    pid = rasa_server.processes["rasa"].pid
    command_line = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    assert api_token() not in "".join(command_line), command_line  # what `ps` shows every user
    assert not any(item.startswith(("--auth-token", "-t")) for item in command_line)

    status = f"{rasa_server.rasa_url}/status"
    assert requests.get(status, timeout=30).status_code == 401
    assert requests.get(status, params={"token": "not-the-token"}, timeout=30).status_code == 401
    assert requests.get(status, params={"token": api_token()}, timeout=30).status_code == 200


@pytest.mark.needs_model
@pytest.mark.integration
async def test_cors_answers_the_web_chat_page_only(rasa_server: ServerSet) -> None:
    page = rasa_server.webchat_url  # http://127.0.0.1:<webchat port>, where `make run` serves the page
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    for path in ("/status", "/webhooks/rest/webhook", "/conversations/whatsapp:15550001111/tracker/events"):
        url = rasa_server.rasa_url + path
        evil = requests.options(url, headers={"Origin": EVIL, **preflight}, timeout=30)
        assert "Access-Control-Allow-Origin" not in evil.headers, (path, dict(evil.headers))
        ours = requests.options(url, headers={"Origin": page, **preflight}, timeout=30)
        assert ours.headers.get("Access-Control-Allow-Origin") == page, (path, dict(ours.headers))
    read = requests.get(f"{rasa_server.rasa_url}/status", headers={"Origin": EVIL}, timeout=30)
    assert "Access-Control-Allow-Origin" not in read.headers

    assert not await asyncio.to_thread(socket_opens, rasa_server.rasa_url, EVIL)
    assert await asyncio.to_thread(socket_opens, rasa_server.rasa_url, page)
    customer = WebChatCustomer(rasa_server.rasa_url, origin=page)  # and the page's session works
    assert await customer.open()
    await customer.close()
