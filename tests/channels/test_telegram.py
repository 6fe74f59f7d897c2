"""Telegram details beyond the shared contract: inline keyboard taps, /start, private chats only."""

from __future__ import annotations

import json
from typing import Awaitable, Callable

from bot.channels.telegram import TelegramInput
from bot.channels.webhooks import WebhookInput
from tests.support.channels import FakePlatform, FakeRasaAgent, WebhookServer
from tests.support.platforms import TELEGRAM_SECRET, TELEGRAM_TOKEN, fixture, telegram_signed

StartWebhook = Callable[[WebhookInput], Awaitable[WebhookServer]]


async def telegram(start_webhook: StartWebhook, fake_api: FakePlatform) -> WebhookServer:
    return await start_webhook(TelegramInput(TELEGRAM_TOKEN, TELEGRAM_SECRET, fake_api.url))


async def post_signed(webhook: WebhookServer, body: bytes) -> int:
    status, _ = await webhook.request("POST", body=body, **telegram_signed(body))
    return status


def message_update(text: str, chat_type: str = "private") -> bytes:
    update = json.loads(fixture("telegram_message.json"))
    update["message"]["text"] = text
    update["message"]["chat"]["type"] = chat_type
    return json.dumps(update).encode()


async def test_an_inline_keyboard_tap_reaches_rasa_as_its_payload_and_the_spinner_is_answered(
    start_webhook: StartWebhook, fake_api: FakePlatform, rasa: FakeRasaAgent
) -> None:
    webhook = await telegram(start_webhook, fake_api)

    await post_signed(webhook, fixture("telegram_callback_query.json"))

    [message] = rasa.messages
    assert message.text == '/inform{"incident_type": "collision"}'
    assert message.message_id == "callback:530316372417268115"
    assert message.sender_id == "telegram:123456789"
    [answer] = fake_api.calls(f"/bot{TELEGRAM_TOKEN}/answerCallbackQuery")
    assert answer.json == {"callback_query_id": "530316372417268115"}
    assert fake_api.calls(f"/bot{TELEGRAM_TOKEN}/sendMessage")[0].json["chat_id"] == "123456789"


async def test_the_start_command_is_handed_over_as_the_configured_payload(
    start_webhook: StartWebhook, fake_api: FakePlatform, rasa: FakeRasaAgent
) -> None:
    webhook = await telegram(start_webhook, fake_api)

    await post_signed(webhook, message_update("/start"))

    assert [m.text for m in rasa.messages] == ["/greet"]


async def test_group_chats_are_not_served(
    start_webhook: StartWebhook, fake_api: FakePlatform, rasa: FakeRasaAgent
) -> None:
    webhook = await telegram(start_webhook, fake_api)

    status = await post_signed(webhook, message_update("What does my policy cover?", chat_type="group"))

    assert status == 200
    assert rasa.messages == []
    assert fake_api.requests == []


async def test_payloads_too_long_for_callback_data_fall_back_to_numbered_text(
    start_webhook: StartWebhook, fake_api: FakePlatform, rasa: FakeRasaAgent
) -> None:
    webhook = await telegram(start_webhook, fake_api)
    rasa.buttons = [{"title": "Home", "payload": '/inform{"product": "home", "note": "' + "x" * 60 + '"}'}]

    await post_signed(webhook, fixture("telegram_message.json"))

    [call] = fake_api.calls(f"/bot{TELEGRAM_TOKEN}/sendMessage")
    assert call.json == {"chat_id": "123456789", "text": "reply\n\n1. Home"}


async def test_the_bot_token_never_appears_in_logs(
    start_webhook: StartWebhook,
    fake_api: FakePlatform,
    rasa: FakeRasaAgent,
    caplog,  # type: ignore[no-untyped-def]
) -> None:
    webhook = await telegram(start_webhook, fake_api)
    fake_api.fail_with = 502

    await post_signed(webhook, fixture("telegram_message.json"))

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "502" in logged
    assert TELEGRAM_TOKEN not in logged
