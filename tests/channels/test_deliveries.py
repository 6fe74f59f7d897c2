"""Retry dedupe in SQL: one processing per platform message id, whichever replica a retry reaches."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Awaitable, Callable

from bot.channels.telegram import TelegramInput
from bot.channels.webhooks import WebhookInput
from storage.deliveries import first_delivery
from tests.support.channels import FakePlatform, FakeRasaAgent, WebhookServer, delivery_rows
from tests.support.platforms import TELEGRAM_SECRET, TELEGRAM_TOKEN, fixture, telegram_signed

StartWebhook = Callable[[WebhookInput], Awaitable[WebhookServer]]


def test_a_message_id_is_first_once_per_channel(no_deliveries: str) -> None:
    assert first_delivery("whatsapp", "wamid.A")
    assert not first_delivery("whatsapp", "wamid.A")
    assert first_delivery("telegram", "wamid.A")  # another platform's id space
    assert delivery_rows("whatsapp", "wamid.A") == 1


def test_on_postgresql_concurrent_replicas_agree_on_one_first_delivery(postgres_url: str) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda _: first_delivery("facebook", "m_race", postgres_url), range(16)))

    assert outcomes.count(True) == 1
    assert delivery_rows("facebook", "m_race", postgres_url) == 1


def test_on_sqlite_concurrent_writers_agree_on_one_first_delivery(no_deliveries: str) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda _: first_delivery("facebook", "m_race"), range(16)))

    assert outcomes.count(True) == 1


async def test_on_postgresql_a_retried_webhook_is_handed_to_rasa_once(
    postgres_url: str, start_webhook: StartWebhook, fake_api: FakePlatform, rasa: FakeRasaAgent
) -> None:
    webhook = await start_webhook(TelegramInput(TELEGRAM_TOKEN, TELEGRAM_SECRET, fake_api.url))
    body = fixture("telegram_message.json")

    statuses = [(await webhook.request("POST", body=body, **telegram_signed(body)))[0] for _ in range(2)]

    assert statuses == [200, 200]
    assert len(rasa.messages) == 1
    assert delivery_rows("telegram", "123456789:4711", postgres_url) == 1
