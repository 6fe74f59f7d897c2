"""What the contract tests need to know about each platform: how it signs, what it sends, what we call.

Signatures are computed here from the platforms' documentation, independently of the connectors' code,
so a connector that signs or checks the wrong thing fails.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import mimetypes
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Text

from bot.channels.facebook import FacebookInput
from bot.channels.instagram import InstagramInput
from bot.channels.telegram import TelegramInput
from bot.channels.twitter import TwitterInput
from bot.channels.webhooks import WebhookInput
from bot.channels.wechat import WeChatInput
from bot.channels.whatsapp import WhatsAppInput
from tests.support.channels import FakePlatform, FileAnswer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "webhooks"
# every connector enabled with the test secrets below and its api_url pointed at a local FakePlatform
CREDENTIALS = Path(__file__).resolve().parent.parent / "fixtures" / "channels_live_credentials.yml"

META_APP_SECRET = "meta-app-secret-0f3c"
META_VERIFY = "coverline-verify-7d21"
PAGE_TOKEN = "EAAGm0PX4ZCpsBAPAGETOKEN"
WHATSAPP_TOKEN = "EAAGm0PX4ZCpsBAWHATSAPPTOKEN"
PHONE_NUMBER_ID = "106540352242922"
TELEGRAM_TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
TELEGRAM_SECRET = "tg-secret_Token-42"
X_CONSUMER_KEY = "xvz1evFS4wEEPTGEFPHBog"
X_CONSUMER_SECRET = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"
X_ACCESS_TOKEN = "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"
X_ACCESS_SECRET = "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"
WECHAT_TOKEN = "coverline-wechat-token"
WECHAT_APP_ID = "wx5e1f3c2a9b8d7e60"
WECHAT_APP_SECRET = "5b2f7d0e9c1a4b3f8e6d2c1b0a9f8e7d"
WECHAT_ACCESS_TOKEN = "82_aB3dEfGhIjKlMnOpQrStUvWxYz0123456789"

BUTTONS = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]


def live_credentials_env(api_url: Text) -> Dict[Text, Text]:
    """The variables CREDENTIALS expands: every connector's test secrets, and its platform API at `api_url`."""
    return {
        "COVERLINE_TEST_PLATFORM_API": api_url,
        "COVERLINE_TEST_META_VERIFY": META_VERIFY,
        "COVERLINE_TEST_META_APP_SECRET": META_APP_SECRET,
        "COVERLINE_TEST_PAGE_TOKEN": PAGE_TOKEN,
        "COVERLINE_TEST_WHATSAPP_TOKEN": WHATSAPP_TOKEN,
        "COVERLINE_TEST_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "COVERLINE_TEST_TELEGRAM_TOKEN": TELEGRAM_TOKEN,
        "COVERLINE_TEST_TELEGRAM_SECRET": TELEGRAM_SECRET,
        "COVERLINE_TEST_X_CONSUMER_KEY": X_CONSUMER_KEY,
        "COVERLINE_TEST_X_CONSUMER_SECRET": X_CONSUMER_SECRET,
        "COVERLINE_TEST_X_ACCESS_TOKEN": X_ACCESS_TOKEN,
        "COVERLINE_TEST_X_ACCESS_SECRET": X_ACCESS_SECRET,
        "COVERLINE_TEST_WECHAT_TOKEN": WECHAT_TOKEN,
        "COVERLINE_TEST_WECHAT_APP_ID": WECHAT_APP_ID,
        "COVERLINE_TEST_WECHAT_APP_SECRET": WECHAT_APP_SECRET,
    }


def fixture(name: Text) -> bytes:
    return (FIXTURES / name).read_bytes()


def meta_signed(body: bytes, secret: Text = META_APP_SECRET) -> Dict[Text, Any]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"headers": {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}}


def telegram_signed(body: bytes, secret: Text = TELEGRAM_SECRET) -> Dict[Text, Any]:
    return {"headers": {"X-Telegram-Bot-Api-Secret-Token": secret, "Content-Type": "application/json"}}


def x_digest(secret: Text, data: bytes) -> Text:
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), data, hashlib.sha256).digest()).decode()


def x_signed(body: bytes, secret: Text = X_CONSUMER_SECRET) -> Dict[Text, Any]:
    return {"headers": {"x-twitter-webhooks-signature": x_digest(secret, body), "Content-Type": "application/json"}}


def wechat_query(token: Text = WECHAT_TOKEN, timestamp: Text = "1732370801", nonce: Text = "1405671932") -> Dict:
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    return {"signature": signature, "timestamp": timestamp, "nonce": nonce}


def wechat_signed(body: bytes, token: Text = WECHAT_TOKEN) -> Dict[Text, Any]:
    params = {**wechat_query(token), "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}
    return {"params": params, "headers": {"Content-Type": "text/xml"}}


def json_with_text(path: List[Any]) -> Callable[[bytes, Text], bytes]:
    """Rewrites the customer's text at `path` inside a JSON fixture."""

    def rewrite(body: bytes, text: Text) -> bytes:
        payload = json.loads(body)
        node = payload
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = text
        return json.dumps(payload).encode()

    return rewrite


def xml_with_text(body: bytes, text: Text) -> bytes:
    return re.sub(rb"<Content><!\[CDATA\[.*?\]\]></Content>", f"<Content><![CDATA[{text}]]></Content>".encode(), body)


def serve_file(api: FakePlatform, channel: Text, media_id: Text, body: bytes, content_type: Text) -> None:
    """The platform's answers when the file behind `media_id` is fetched, as each API documents them."""
    if channel == "telegram":
        path = f"files/{media_id}{mimetypes.guess_extension(content_type) or ''}"  # Telegram's paths end so
        api.answer(f"/bot{TELEGRAM_TOKEN}/getFile", {"ok": True, "result": {"file_id": media_id, "file_path": path}})
        api.answer(f"/file/bot{TELEGRAM_TOKEN}/{path}", FileAnswer(body))  # Telegram serves octet-stream
    elif channel == "whatsapp":
        api.answer(f"/v19.0/{media_id}", {"url": f"{api.url}/lookaside/{media_id}", "mime_type": content_type})
        api.answer(f"/lookaside/{media_id}", FileAnswer(body, content_type))
    elif channel == "wechat":
        api.answer("/cgi-bin/media/get", FileAnswer(body, content_type))
    else:
        raise ValueError(f"{channel} sends media as URLs, not ids")


def prepare_wechat(api: FakePlatform) -> None:
    api.answer("/cgi-bin/stable_token", {"access_token": WECHAT_ACCESS_TOKEN, "expires_in": 7200})
    api.answer("/cgi-bin/message/custom/send", {"errcode": 0, "errmsg": "ok"})


@dataclass
class Platform:
    name: Text
    make: Callable[[Text], WebhookInput]  # the fake API's base URL -> the connector
    message: Text  # fixture: one customer text message
    other_events: Text  # fixture: only events that are not customer messages
    message_id: Text
    user_id: Text
    text: Text
    identity: Dict[Text, Any]
    sign: Callable[[bytes], Dict[Text, Any]]
    forge: Callable[[bytes], Dict[Text, Any]]  # signed with the wrong secret
    with_text: Callable[[bytes, Text], bytes]
    reply_path: Text
    reply: Callable[[Text], Dict[Text, Any]]  # the JSON body that sends this text
    reply_with_buttons: Dict[Text, Any]
    photo: Text  # fixture: a photo sent with no words, as a customer sends damage pictures
    photo_id: Text  # its platform message id
    photo_attachment: Dict[Text, Any]  # what the connector must make of it (written from the platform docs)
    reply_query: Dict[Text, Text] = field(default_factory=dict)
    reply_headers: Dict[Text, Text] = field(default_factory=dict)
    handshake: Optional[Dict[Text, Any]] = None  # params, status, body or json; wrong_params, wrong_status
    prepare: Callable[[FakePlatform], None] = lambda api: None


def messenger_reply(user_id: Text) -> Callable[[Text], Dict[Text, Any]]:
    return lambda text: {"recipient": {"id": user_id}, "messaging_type": "RESPONSE", "message": {"text": text}}


def messenger_buttons(user_id: Text) -> Dict[Text, Any]:
    quick_replies = [{"content_type": "text", "title": b["title"], "payload": b["payload"]} for b in BUTTONS]
    return {
        "recipient": {"id": user_id},
        "messaging_type": "RESPONSE",
        "message": {"text": "reply", "quick_replies": quick_replies},
    }


META_HANDSHAKE = {
    "params": {"hub.mode": "subscribe", "hub.verify_token": META_VERIFY, "hub.challenge": "1158201444"},
    "status": 200,
    "body": "1158201444",
    "wrong_params": {"hub.mode": "subscribe", "hub.verify_token": "guessed", "hub.challenge": "1158201444"},
    "wrong_status": 403,
}

WHATSAPP_USER = "16505551234"

PLATFORMS = [
    Platform(
        name="facebook",
        make=lambda url: FacebookInput(META_VERIFY, META_APP_SECRET, PAGE_TOKEN, f"{url}/v19.0"),
        message="facebook_message.json",
        other_events="facebook_other_events.json",
        message_id="m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P",
        user_id="6789012345678901",
        text="Hi, my car was hit in a parking lot. How do I file a claim?",
        identity={"channel": "facebook", "user_id": "6789012345678901"},
        sign=meta_signed,
        forge=lambda body: meta_signed(body, "not-the-app-secret"),
        with_text=json_with_text(["entry", 0, "messaging", 0, "message", "text"]),
        reply_path="/v19.0/me/messages",
        reply_query={"access_token": PAGE_TOKEN},
        reply=messenger_reply("6789012345678901"),
        reply_with_buttons=messenger_buttons("6789012345678901"),
        photo="facebook_photo.json",
        photo_id="m_Ph0t0Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P",
        photo_attachment={
            "type": "image",
            "url": "https://scontent.xx.fbcdn.net/v/t1.15752-9/468123_damage_n.jpg?_nc_cat=104&oh=00_AYB&oe=675A1B2C",
        },
        handshake=META_HANDSHAKE,
    ),
    Platform(
        name="instagram",
        make=lambda url: InstagramInput(META_VERIFY, META_APP_SECRET, PAGE_TOKEN, f"{url}/v19.0"),
        message="instagram_message.json",
        other_events="instagram_other_events.json",
        message_id=(
            "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1ODIyMzA0OTE0OjM0MDI4MjM2Njg0MTcxMDMwMTI0NDI3NjAxNzk5"
            "NDk4NzU4MjA2NzozMTU5NTIwMzg4NTc4NDMzNzAzMDY2NzU2MjA4NzY3NTkwNAZDZD"
        ),
        user_id="1254459154682919",
        text="Can I add my daughter to my auto policy?",
        identity={"channel": "instagram", "user_id": "1254459154682919"},
        sign=meta_signed,
        forge=lambda body: meta_signed(body, "not-the-app-secret"),
        with_text=json_with_text(["entry", 0, "messaging", 0, "message", "text"]),
        reply_path="/v19.0/me/messages",
        reply_query={"access_token": PAGE_TOKEN},
        reply=messenger_reply("1254459154682919"),
        reply_with_buttons=messenger_buttons("1254459154682919"),
        photo="instagram_photo.json",
        photo_id=(
            "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1ODIyMzA0OTE0OjM0MDI4MjM2Njg0MTcxMDMwMTI0NDI3NjAxNzk5"
            "NDk4NzU4MjA2NzozMTU5NTIwMzg4NTc4NDMzNzAzMDY2NzU2MjA4NzY3NTkwNAZDZQ"
        ),
        photo_attachment={
            "type": "image",
            "url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=18012345678901234&signature=AbCdEf",
        },
        handshake=META_HANDSHAKE,
    ),
    Platform(
        name="whatsapp",
        make=lambda url: WhatsAppInput(META_VERIFY, META_APP_SECRET, WHATSAPP_TOKEN, PHONE_NUMBER_ID, f"{url}/v19.0"),
        message="whatsapp_text.json",
        other_events="whatsapp_statuses.json",
        message_id="wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
        user_id=WHATSAPP_USER,
        text="Does my home policy cover water damage from a burst pipe?",
        identity={
            "channel": "whatsapp",
            "user_id": WHATSAPP_USER,
            "display_name": "Sheena Nelson",
            "phone": "+16505551234",
        },
        sign=meta_signed,
        forge=lambda body: meta_signed(body, "not-the-app-secret"),
        with_text=json_with_text(["entry", 0, "changes", 0, "value", "messages", 0, "text", "body"]),
        reply_path=f"/v19.0/{PHONE_NUMBER_ID}/messages",
        reply_headers={"Authorization": f"Bearer {WHATSAPP_TOKEN}"},
        reply=lambda text: {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": WHATSAPP_USER,
            "type": "text",
            "text": {"body": text, "preview_url": False},
        },
        reply_with_buttons={
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": WHATSAPP_USER,
            "type": "interactive",
            "interactive": {
                "type": "button",
                "action": {
                    "buttons": [{"type": "reply", "reply": {"id": b["payload"], "title": b["title"]}} for b in BUTTONS]
                },
                "body": {"text": "reply"},
            },
        },
        photo="whatsapp_photo.json",
        photo_id="wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzRkE5QjU3QjI0OUY2RTc4OTAxMgA=",
        photo_attachment={"type": "image", "media_id": "1003383421387256", "mime_type": "image/jpeg"},
        handshake=META_HANDSHAKE,
    ),
    Platform(
        name="telegram",
        make=lambda url: TelegramInput(TELEGRAM_TOKEN, TELEGRAM_SECRET, url),
        message="telegram_message.json",
        other_events="telegram_edited_message.json",
        message_id="123456789:4711",
        user_id="123456789",
        text="What does my renters policy cover?",
        identity={
            "channel": "telegram",
            "user_id": "123456789",
            "display_name": "Ana Silva",
            "username": "anasilva",
            "language": "en",
        },
        sign=telegram_signed,
        forge=lambda body: telegram_signed(body, "guessed-secret"),
        with_text=json_with_text(["message", "text"]),
        reply_path=f"/bot{TELEGRAM_TOKEN}/sendMessage",
        reply=lambda text: {"chat_id": "123456789", "text": text},
        reply_with_buttons={
            "chat_id": "123456789",
            "text": "reply",
            "reply_markup": {
                "inline_keyboard": [[{"text": b["title"], "callback_data": b["payload"]}] for b in BUTTONS]
            },
        },
        photo="telegram_photo.json",
        photo_id="123456789:4714",
        photo_attachment={"type": "image", "media_id": "AgACAgQAAxkBAAIBX2dQ_x1280", "mime_type": "image/jpeg"},
    ),
    Platform(
        name="twitter",
        make=lambda url: TwitterInput(X_CONSUMER_KEY, X_CONSUMER_SECRET, X_ACCESS_TOKEN, X_ACCESS_SECRET, url),
        message="twitter_dm.json",
        other_events="twitter_other_events.json",
        message_id="1861001234567890123",
        user_id="3001969357",
        text="Hi, I need a copy of my auto ID card",
        identity={"channel": "twitter", "user_id": "3001969357", "display_name": "Jordan Lee", "username": "jordanlee"},
        sign=x_signed,
        forge=lambda body: x_signed(body, "not-the-consumer-secret"),
        with_text=json_with_text(["direct_message_events", 0, "message_create", "message_data", "text"]),
        reply_path="/2/dm_conversations/with/3001969357/messages",
        reply=lambda text: {"text": text},
        reply_with_buttons={"text": "reply\n\n1. Yes\n2. No"},
        photo="twitter_photo.json",
        photo_id="1861001234567890456",
        photo_attachment={
            "type": "image",
            "url": "https://ton.twitter.com/1.1/ton/data/dm/1861001234567890456/1861001200000000001/aBcDeFgH.jpg",
            "media_id": "1861001200000000001",
        },
        handshake={
            "params": {"crc_token": "9b4507b3-8d4f-4a1c-bf4b-2a8e6c1d0f77"},
            "status": 200,
            "json": {"response_token": x_digest(X_CONSUMER_SECRET, b"9b4507b3-8d4f-4a1c-bf4b-2a8e6c1d0f77")},
            "wrong_params": {},
            "wrong_status": 400,
        },
    ),
    Platform(
        name="wechat",
        make=lambda url: WeChatInput(WECHAT_TOKEN, WECHAT_APP_ID, WECHAT_APP_SECRET, url),
        message="wechat_text.xml",
        other_events="wechat_subscribe.xml",
        message_id="24870123456789012",
        user_id="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        text="我的车险保单什么时候到期？",
        identity={"channel": "wechat", "user_id": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        sign=wechat_signed,
        forge=lambda body: wechat_signed(body, "guessed-token"),
        with_text=xml_with_text,
        reply_path="/cgi-bin/message/custom/send",
        reply_query={"access_token": WECHAT_ACCESS_TOKEN},
        reply=lambda text: {"touser": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "msgtype": "text", "text": {"content": text}},
        reply_with_buttons={
            "touser": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
            "msgtype": "text",
            "text": {"content": "reply\n\n1. Yes\n2. No"},
        },
        photo="wechat_image.xml",
        photo_id="24870123456789099",
        photo_attachment={
            "type": "image",
            "url": "http://mmbiz.qpic.cn/mmbiz_jpg/aBcDeFgHiJ/0",
            "media_id": "8XpB3Yh4zq2Rk7vN_Lm1QwErTyUiOp9AsDfGhJkLz0xCvBnM",
        },
        handshake={
            "params": {**wechat_query(), "echostr": "6453862079130917541"},
            "status": 200,
            "body": "6453862079130917541",
            "wrong_params": {**wechat_query("guessed-token"), "echostr": "6453862079130917541"},
            "wrong_status": 403,
        },
        prepare=prepare_wechat,
    ),
]
