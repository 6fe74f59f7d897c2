"""An agent opening the damage photo a customer sent: the Rasa server fetches it from the platform with
the channel's token and hands it to the caller holding the Rasa API token, never to anyone else.

The platform side follows each API's reference: Telegram getFile + file server, WhatsApp Cloud API
GET /<media id> then the URL it names (with the same bearer token), WeChat media/get (the file, or JSON
with an errcode in an HTTP 200)."""

from __future__ import annotations

from typing import Awaitable, Callable, Dict, Optional, Tuple

import aiohttp
import pytest

from bot.channels.facebook import FacebookInput
from bot.channels.telegram import TelegramInput
from bot.channels.webhooks import WebhookInput
from bot.channels.wechat import WeChatInput
from bot.channels.whatsapp import WhatsAppInput
from tests.support.channels import FakePlatform, FileAnswer, WebhookServer
from tests.support.platforms import (
    META_APP_SECRET,
    META_VERIFY,
    PAGE_TOKEN,
    PHONE_NUMBER_ID,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    WECHAT_ACCESS_TOKEN,
    WECHAT_APP_ID,
    WECHAT_APP_SECRET,
    WECHAT_TOKEN,
    WHATSAPP_TOKEN,
    prepare_wechat,
)

API_TOKEN = "rasa-api-token-for-media"
JPEG = b"\xff\xd8\xff\xe0" + b"damaged bumper" * 100
StartWebhook = Callable[[WebhookInput], Awaitable[WebhookServer]]


@pytest.fixture(autouse=True)
def rasa_api_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASA_API_TOKEN", API_TOKEN)


async def fetch(
    server: WebhookServer, media_id: str, token: Optional[str] = API_TOKEN
) -> Tuple[int, bytes, Dict[str, str]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.url}/media/{media_id}", headers=headers) as reply:
            return reply.status, await reply.read(), dict(reply.headers)


async def telegram(fake_api: FakePlatform, start_webhook: StartWebhook) -> WebhookServer:
    return await start_webhook(TelegramInput(TELEGRAM_TOKEN, TELEGRAM_SECRET, fake_api.url))


async def test_an_agent_opens_a_telegram_photo_through_the_bots_token(
    fake_api: FakePlatform, start_webhook: StartWebhook
) -> None:
    fake_api.answer(
        f"/bot{TELEGRAM_TOKEN}/getFile",
        {"ok": True, "result": {"file_id": "AgACAgQ", "file_size": len(JPEG), "file_path": "photos/file_7.jpg"}},
    )
    fake_api.answer(f"/file/bot{TELEGRAM_TOKEN}/photos/file_7.jpg", FileAnswer(JPEG))  # octet-stream, as Telegram
    server = await telegram(fake_api, start_webhook)

    status, body, headers = await fetch(server, "AgACAgQ")

    assert (status, body) == (200, JPEG)
    assert headers["Content-Type"] == "image/jpeg"  # from the file name, not the file server's octet-stream
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert fake_api.calls(f"/bot{TELEGRAM_TOKEN}/getFile")[0].json == {"file_id": "AgACAgQ"}


async def test_media_are_only_for_holders_of_the_rasa_api_token(
    fake_api: FakePlatform, start_webhook: StartWebhook
) -> None:
    server = await telegram(fake_api, start_webhook)

    assert (await fetch(server, "AgACAgQ", token=None))[0] == 403
    assert (await fetch(server, "AgACAgQ", token="guess"))[0] == 403
    assert fake_api.requests == []  # the platform was never asked


async def test_without_a_rasa_api_token_media_access_is_off(
    fake_api: FakePlatform, start_webhook: StartWebhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await telegram(fake_api, start_webhook)
    monkeypatch.delenv("RASA_API_TOKEN")

    status, body, _ = await fetch(server, "AgACAgQ", token="")

    assert status == 503 and b"RASA_API_TOKEN" in body


async def test_an_expired_or_unknown_file_is_a_404_that_says_so(
    fake_api: FakePlatform, start_webhook: StartWebhook
) -> None:
    fake_api.answer(
        f"/bot{TELEGRAM_TOKEN}/getFile",
        FileAnswer.json({"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"}, 400),
    )
    server = await telegram(fake_api, start_webhook)

    status, body, _ = await fetch(server, "AgACAgQ")

    assert status == 404 and b"invalid file_id" in body
    assert TELEGRAM_TOKEN.encode() not in body


async def test_a_platform_outage_is_a_502_and_a_strange_id_a_400(
    fake_api: FakePlatform, start_webhook: StartWebhook
) -> None:
    server = await telegram(fake_api, start_webhook)
    fake_api.fail_with = 500

    status, body, _ = await fetch(server, "AgACAgQ")
    assert status == 502 and TELEGRAM_TOKEN.encode() not in body
    assert (await fetch(server, "..%2F..%2Fsecrets"))[0] in (400, 404)  # never reaches the platform as a path
    assert len(fake_api.requests) == 1


async def test_an_agent_opens_a_whatsapp_document_with_the_same_bearer_token(
    fake_api: FakePlatform, start_webhook: StartWebhook
) -> None:
    pdf = b"%PDF-1.4 repair quote"
    fake_api.answer(
        "/v19.0/7741",
        {"url": f"{fake_api.url}/whatsapp/binary/7741", "mime_type": "application/pdf", "id": "7741"},
    )
    fake_api.answer("/whatsapp/binary/7741", FileAnswer(pdf, "application/pdf"))
    server = await start_webhook(
        WhatsAppInput(META_VERIFY, META_APP_SECRET, WHATSAPP_TOKEN, PHONE_NUMBER_ID, f"{fake_api.url}/v19.0")
    )

    status, body, headers = await fetch(server, "7741")

    assert (status, body, headers["Content-Type"]) == (200, pdf, "application/pdf")
    bearer = f"Bearer {WHATSAPP_TOKEN}"
    assert [request.headers.get("Authorization") for request in fake_api.requests] == [bearer, bearer]


async def test_an_agent_opens_a_wechat_voice_note_and_an_expired_one_says_why(
    fake_api: FakePlatform, start_webhook: StartWebhook
) -> None:
    prepare_wechat(fake_api)
    amr = b"#!AMR\n voice"
    fake_api.answer(
        "/cgi-bin/media/get",
        FileAnswer(amr, "audio/amr"),
        FileAnswer.json({"errcode": 40007, "errmsg": "invalid media_id"}, 200),  # WeChat errors come as 200
    )
    server = await start_webhook(WeChatInput(WECHAT_TOKEN, WECHAT_APP_ID, WECHAT_APP_SECRET, fake_api.url))

    status, body, headers = await fetch(server, "MEDIA_voice_1")
    assert (status, body, headers["Content-Type"]) == (200, amr, "audio/amr")
    assert fake_api.calls("/cgi-bin/media/get")[0].query == {
        "access_token": WECHAT_ACCESS_TOKEN,
        "media_id": "MEDIA_voice_1",
    }

    status, body, _ = await fetch(server, "MEDIA_old")
    assert status == 404 and b"3 days" in body


async def test_channels_whose_media_come_as_urls_have_no_media_route(
    fake_api: FakePlatform, start_webhook: StartWebhook
) -> None:
    server = await start_webhook(FacebookInput(META_VERIFY, META_APP_SECRET, PAGE_TOKEN, f"{fake_api.url}/v19.0"))

    assert (await fetch(server, "123"))[0] == 404
