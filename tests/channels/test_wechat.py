"""WeChat details beyond the shared contract: menu clicks, the access token, what is refused."""

from __future__ import annotations

import logging
from typing import Awaitable, Callable

import pytest

from bot.channels.webhooks import WebhookInput
from bot.channels.wechat import WeChatInput
from tests.support.channels import FakePlatform, FakeRasaAgent, WebhookServer
from tests.support.platforms import (
    WECHAT_ACCESS_TOKEN,
    WECHAT_APP_ID,
    WECHAT_APP_SECRET,
    WECHAT_TOKEN,
    fixture,
    prepare_wechat,
    wechat_signed,
)

StartWebhook = Callable[[WebhookInput], Awaitable[WebhookServer]]
SEND = "/cgi-bin/message/custom/send"


@pytest.fixture
async def wechat(start_webhook: StartWebhook, fake_api: FakePlatform) -> WebhookServer:
    prepare_wechat(fake_api)
    return await start_webhook(WeChatInput(WECHAT_TOKEN, WECHAT_APP_ID, WECHAT_APP_SECRET, fake_api.url))


async def post_signed(webhook: WebhookServer, body: bytes) -> tuple:
    return await webhook.request("POST", body=body, **wechat_signed(body))


async def test_the_webhook_answers_success_as_wechat_requires(wechat: WebhookServer) -> None:
    assert await post_signed(wechat, fixture("wechat_text.xml")) == (200, "success")


async def test_a_menu_click_reaches_rasa_as_its_key(wechat: WebhookServer, rasa: FakeRasaAgent) -> None:
    await post_signed(wechat, fixture("wechat_menu_click.xml"))

    [message] = rasa.messages
    assert message.text == "/claim_status"
    assert message.message_id == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o:1732370860"


async def test_the_access_token_is_fetched_once_and_reused(wechat: WebhookServer, fake_api: FakePlatform) -> None:
    await post_signed(wechat, fixture("wechat_text.xml"))
    await post_signed(wechat, fixture("wechat_menu_click.xml"))

    [token_call] = fake_api.calls("/cgi-bin/stable_token")
    assert token_call.json == {"grant_type": "client_credential", "appid": WECHAT_APP_ID, "secret": WECHAT_APP_SECRET}
    assert [call.query["access_token"] for call in fake_api.calls(SEND)] == [WECHAT_ACCESS_TOKEN] * 2


async def test_an_expired_access_token_is_renewed_and_the_message_sent_again(
    wechat: WebhookServer, fake_api: FakePlatform
) -> None:
    fake_api.answer(
        "/cgi-bin/stable_token",
        {"access_token": "stale-token", "expires_in": 7200},
        {"access_token": WECHAT_ACCESS_TOKEN, "expires_in": 7200},
    )
    fake_api.answer(SEND, {"errcode": 42001, "errmsg": "access_token expired"}, {"errcode": 0, "errmsg": "ok"})

    await post_signed(wechat, fixture("wechat_text.xml"))

    assert [call.query["access_token"] for call in fake_api.calls(SEND)] == ["stale-token", WECHAT_ACCESS_TOKEN]


async def test_an_error_code_in_a_200_answer_is_logged(
    wechat: WebhookServer, fake_api: FakePlatform, caplog: pytest.LogCaptureFixture
) -> None:
    fake_api.answer(SEND, {"errcode": 45015, "errmsg": "response out of time limit"})

    with caplog.at_level(logging.ERROR):
        status, _ = await post_signed(wechat, fixture("wechat_text.xml"))

    assert status == 200
    assert any("45015" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    "body, reason",
    [
        (
            b"<xml><ToUserName><![CDATA[gh_3e8c2a9b1f40]]></ToUserName>"
            b"<Encrypt><![CDATA[hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PG"
            b"HQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOI"
            b"qgU1Ls4jUqnU1xsSsO3/hWTiiMLk9WlUTNMiNqjXjlRW1B2bFCXbXO+Sv3evm/rMiuHt2TpzsNL3xBXYL5W1axjN3cT3sS9jtNhS9RTmWgS9+"
            b"H2lfvrPd7ggPkNVnz7sEgiw8q9cr0Pg1FjZoAI8oInHa6bU+KHJ8U3f0RK52ZPi7KX/4g==]]></Encrypt></xml>",
            "plaintext mode",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">]><xml><MsgType>text</MsgType>'
            b"<FromUserName>oUpF8uMuAJO_M2pxb1Q9zNjWeS6o</FromUserName><Content>&a;</Content></xml>",
            "DTD",
        ),
    ],
    ids=["safe-mode", "dtd"],
)
async def test_encrypted_or_entity_laden_xml_is_refused_with_a_reason(
    wechat: WebhookServer, rasa: FakeRasaAgent, body: bytes, reason: str
) -> None:
    status, text = await post_signed(wechat, body)

    assert status == 400
    assert reason in text
    assert rasa.messages == []
