"""Rendered recommendations go through the real connectors' output channels to the platform APIs unchanged: the
request each platform receives (a fake API over real HTTP, as the channel tests use) carries the native form."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest
from rasa.core.channels.socketio import SocketIOOutput
from rasa.shared.core.events import BotUttered, UserUttered

from bot.channels.facebook import MessengerOutput
from bot.channels.instagram import InstagramOutput
from bot.channels.telegram import TelegramOutput
from bot.channels.twitter import TwitterOutput
from bot.channels.untrusted import offered_payloads
from bot.channels.wechat import WeChatOutput
from bot.channels.whatsapp import WhatsAppOutput
from recommendations.rendering import render_recommendations
from settings import Settings
from storage.engine import session_scope
from tests.support.channels import FakePlatform
from tests.support.content_serving import channel_messages, content_database, items_by_slug, serving_settings

SLUGS = ("checklist-auto-collision", "guide-claim-documents-requested")


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return content_database(f"sqlite:///{tmp_path_factory.mktemp('serving') / 'serving.db'}")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return serving_settings(tmp_path)


@pytest.fixture
async def fake_api() -> Any:
    api = FakePlatform()
    await api.start()
    yield api
    await api.stop()


def rendered(db_url: str, settings: Settings, channel: str, conversation_id: str) -> List[Dict[str, Any]]:
    with session_scope(db_url) as session:
        kwargs = render_recommendations(
            items_by_slug(db_url, *SLUGS), channel, conversation_id, session, settings=settings
        )
    return channel_messages(kwargs)


async def deliver(output: Any, recipient: str, messages: List[Dict[str, Any]]) -> None:
    for message in messages:
        await output.send_response(recipient, dict(message))


@pytest.mark.parametrize("output_class, channel", [(MessengerOutput, "facebook"), (InstagramOutput, "instagram")])
async def test_messenger_and_instagram_post_the_generic_template(
    db_url, settings, fake_api, output_class, channel
) -> None:
    messages = rendered(db_url, settings, channel, f"{channel}:6723418890012345")
    await deliver(output_class("page-token", fake_api.url), f"{channel}:6723418890012345", messages)

    intro, template = [call.json for call in fake_api.calls("/me/messages")]
    assert intro["message"] == {"text": "You might find these helpful:"}
    assert template["recipient"] == {"id": "6723418890012345"}
    assert template["message"] == messages[1]["custom"]
    assert template["message"]["attachment"]["payload"]["template_type"] == "generic"


async def test_whatsapp_posts_call_to_action_and_list_messages(db_url, settings, fake_api) -> None:
    messages = rendered(db_url, settings, "whatsapp", "whatsapp:15550001111")
    await deliver(WhatsAppOutput("wa-token", "106540352242922", fake_api.url), "whatsapp:15550001111", messages)

    bodies = [call.json for call in fake_api.calls("/106540352242922/messages")]
    assert [body.get("interactive", {}).get("type") for body in bodies] == [None, "cta_url", "cta_url", "list"]
    assert all(body["to"] == "15550001111" and body["messaging_product"] == "whatsapp" for body in bodies)
    assert bodies[1]["interactive"] == messages[1]["custom"]["interactive"]


async def test_telegram_sends_the_inline_keyboard(db_url, settings, fake_api) -> None:
    messages = rendered(db_url, settings, "telegram", "telegram:777000111")
    await deliver(TelegramOutput("123:bot-token", fake_api.url), "telegram:777000111", messages)

    [call] = fake_api.calls("/bot123:bot-token/sendMessage")
    assert call.json["chat_id"] == "777000111"
    keyboard = call.json["reply_markup"]["inline_keyboard"]
    assert [[sorted(button) for button in row] for row in keyboard] == [
        [["text", "url"], ["callback_data", "text"]]
    ] * 2


async def test_wechat_sends_news_messages(db_url, settings, fake_api) -> None:
    fake_api.answer("/cgi-bin/stable_token", {"access_token": "wx-token", "expires_in": 7200})
    fake_api.answer("/cgi-bin/message/custom/send", {"errcode": 0, "errmsg": "ok"})
    messages = rendered(db_url, settings, "wechat", "wechat:oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
    await deliver(WeChatOutput("wx-app", "wx-secret", fake_api.url), "wechat:oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", messages)

    bodies = [call.json for call in fake_api.calls("/cgi-bin/message/custom/send")]
    assert [body["msgtype"] for body in bodies] == ["text", "news", "news"]
    assert all(body["touser"] == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" for body in bodies)
    assert len(bodies[1]["news"]["articles"]) == 1


async def test_x_sends_numbered_text_with_the_links(db_url, settings, fake_api) -> None:
    messages = rendered(db_url, settings, "twitter", "twitter:1546700000000000000")
    await deliver(TwitterOutput("ck", "cs", "at", "ats", fake_api.url), "twitter:1546700000000000000", messages)

    [call] = fake_api.calls("/2/dm_conversations/with/1546700000000000000/messages")
    assert "1. " in call.json["text"] and f"{settings.recommendations.public_url}/r/" in call.json["text"]


class RecordingSocketServer:
    """Stands in for python-socketio's AsyncServer: what would be emitted to the browser."""

    def __init__(self) -> None:
        self.emitted: List[Dict[str, Any]] = []

    async def emit(self, event: str, data: Any = None, room: Any = None, **kwargs: Any) -> None:
        self.emitted.append({"event": event, "data": data, "room": room})


async def test_the_web_chat_gets_the_carousel_and_its_dismiss_buttons_are_on_offer(db_url, settings) -> None:
    conversation = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
    messages = rendered(db_url, settings, "socketio", conversation)
    sio = RecordingSocketServer()
    await deliver(SocketIOOutput(sio, "bot_uttered"), conversation, messages)

    text, carousel = sio.emitted
    assert text["data"] == {"text": "You might find these helpful:"} and text["room"] == conversation
    assert carousel["data"]["attachment"]["payload"]["template_type"] == "generic"
    # the door reads a tapped "not for me" as a payload only if it was on offer: the carousel's postbacks are
    dismiss = [card["buttons"][1]["payload"] for card in carousel["data"]["attachment"]["payload"]["elements"]]
    events = [UserUttered("my car was hit"), BotUttered(text="…", data={"attachment": messages[0]["attachment"]})]
    assert offered_payloads(events) >= set(dismiss)
