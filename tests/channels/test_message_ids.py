"""A signed webhook whose message id PostgreSQL cannot keep (over 255 characters, a NUL) was answered 503
(found by the fuzz pass): the id is stored as its digest instead, and retries are still recognised."""

from __future__ import annotations

import pytest
from rasa.core.channels.channel import CollectingOutputChannel

from bot.channels.webhooks import Inbound, storable_message_id
from storage.deliveries import first_delivery

ODD_IDS = ["wamid." + "A" * 400, "12345\x00678", "msg-\ud800-x", "line\nbreak"]


@pytest.mark.parametrize("message_id", ODD_IDS)
def test_an_odd_id_becomes_a_stable_digest(message_id: str) -> None:
    stored = Inbound(user_id="15550001111", message_id=message_id, text="hi").message_id
    assert stored.startswith("sha256:") and len(stored) == 71
    assert stored == storable_message_id(message_id)  # the platform's retry maps to the same row


def test_real_ids_are_kept_as_they_are() -> None:
    for real in ("wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUZBRjE4QzA4", "5281", "m_AbC-123_xyz", "1732370801:42"):
        assert Inbound(user_id="1", message_id=real, text="hi").message_id == real


@pytest.mark.parametrize("message_id", ODD_IDS)
def test_postgresql_keeps_the_delivery_and_recognises_the_retry(postgres_url: str, message_id: str) -> None:
    inbound = Inbound(user_id="15550001111", message_id=message_id, text="hi")
    message = inbound.user_message("whatsapp", CollectingOutputChannel())
    assert first_delivery("whatsapp", inbound.message_id, {"text": message.text}) is True
    assert first_delivery("whatsapp", Inbound("15550001111", message_id, "hi").message_id) is False
