"""Finding 6 (lower): card numbers and SSNs were stored in clear. They are masked at the door now, before
Rasa, its tracker store, the interaction log or an agent sees the message."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from sqlalchemy import text as sql

from bot.channels.untrusted import screen
from bot.channels.webhooks import Inbound
from runner.servers import Ports, ServerSet
from storage.engine import session_scope
from tests.support.databases import migrated_sqlite
from tests.support.network import free_port
from tests.support.servers import logged, say

CARD = "4111 1111 1111 1111"
SSN = "123-45-6789"
SAID = f"you charged my card {CARD} twice, and why do you need my SSN {SSN}?"
CLEAR = re.compile(r"4111[ -]?1111[ -]?1111[ -]?1111|123-45-6789")


def test_a_social_message_reaches_rasa_without_the_card_or_ssn() -> None:
    inbound = Inbound(
        user_id="15550001111",
        message_id="wamid.card",
        text=f"/{SAID}",  # with a leading slash, so original_text is kept too
        attachments=[{"type": "image", "media_id": "4111111111111111", "caption": f"receipt for {CARD}"}],
    )
    message = inbound.user_message("whatsapp", CollectingOutputChannel())
    assert message.text == "you charged my card [card ending 1111] twice, and why do you need my SSN [SSN]?"
    assert not CLEAR.search(message.metadata["original_text"]), message.metadata
    assert message.metadata["attachments"][0]["caption"] == "receipt for [card ending 1111]"
    assert message.metadata["attachments"][0]["media_id"] == "4111111111111111"  # an id, not a card: kept


def test_a_web_chat_message_reaches_rasa_without_the_card() -> None:
    message = screen(UserMessage(text=SAID, sender_id="abc", metadata={}), frozenset())
    assert "[card ending 1111]" in message.text and not CLEAR.search(message.text)


def test_emails_and_phones_are_left_for_the_forms_that_ask_for_them() -> None:
    said = "my new email is sam@example.com and phone +1 555 000 1111"
    assert screen(UserMessage(text=said, sender_id="abc", metadata={}), frozenset()).text == said


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerSet]:
    workdir: Path = tmp_path_factory.mktemp("card-numbers")
    servers = ServerSet(
        ports=Ports(rasa=free_port(), actions=free_port(), webchat=free_port()),
        db_url=migrated_sqlite(workdir / "coverline.db"),
        log_dir=workdir,
        with_webchat=False,
    )
    servers.start()
    try:
        servers.wait_ready(timeout=300)
        yield servers
    finally:
        servers.stop()


@pytest.mark.needs_model
@pytest.mark.integration
def test_no_table_holds_the_card_in_clear(servers: ServerSet) -> None:
    """The whole database, Rasa's tracker events included, after a customer typed their card number."""
    sender = f"{uuid.uuid4().hex}"
    assert say(servers.rasa_url, sender, SAID)

    def read_log() -> list:
        with session_scope(servers.db_url) as session:
            return [
                row[0] or ""
                for row in session.execute(sql("SELECT text FROM messages WHERE conversation_id = :c"), {"c": sender})
            ]

    # the interaction log is written by its own process just after Rasa answers: scan once it holds the turn
    texts = logged(read_log, lambda texts: any("[card ending 1111]" in text for text in texts))
    assert any("[card ending 1111]" in text for text in texts), texts
    with session_scope(servers.db_url) as session:
        tables = [row[0] for row in session.execute(sql("SELECT name FROM sqlite_master WHERE type = 'table'"))]
        found = []
        for table in tables:
            for row in session.execute(sql(f'SELECT * FROM "{table}"')):  # noqa: S608 (names from sqlite_master)
                if CLEAR.search(" ".join(str(value) for value in row)):
                    found.append(table)
    assert not found, f"card or SSN in clear in {sorted(set(found))}"
