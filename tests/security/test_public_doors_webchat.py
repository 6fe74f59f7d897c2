"""Issue 12, finding 3: a web chat session belongs to the browser that opened it.

Before the fix, bot/channels/socketio.py confirmed whatever `session_id` a client claimed, joined its
socket to that conversation's room and took `user_uttered` for whatever `session_id` the message named:
a second client using an existing id (a social id such as `whatsapp:15550001111`, another customer's web
chat id) wrote into that conversation and received its replies, the agent's included.

Now the server issues a signed session token; a claim that is not one of ours starts a new conversation;
messages go to the conversation confirmed on that socket, whatever they claim. Checked twice: with a
stand-in for Rasa (no model needed) and against `rasa run` with the trained model and its tracker store.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import requests

from bot.channels.socketio import PersistentSocketIOInput, SessionTokens, session_secret
from runner.servers import Ports, ServerSet, api_token
from tests.support.databases import migrated_sqlite
from tests.support.network import free_port
from tests.support.public_doors import ChannelServer, WebChatCustomer, run_with, wait_until

WHATSAPP_ID = "whatsapp:15550001111"


def webchat_channel() -> PersistentSocketIOInput:
    channel = PersistentSocketIOInput.from_credentials({"session_persistence": True, "metadata_key": "customData"})
    assert isinstance(channel, PersistentSocketIOInput)
    return channel


async def quiet(seconds: float = 1.0) -> None:
    """Replies to a message arrive within milliseconds here; a second of silence means none are coming."""
    await asyncio.sleep(seconds)


def test_session_tokens_only_vouch_for_what_they_signed(tmp_path: Path) -> None:
    tokens = SessionTokens(b"s" * 48)
    token, conversation_id = tokens.issue()

    assert token.startswith(conversation_id + ".") and len(conversation_id) == 32
    assert tokens.conversation_of(token) == conversation_id
    other_server = SessionTokens(b"t" * 48)
    signature = token.split(".")[1]
    # the signature's last character changed: to "B" when it is "A" already (1 token in 64 ends in "A", and the
    # test then sent the genuine token: seen in a clean-clone run)
    tampered = signature[:-1] + ("B" if signature.endswith("A") else "A")
    for claimed in [
        conversation_id,
        WHATSAPP_ID,
        f"{conversation_id}.",
        f"{conversation_id}.{tampered}",
        other_server.issue()[0],
        token.replace(conversation_id, "0" * 32),
        token + "\x00",
        token[:-1] + "\ud800",
        None,
        42,
        {"session_id": token},
        "x" * 10_000,
    ]:
        assert tokens.conversation_of(claimed) is None, claimed
    assert tokens.conversation_of(other_server.issue()[0]) is None


def test_the_dev_secret_is_generated_once_with_mode_600(tmp_path: Path) -> None:
    path = tmp_path / "var" / "webchat_session_secret"
    first = session_secret({}, path.parent)
    assert session_secret({}, path.parent) == first and len(first) >= 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert session_secret({"WEBCHAT_SESSION_SECRET": "e" * 40}, path.parent) == b"e" * 40


async def test_a_second_client_claiming_an_existing_session_sees_nothing_of_it() -> None:
    server = ChannelServer([webchat_channel()])

    async def scenario() -> None:
        customer, intruder, reloaded = (WebChatCustomer(server.url) for _ in range(3))
        token = await customer.open()
        await customer.ask("my policy is PX-77310")
        owner = customer.conversation_id

        await intruder.open(owner)
        for claimed in (owner, token.split(".")[0] + ".forged", WHATSAPP_ID):
            await intruder.request(claimed)
            assert intruder.conversation_id not in (owner, WHATSAPP_ID), claimed
        await intruder.say("how much do I owe?", session_id=owner)  # the message names the customer's id
        await intruder.say("how much do I owe?", session_id=WHATSAPP_ID)
        await wait_until(lambda: len(intruder.received) >= 2, "the intruder's own replies")

        # what is said to the customer's conversation afterwards (the bot, or an agent through Rasa's
        # API, which uses the channel's output channel) reaches the customer only
        agent = server.channels[0].get_output_channel()
        assert agent is not None
        await agent.send_text_message(owner, "Hi, Sam here from the service team.")
        await wait_until(lambda: "Hi, Sam here from the service team." in customer.texts(), "the agent's reply")
        await quiet()

        assert intruder.texts() == ["echo: how much do I owe?"] * 2
        assert set(server.rasa.senders()) == {owner, intruder.conversation_id}
        assert [m.text for m in server.rasa.messages if m.sender_id == owner] == ["my policy is PX-77310"]

        # the customer reloads the page: rasa-webchat sends the stored token back and resumes
        await customer.close()
        assert await reloaded.open(token) == token
        assert await reloaded.ask("and my claim?") == "echo: and my claim?"
        assert [m.text for m in server.rasa.messages if m.sender_id == owner] == [
            "my policy is PX-77310",
            "and my claim?",
        ]
        await intruder.close()
        await reloaded.close()

    await run_with(server, scenario)


async def test_a_socket_without_a_session_is_not_heard() -> None:
    server = ChannelServer([webchat_channel()])

    async def scenario() -> None:
        customer = WebChatCustomer(server.url)
        await customer.open()
        silent = WebChatCustomer(server.url)
        await silent.client.connect(server.url, socketio_path="socket.io", transports=["polling"])
        await silent.client.emit("user_uttered", {"message": "hello", "session_id": customer.session_id})
        await silent.client.emit("user_uttered", "not an object")
        await quiet()
        assert server.rasa.messages == [] and silent.received == [] and customer.received == []
        await customer.close()
        await silent.close()

    await run_with(server, scenario)


# ---- against the real Rasa server ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def rasa_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerSet]:
    workdir = tmp_path_factory.mktemp("webchat_sessions")
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


def user_texts(servers: ServerSet, conversation_id: str) -> List[str]:
    answer = requests.get(
        f"{servers.rasa_url}/conversations/{conversation_id}/tracker",
        params={"token": api_token(), "include_events": "ALL"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    events: List[Dict[str, Any]] = answer.json()["events"] or []
    return [event.get("text") for event in events if event["event"] == "user"]


@pytest.mark.needs_model
@pytest.mark.integration
async def test_the_real_server_keeps_each_session_to_its_browser(rasa_server: ServerSet) -> None:
    url = rasa_server.rasa_url
    customer, intruder, social_intruder, reloaded = (WebChatCustomer(url) for _ in range(4))
    try:
        token = await customer.open()
        owner = customer.conversation_id
        assert await customer.ask("hello there")

        await intruder.open(owner)  # another client claims the customer's conversation id
        await social_intruder.open(WHATSAPP_ID)  # or a WhatsApp customer's
        assert {intruder.conversation_id, social_intruder.conversation_id}.isdisjoint({owner, WHATSAPP_ID})
        await intruder.say("how much do I owe on PX-77310?", session_id=owner)
        await social_intruder.say("how much do I owe?", session_id=WHATSAPP_ID)

        async def landed() -> bool:  # each intruder's message is in a tracker (whatever the bot answers them)
            found = await asyncio.to_thread(user_texts, rasa_server, intruder.conversation_id)
            found += await asyncio.to_thread(user_texts, rasa_server, social_intruder.conversation_id)
            return len(found) == 2

        deadline = asyncio.get_running_loop().time() + 60
        while not await landed():
            assert asyncio.get_running_loop().time() < deadline, "the intruders' messages were not processed"
            await asyncio.sleep(0.5)

        # an agent's message to the customer, through Rasa's API as the inbox sends it
        pushed = requests.post(
            f"{url}/conversations/{owner}/tracker/events",
            params={"token": api_token(), "output_channel": "latest", "execute_side_effects": "true"},
            json={"event": "bot", "text": "Hi, Sam here from the service team.", "metadata": {"author": "agent"}},
            timeout=30,
        )
        assert pushed.status_code == 200, pushed.text
        await wait_until(lambda: "Hi, Sam here from the service team." in customer.texts(), "the agent's reply")
        await quiet(2.0)

        assert "Hi, Sam here from the service team." not in intruder.texts() + social_intruder.texts()
        assert user_texts(rasa_server, owner) == ["hello there"]
        assert user_texts(rasa_server, WHATSAPP_ID) == []
        assert user_texts(rasa_server, intruder.conversation_id) == ["how much do I owe on PX-77310?"]
        assert user_texts(rasa_server, social_intruder.conversation_id) == ["how much do I owe?"]

        await customer.close()
        assert await reloaded.open(token) == token  # the page reloads with the stored token
        assert await reloaded.ask("what are your opening hours?")
        assert user_texts(rasa_server, owner) == ["hello there", "what are your opening hours?"]
    finally:
        for client in (customer, intruder, social_intruder, reloaded):
            if client.client.connected:
                await client.close()
