"""Messenger, Instagram and WhatsApp details beyond the shared contract: buttons, postbacks, limits."""

from __future__ import annotations

import json
from typing import Awaitable, Callable

from bot.channels.facebook import FacebookInput
from bot.channels.webhooks import WebhookInput
from bot.channels.whatsapp import WhatsAppInput
from tests.support.channels import FakePlatform, FakeRasaAgent, WebhookServer, delivery_rows
from tests.support.platforms import (
    META_APP_SECRET,
    META_VERIFY,
    PAGE_TOKEN,
    PHONE_NUMBER_ID,
    WHATSAPP_TOKEN,
    fixture,
    meta_signed,
)

StartWebhook = Callable[[WebhookInput], Awaitable[WebhookServer]]
INCIDENT_TYPES = [
    {"title": title, "payload": f'/inform{{"incident_type": "{kind}"}}'}
    for title, kind in [
        ("Collision", "collision"),
        ("Theft", "theft"),
        ("Water damage", "water_damage"),
        ("Storm or hail", "storm"),
        ("Fire", "fire"),
        ("Glass", "glass"),
        ("Something else", "other"),
    ]
]


async def facebook(start_webhook: StartWebhook, fake_api: FakePlatform) -> WebhookServer:
    return await start_webhook(FacebookInput(META_VERIFY, META_APP_SECRET, PAGE_TOKEN, f"{fake_api.url}/v19.0"))


async def whatsapp(start_webhook: StartWebhook, fake_api: FakePlatform) -> WebhookServer:
    channel = WhatsAppInput(META_VERIFY, META_APP_SECRET, WHATSAPP_TOKEN, PHONE_NUMBER_ID, f"{fake_api.url}/v19.0")
    return await start_webhook(channel)


async def post_signed(webhook: WebhookServer, body: bytes) -> int:
    status, _ = await webhook.request("POST", body=body, **meta_signed(body))
    return status


async def test_quick_reply_and_postback_payloads_reach_rasa_as_intents(
    start_webhook: StartWebhook, fake_api: FakePlatform, rasa: FakeRasaAgent
) -> None:
    webhook = await facebook(start_webhook, fake_api)

    await post_signed(webhook, fixture("facebook_quick_reply.json"))
    await post_signed(webhook, fixture("facebook_postback.json"))

    assert [m.text for m in rasa.messages] == ["/file_claim", "/greet"]
    assert all(m.metadata["button_payload"] for m in rasa.messages)


async def test_the_signature_covers_the_raw_bytes_not_the_parsed_json(
    start_webhook: StartWebhook, fake_api: FakePlatform, rasa: FakeRasaAgent
) -> None:
    webhook = await facebook(start_webhook, fake_api)
    original = fixture("facebook_message.json")
    reserialised = json.dumps(json.loads(original)).encode()

    status, _ = await webhook.request("POST", body=reserialised, **meta_signed(original))

    assert status == 403
    assert rasa.messages == []


async def test_every_message_of_a_batched_webhook_is_handed_over_in_order(
    start_webhook: StartWebhook, fake_api: FakePlatform, rasa: FakeRasaAgent
) -> None:
    webhook = await facebook(start_webhook, fake_api)
    batch = json.loads(fixture("facebook_message.json"))
    second = json.loads(fixture("facebook_quick_reply.json"))["entry"][0]
    batch["entry"].append(second)
    body = json.dumps(batch).encode()

    await post_signed(webhook, body)

    assert [m.text for m in rasa.messages] == [
        "Hi, my car was hit in a parking lot. How do I file a claim?",
        "/file_claim",
    ]
    assert delivery_rows("facebook") == 2


async def test_messenger_splits_long_replies_and_puts_quick_replies_on_the_last_piece(
    start_webhook: StartWebhook, fake_api: FakePlatform, rasa: FakeRasaAgent
) -> None:
    webhook = await facebook(start_webhook, fake_api)
    rasa.reply = "word " * 700
    rasa.buttons = [{"title": "Yes", "payload": "/affirm"}]

    await post_signed(webhook, fixture("facebook_message.json"))

    calls = fake_api.calls("/v19.0/me/messages")
    assert len(calls) == 2
    assert all(len(call.json["message"]["text"]) <= 2000 for call in calls)
    assert "quick_replies" not in calls[0].json["message"]
    assert calls[1].json["message"]["quick_replies"][0]["payload"] == "/affirm"


async def test_whatsapp_button_replies_reach_rasa_as_intents(
    start_webhook: StartWebhook, fake_api: FakePlatform, rasa: FakeRasaAgent
) -> None:
    webhook = await whatsapp(start_webhook, fake_api)

    await post_signed(webhook, fixture("whatsapp_button_reply.json"))

    [message] = rasa.messages
    assert message.text == "/file_claim"
    assert message.metadata["channel_identity"]["display_name"] == "Sheena Nelson"


async def test_whatsapp_sends_four_to_ten_buttons_as_a_list_and_more_as_numbered_text(
    start_webhook: StartWebhook, fake_api: FakePlatform, rasa: FakeRasaAgent
) -> None:
    webhook = await whatsapp(start_webhook, fake_api)
    rasa.buttons = INCIDENT_TYPES
    await post_signed(webhook, fixture("whatsapp_text.json"))
    rasa.buttons = INCIDENT_TYPES * 2
    await post_signed(webhook, fixture("whatsapp_button_reply.json"))

    as_list, as_text = [call.json for call in fake_api.calls(f"/v19.0/{PHONE_NUMBER_ID}/messages")]
    assert as_list["interactive"]["type"] == "list"
    rows = as_list["interactive"]["action"]["sections"][0]["rows"]
    assert [row["id"] for row in rows] == [b["payload"] for b in INCIDENT_TYPES]
    assert as_list["interactive"]["body"] == {"text": "reply"}
    assert as_text["type"] == "text"
    assert as_text["text"]["body"].startswith("reply\n\n1. Collision\n2. Theft")


async def test_whatsapp_ignores_messages_to_another_business_number(
    start_webhook: StartWebhook, fake_api: FakePlatform, rasa: FakeRasaAgent
) -> None:
    webhook = await whatsapp(start_webhook, fake_api)
    payload = json.loads(fixture("whatsapp_text.json"))
    payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "999999999999999"
    body = json.dumps(payload).encode()

    status = await post_signed(webhook, body)

    assert status == 200
    assert rasa.messages == []
