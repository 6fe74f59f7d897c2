"""The contract every social connector keeps, run for each platform with its documented payloads.

Signed → 200, handed to Rasa once, answered through the (fake) platform API; unsigned or forged → 403
with nothing processed or stored; a retried delivery → 200 but not processed again; the verification
handshake answered and refused with a wrong token; other events acknowledged and ignored; unreadable
bodies → 400; customer text never read as an intent; a photo without words handed over (not dropped).
"""

from __future__ import annotations

import json
import logging

import pytest

from bot.channels.webhooks import ATTACHMENT_PAYLOAD
from tests.support.channels import FakePlatform, FakeRasaAgent, WebhookServer, delivery_rows
from tests.support.platforms import BUTTONS, Platform, fixture


async def post(webhook: WebhookServer, body: bytes, signed: dict) -> tuple:
    return await webhook.request("POST", body=body, headers=signed.get("headers"), params=signed.get("params"))


async def test_signed_message_reaches_rasa_and_the_reply_goes_to_the_platform_api(
    platform: Platform, webhook: WebhookServer, rasa: FakeRasaAgent, fake_api: FakePlatform
) -> None:
    body = fixture(platform.message)

    status, _ = await post(webhook, body, platform.sign(body))

    assert status == 200
    [message] = rasa.messages
    assert message.text == platform.text
    assert message.sender_id == f"{platform.name}:{platform.user_id}"
    assert message.input_channel == platform.name
    assert message.message_id == platform.message_id
    assert message.metadata["channel_identity"] == platform.identity
    [call] = fake_api.calls(platform.reply_path)
    assert call.method == "POST"
    assert call.json == platform.reply("reply")
    assert platform.reply_query.items() <= call.query.items()
    assert platform.reply_headers.items() <= call.headers.items()
    assert delivery_rows(platform.name, platform.message_id) == 1


@pytest.mark.parametrize("signature", ["forged", "missing"])
async def test_bad_or_missing_signature_is_refused_and_nothing_is_processed_or_stored(
    platform: Platform, webhook: WebhookServer, rasa: FakeRasaAgent, fake_api: FakePlatform, signature: str
) -> None:
    body = fixture(platform.message)
    signed = platform.forge(body) if signature == "forged" else {"headers": {"Content-Type": "application/json"}}

    status, text = await post(webhook, body, signed)

    assert status == 403
    assert "error" in text
    assert rasa.messages == []
    assert fake_api.requests == []
    assert delivery_rows(platform.name) == 0


async def test_a_retried_delivery_is_acknowledged_but_processed_once(
    platform: Platform, webhook: WebhookServer, rasa: FakeRasaAgent, fake_api: FakePlatform
) -> None:
    body = fixture(platform.message)

    first, _ = await post(webhook, body, platform.sign(body))
    retry, _ = await post(webhook, body, platform.sign(body))

    assert (first, retry) == (200, 200)
    assert len(rasa.messages) == 1
    assert len(fake_api.calls(platform.reply_path)) == 1
    assert delivery_rows(platform.name) == 1


async def test_a_photo_with_no_words_reaches_rasa_with_its_attachment_once(
    platform: Platform, webhook: WebhookServer, rasa: FakeRasaAgent, fake_api: FakePlatform
) -> None:
    body = fixture(platform.photo)

    first, _ = await post(webhook, body, platform.sign(body))
    retry, _ = await post(webhook, body, platform.sign(body))

    assert (first, retry) == (200, 200)
    [message] = rasa.messages
    assert message.text == ATTACHMENT_PAYLOAD
    assert message.message_id == platform.photo_id
    assert message.sender_id == f"{platform.name}:{platform.user_id}"
    assert message.metadata["attachments"] == [platform.photo_attachment]
    assert len(fake_api.calls(platform.reply_path)) == 1  # the bot's answer went out
    assert delivery_rows(platform.name, platform.photo_id) == 1


async def test_the_verification_handshake_is_answered_and_refused_with_a_wrong_token(
    platform: Platform, webhook: WebhookServer
) -> None:
    if platform.handshake is None:
        status, _ = await webhook.request("GET")
        assert status == 405  # Telegram has none: the operator calls setWebhook with the secret token
        return
    status, text = await webhook.request("GET", params=platform.handshake["params"])
    assert status == platform.handshake["status"]
    if "json" in platform.handshake:
        assert json.loads(text) == platform.handshake["json"]
    else:
        assert text == platform.handshake["body"]

    status, text = await webhook.request("GET", params=platform.handshake["wrong_params"])
    assert status == platform.handshake["wrong_status"]
    assert "response_token" not in text and "1158201444" not in text and "6453862079130917541" not in text


async def test_buttons_are_sent_as_the_platforms_quick_replies(
    platform: Platform, webhook: WebhookServer, rasa: FakeRasaAgent, fake_api: FakePlatform
) -> None:
    rasa.buttons = BUTTONS
    body = fixture(platform.message)

    await post(webhook, body, platform.sign(body))

    [call] = fake_api.calls(platform.reply_path)
    assert call.json == platform.reply_with_buttons


async def test_events_that_are_not_customer_messages_are_acknowledged_and_ignored(
    platform: Platform, webhook: WebhookServer, rasa: FakeRasaAgent, fake_api: FakePlatform
) -> None:
    body = fixture(platform.other_events)

    status, _ = await post(webhook, body, platform.sign(body))

    assert status == 200
    assert rasa.messages == []
    assert fake_api.requests == []
    assert delivery_rows(platform.name) == 0


@pytest.mark.parametrize("body", [b'{"object": "page", "entry": [', b"[1, 2]", b"<xml><MsgType>text</xml"])
async def test_a_signed_but_unreadable_body_is_a_400_with_a_reason(
    platform: Platform, webhook: WebhookServer, rasa: FakeRasaAgent, body: bytes
) -> None:
    status, text = await post(webhook, body, platform.sign(body))

    assert status == 400
    assert "error" in text
    assert rasa.messages == []


async def test_a_signed_body_of_the_wrong_shape_is_a_400_not_a_500(platform: Platform, webhook: WebhookServer) -> None:
    if platform.name == "wechat":
        body = b"<xml><ToUserName>gh_3e8c2a9b1f40</ToUserName><MsgType>text</MsgType></xml>"
    elif platform.name == "telegram":
        body = b'{"update_id": 911562199, "message": {"chat": "123456789", "text": "hi"}}'
    elif platform.name == "twitter":
        body = b'{"for_user_id": "4337869213", "direct_message_events": [{"type": "message_create"}]}'
    elif platform.name == "whatsapp":
        body = b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages"}]}]}'
    else:
        body = b'{"object": "%s", "entry": [{"messaging": [{"message": {"text": "hi"}}]}]}' % (
            b"page" if platform.name == "facebook" else b"instagram"
        )

    status, text = await post(webhook, body, platform.sign(body))

    assert status == 400
    assert "unexpected" in text or "error" in text


@pytest.mark.parametrize("typed", ["/restart", '/inform{"product": "life"}', " //affirm"])
async def test_customer_text_starting_with_a_slash_is_not_handed_over_as_an_intent(
    platform: Platform, webhook: WebhookServer, rasa: FakeRasaAgent, typed: str
) -> None:
    body = platform.with_text(fixture(platform.message), typed)

    await post(webhook, body, platform.sign(body))

    [message] = rasa.messages
    assert not message.text.startswith("/")
    assert message.text == typed.lstrip(" /")
    assert message.metadata["original_text"] == typed


async def test_a_failing_platform_api_is_logged_and_the_webhook_still_answers_200(
    platform: Platform,
    webhook: WebhookServer,
    rasa: FakeRasaAgent,
    fake_api: FakePlatform,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_api.fail_with = 500
    body = fixture(platform.message)

    with caplog.at_level(logging.ERROR):
        status, _ = await post(webhook, body, platform.sign(body))

    assert status == 200
    assert len(rasa.messages) == 1
    assert any(platform.name in record.getMessage() and "500" in record.getMessage() for record in caplog.records)
