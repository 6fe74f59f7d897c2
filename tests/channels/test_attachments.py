"""What each connector makes of the media, locations and contacts customers send: photos of the damage,
a PDF of the repair quote, a voice note, where the car broke down. None of them may be dropped; a caption
is read as the customer's words, media alone become the share_attachment intent.

Payloads follow the platforms' webhook references (Messenger Platform, WhatsApp Cloud API, Telegram Bot
API, X Account Activity API, WeChat Official Accounts); the contract test posts a photo through every
real webhook, these cover the other kinds."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest
from rasa.core.channels.channel import CollectingOutputChannel

from bot.channels.facebook import messenger_inbound
from bot.channels.telegram import telegram_inbound
from bot.channels.twitter import twitter_inbound
from bot.channels.webhooks import ATTACHMENT_PAYLOAD, Inbound, attachment
from bot.channels.wechat import wechat_inbound
from bot.channels.whatsapp import whatsapp_inbound
from tests.support.platforms import PHONE_NUMBER_ID, fixture


def whatsapp_message(message: Dict[str, Any]) -> List[Inbound]:
    payload = json.loads(fixture("whatsapp_text.json"))
    payload["entry"][0]["changes"][0]["value"]["messages"] = [{**message, "from": "16505551234", "id": "wamid.X"}]
    return whatsapp_inbound(payload, PHONE_NUMBER_ID)


def telegram_message(**content: Any) -> List[Inbound]:
    update = json.loads(fixture("telegram_message.json"))
    del update["message"]["text"]
    update["message"].update(content)
    return telegram_inbound(update, "/greet")


def messenger_message(message: Dict[str, Any], kind: str = "page") -> List[Inbound]:
    event = {"sender": {"id": "678"}, "recipient": {"id": "106"}, "timestamp": 1, "message": {"mid": "m_1", **message}}
    return messenger_inbound({"object": kind, "entry": [{"id": "106", "messaging": [event]}]}, kind)


def wechat_push(**fields: str) -> List[Inbound]:
    return wechat_inbound({"FromUserName": "oUpF8u", "CreateTime": "1732370900", "MsgId": "2487", **fields})


def test_a_whatsapp_document_keeps_its_caption_as_the_customers_words() -> None:
    document = {"id": "7741", "mime_type": "application/pdf", "filename": "repair-quote.pdf", "caption": "the quote"}

    [message] = whatsapp_message({"type": "document", "document": document})

    assert message.text == "the quote"
    assert message.attachments == [
        {"type": "file", "media_id": "7741", "mime_type": "application/pdf", "file_name": "repair-quote.pdf"}
    ]


def test_a_whatsapp_voice_note_location_and_contact_card_are_attachments() -> None:
    [voice] = whatsapp_message(
        {"type": "audio", "audio": {"id": "55", "mime_type": "audio/ogg; codecs=opus", "voice": True}}
    )
    location = {"latitude": 52.37, "longitude": 4.89, "name": "A10 exit 3", "address": "Amsterdam"}
    [place] = whatsapp_message({"type": "location", "location": location})
    card = {"name": {"formatted_name": "Joe's Garage"}, "phones": [{"phone": "+31 20 555 0101", "type": "WORK"}]}
    [contact] = whatsapp_message({"type": "contacts", "contacts": [card]})

    assert voice.attachments == [
        {"type": "audio", "media_id": "55", "mime_type": "audio/ogg; codecs=opus", "voice": True}
    ]
    assert place.attachments == [
        {"type": "location", "latitude": 52.37, "longitude": 4.89, "title": "A10 exit 3", "address": "Amsterdam"}
    ]
    assert contact.attachments == [{"type": "contact", "title": "Joe's Garage", "phones": ["+31 20 555 0101"]}]


def test_whatsapp_reactions_are_not_customer_messages() -> None:
    assert whatsapp_message({"type": "reaction", "reaction": {"message_id": "wamid.Y", "emoji": "👍"}}) == []


def test_a_telegram_document_with_a_caption_and_a_voice_note_without_one() -> None:
    document = {"file_id": "BQACAgQ", "file_name": "police-report.pdf", "mime_type": "application/pdf"}
    [report] = telegram_message(document=document, caption="police report for CL-204117")
    [voice] = telegram_message(voice={"file_id": "AwACAgQ", "mime_type": "audio/ogg", "duration": 7})

    assert report.text == "police report for CL-204117"
    assert report.attachments == [
        {"type": "file", "media_id": "BQACAgQ", "mime_type": "application/pdf", "file_name": "police-report.pdf"}
    ]
    assert voice.text == "" and voice.attachments == [
        {"type": "audio", "media_id": "AwACAgQ", "mime_type": "audio/ogg", "voice": True}
    ]


def test_a_telegram_venue_is_one_location_and_a_gif_is_not_also_a_document() -> None:
    venue = {"location": {"latitude": 38.72, "longitude": -9.14}, "title": "Oficina Auto", "address": "Rua X 1"}
    [place] = telegram_message(venue=venue, location=venue["location"])
    gif = {"file_id": "CgACAgQ", "mime_type": "video/mp4", "file_name": "dent.mp4"}
    [animation] = telegram_message(animation=gif, document=gif)

    assert place.attachments == [
        {"type": "location", "latitude": 38.72, "longitude": -9.14, "title": "Oficina Auto", "address": "Rua X 1"}
    ]
    assert animation.attachments == [
        {"type": "video", "media_id": "CgACAgQ", "mime_type": "video/mp4", "file_name": "dent.mp4"}
    ]


def test_telegram_service_messages_are_still_not_customer_messages() -> None:
    assert telegram_message(pinned_message={"message_id": 1}) == []


def test_messenger_keeps_every_attachment_of_a_message_with_its_text() -> None:
    [message] = messenger_message(
        {
            "text": "front and back",
            "attachments": [
                {"type": "image", "payload": {"url": "https://cdn.example/front.jpg"}},
                {"type": "image", "payload": {"url": "https://cdn.example/like.png", "sticker_id": 369239263222822}},
                {"type": "location", "payload": {"coordinates": {"lat": 40.7, "long": -74.0}}},
            ],
        }
    )

    assert message.text == "front and back"
    assert message.attachments == [
        {"type": "image", "url": "https://cdn.example/front.jpg"},
        {"type": "sticker", "url": "https://cdn.example/like.png"},
        {"type": "location", "latitude": 40.7, "longitude": -74.0},
    ]


def test_an_instagram_shared_post_is_a_link() -> None:
    [message] = messenger_message(
        {"attachments": [{"type": "share", "payload": {"url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?a=1"}}]},
        kind="instagram",
    )

    assert message.attachments == [{"type": "link", "url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?a=1"}]


def test_an_x_photo_with_words_loses_only_the_media_link_from_its_text() -> None:
    payload = json.loads(fixture("twitter_photo.json"))
    data = payload["direct_message_events"][0]["message_create"]["message_data"]
    data["text"] = "My windscreen after the storm https://t.co/Ab12Cd34Ef"

    [message] = twitter_inbound(payload)

    assert message.text == "My windscreen after the storm"
    assert message.attachments[0]["type"] == "image"


@pytest.mark.parametrize(
    ("fields", "text", "attachments"),
    [
        (
            {"MsgType": "voice", "MediaId": "m1", "Format": "amr", "Recognition": "我要报案"},
            "我要报案",
            [{"type": "audio", "media_id": "m1", "mime_type": "audio/amr", "voice": True}],
        ),
        (
            {"MsgType": "voice", "MediaId": "m2", "Format": "speex"},
            "",
            [{"type": "audio", "media_id": "m2", "mime_type": "audio/speex", "voice": True}],
        ),
        (
            {"MsgType": "location", "Location_X": "31.23", "Location_Y": "121.47", "Scale": "15", "Label": "上海"},
            "",
            [{"type": "location", "latitude": 31.23, "longitude": 121.47, "title": "上海"}],
        ),
        (
            {"MsgType": "link", "Title": "Flood map", "Description": "our street", "Url": "https://example.cn/m"},
            "",
            [{"type": "link", "url": "https://example.cn/m", "title": "Flood map", "caption": "our street"}],
        ),
        ({"MsgType": "shortvideo", "MediaId": "v1", "ThumbMediaId": "t1"}, "", [{"type": "video", "media_id": "v1"}]),
    ],
)
def test_wechat_media_locations_and_links(fields: Dict[str, str], text: str, attachments: List[Dict[str, Any]]) -> None:
    [message] = wechat_push(**fields)

    assert message.text == text
    assert message.attachments == attachments


def test_media_alone_is_handed_to_rasa_as_the_share_attachment_intent_and_a_caption_as_words() -> None:
    photo = [attachment("image", media_id="AgAC")]
    alone = Inbound("42", "42:1", "", attachments=photo).user_message("telegram", CollectingOutputChannel())
    captioned = Inbound("42", "42:2", "/claim this", attachments=photo).user_message(
        "telegram", CollectingOutputChannel()
    )

    assert alone.text == ATTACHMENT_PAYLOAD and alone.metadata["attachments"] == photo
    assert captioned.text == "claim this"  # a caption is customer text: never read as an intent
    assert captioned.metadata["attachments"] == photo


def test_an_attachment_survives_the_delivery_row_it_is_redelivered_from() -> None:
    message = Inbound("42", "42:1", "", attachments=[attachment("file", media_id="BQAC", file_name="a.pdf")])

    assert Inbound.from_stored(json.loads(json.dumps(message.stored("telegram")))) == message
