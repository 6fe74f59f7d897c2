"""Recommendations rendered in each channel's native form from the demo library, within the platforms' documented
limits, each item shown logged as one impression of the conversation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recommendations.events import DISMISS_ENTITY, DISMISS_INTENT, dismiss_payload
from recommendations.rendering import Card, RenderError, check_limits, render_cards, render_recommendations
from recommendations.tracking import read_link
from settings import Settings
from storage.engine import session_scope
from storage.models import ContentEvent, ContentImpression, ContentItem
from tests.support.content_serving import (
    PUBLIC_URL,
    TRACKING_SECRET,
    content_database,
    items_by_slug,
    rows_of,
    serving_settings,
)

SLUGS = ("checklist-auto-collision", "guide-claim-documents-requested", "explainer-collision-vs-comprehensive")
WEB = "a1b2c3d4e5f60718293a4b5c6d7e8f90"


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One library for the module (migrating and importing is slow); each test has conversations of its own."""
    return content_database(f"sqlite:///{tmp_path_factory.mktemp('serving') / 'serving.db'}")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return serving_settings(tmp_path)


def render(db_url: str, settings: Settings, channel: str, conversation_id: str, slugs=SLUGS, **kwargs) -> list:
    items = items_by_slug(db_url, *slugs)
    with session_scope(db_url) as session:
        return render_recommendations(items, channel, conversation_id, session, settings=settings, **kwargs)


def impression_of(url: str) -> int:
    """The impression a tracked link was signed for (the link is genuine: read with the shared secret)."""
    assert url.startswith(f"{PUBLIC_URL}/r/")
    return read_link(TRACKING_SECRET.encode(), url.rsplit("/", 1)[-1]).impression_id


def test_web_chat_gets_a_carousel_with_a_tracked_link_and_not_for_me_on_each_card(db_url, settings) -> None:
    [message] = render(db_url, settings, "socketio", WEB, moment="claim_filed")

    assert message["text"]
    carousel = message["attachment"]
    assert carousel["type"] == "template" and carousel["payload"]["template_type"] == "generic"
    cards = carousel["payload"]["elements"]
    assert [card["title"] for card in cards] == [item.title for item in items_by_slug(db_url, *SLUGS)]
    impressions = rows_of(db_url, ContentImpression, conversation_id=WEB)
    for card, impression in zip(cards, impressions, strict=True):
        link, dismiss = card["buttons"]
        assert link["type"] == "web_url" and impression_of(link["url"]) == impression.id
        assert dismiss == {"type": "postback", "title": "Not for me", "payload": dismiss_payload(impression.id)}
        assert card["image_url"].startswith(f"{PUBLIC_URL}/content/") and card["image_url"].endswith(".svg")
    assert [(i.channel, i.moment, i.position) for i in impressions] == [
        ("socketio", "claim_filed", 0),
        ("socketio", "claim_filed", 1),
        ("socketio", "claim_filed", 2),
    ]


def test_messenger_gets_a_generic_template_with_png_images(db_url, settings) -> None:
    intro, template = render(db_url, settings, "facebook", "messenger:6723418890012345")

    assert intro == {"text": "You might find these helpful:"}
    payload = template["json_message"]["attachment"]["payload"]
    assert payload["template_type"] == "generic" and payload["image_aspect_ratio"] == "square"
    for element in payload["elements"]:
        assert element["image_url"].startswith(f"{PUBLIC_URL}/content/")
        assert element["image_url"].endswith(".png")  # Messenger fetches JPEG/PNG only: the SVG's rendition
        assert [button["type"] for button in element["buttons"]] == ["web_url", "postback"]
        assert element["default_action"]["url"] == element["buttons"][0]["url"]


def test_whatsapp_gets_a_call_to_action_per_item_and_a_list_to_hide_one(db_url, settings) -> None:
    intro, *calls, hide = render(db_url, settings, "whatsapp", "whatsapp:15550001111")

    assert len(calls) == 3
    for call in calls:
        interactive = call["json_message"]["interactive"]
        assert call["json_message"]["type"] == "interactive" and interactive["type"] == "cta_url"
        assert interactive["action"]["name"] == "cta_url"
        assert interactive["header"]["type"] == "image" and interactive["header"]["image"]["link"].endswith(".png")
        assert impression_of(interactive["action"]["parameters"]["url"])
    listing = hide["json_message"]["interactive"]
    assert listing["type"] == "list" and listing["action"]["button"] == "Not for me"
    rows = listing["action"]["sections"][0]["rows"]
    assert [row["id"] for row in rows] == [
        dismiss_payload(i.id) for i in rows_of(db_url, ContentImpression, conversation_id="whatsapp:15550001111")
    ]
    assert all(len(row["title"]) <= 24 and len(row["description"]) <= 72 for row in rows)


def test_telegram_gets_an_inline_keyboard_with_url_and_callback_buttons(db_url, settings) -> None:
    [message] = render(db_url, settings, "telegram", "telegram:777000111")

    custom = message["json_message"]
    assert "1. " in custom["text"] and "3. " in custom["text"]
    for row in custom["reply_markup"]["inline_keyboard"]:
        link, dismiss = row
        assert impression_of(link["url"])
        assert dismiss["callback_data"].startswith(f"/{DISMISS_INTENT}")
        assert len(dismiss["callback_data"].encode()) <= 64


def test_wechat_gets_one_news_article_per_message(db_url, settings) -> None:
    intro, *news = render(db_url, settings, "wechat", "wechat:oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")

    assert len(news) == 3
    for message in news:
        assert message["json_message"]["msgtype"] == "news"
        [article] = message["json_message"]["news"]["articles"]
        assert impression_of(article["url"]) and article["title"] and article["picurl"].endswith(".png")


@pytest.mark.parametrize("channel, buttons", [("twitter", False), ("rest", True)])
def test_x_and_other_channels_get_numbered_text_with_the_links(db_url, settings, channel, buttons) -> None:
    [message] = render(db_url, settings, channel, f"{channel}:1546700000000000000")

    lines = message["text"].splitlines()
    assert any(line.startswith("1. ") for line in lines) and any(line.startswith("3. ") for line in lines)
    assert sum(line.startswith(f"{PUBLIC_URL}/r/") for line in lines) == 3
    assert ("buttons" in message) is buttons


def test_showing_the_same_items_again_reuses_their_impressions(db_url, settings) -> None:
    first = render(db_url, settings, "telegram", "telegram:777000222")
    again = render(db_url, settings, "telegram", "telegram:777000222")

    # same impressions, so the same dismiss payloads and links to the same impressions: a retried action adds nothing
    keyboards = [message["json_message"]["reply_markup"]["inline_keyboard"] for message in (first[0], again[0])]
    assert [[row[1] for row in keyboard] for keyboard in keyboards] == [[row[1] for row in keyboards[0]]] * 2
    assert [[impression_of(row[0]["url"]) for row in keyboard] for keyboard in keyboards][0] == [
        impression_of(row[0]["url"]) for row in keyboards[1]
    ]
    impressions = rows_of(db_url, ContentImpression, conversation_id="telegram:777000222")
    assert len(impressions) == 3
    kinds = [event.kind for event in rows_of(db_url, ContentEvent, conversation_id="telegram:777000222")]
    assert kinds == ["impression"] * 3


def test_retired_and_unknown_items_are_left_out(db_url, settings) -> None:
    keep, gone = items_by_slug(db_url, "tip-winter-driving", "tip-wildfire")
    with session_scope(db_url) as session:
        session.get(ContentItem, gone.id).retired_at = keep.updated_at
    with session_scope(db_url) as session:
        messages = render_recommendations(
            [gone.id, keep.id, 999999], "twitter", "twitter:42", session, settings=settings
        )
        assert render_recommendations([gone.id], "twitter", "twitter:43", session, settings=settings) == []
    assert keep.title in messages[0]["text"] and gone.title not in messages[0]["text"]


def long_cards(count: int) -> list:
    title = "A very long guide title about what to do after a collision on the freeway at night in the rain"
    return [
        Card(
            impression_id=9_000_000_000 + n,
            title=title,
            summary="word " * 200,
            url=f"{PUBLIC_URL}/r/{'x' * 75}",
            dismiss_payload=dismiss_payload(9_000_000_000 + n),
        )
        for n in range(count)
    ]


@pytest.mark.parametrize(
    "channel, most", [("socketio", 10), ("facebook", 10), ("whatsapp", 10), ("telegram", 10), ("wechat", 8)]
)
def test_long_texts_and_many_items_are_cut_to_the_platform_limits(channel: str, most: int) -> None:
    messages = render_cards(long_cards(15), channel)

    check_limits(messages, channel)  # would raise RenderError
    assert json.dumps(messages).count(DISMISS_ENTITY) == (0 if channel == "wechat" else most)
    custom = [m["json_message"] for m in messages if "json_message" in m]
    if channel == "facebook":
        elements = custom[0]["attachment"]["payload"]["elements"]
        assert len(elements) == 10 and all(len(e["title"]) <= 80 and len(e["subtitle"]) <= 80 for e in elements)
        assert all(len(e["buttons"]) <= 3 and all(len(b["title"]) <= 20 for b in e["buttons"]) for e in elements)
        assert elements[0]["title"].endswith("…")
    if channel == "wechat":
        assert len(custom) == most


def test_check_limits_refuses_what_a_platform_would_reject() -> None:
    [message] = render_cards(long_cards(1), "telegram")
    message["json_message"]["reply_markup"]["inline_keyboard"][0][1]["callback_data"] = "/" + "d" * 64
    with pytest.raises(RenderError, match="callback_data of 65 bytes"):
        check_limits([message], "telegram")
    _, listing = render_cards(long_cards(1), "whatsapp")[-2:]
    listing["json_message"]["interactive"]["action"]["sections"][0]["rows"][0]["title"] = "t" * 25
    with pytest.raises(RenderError, match="row title over 24"):
        check_limits([listing], "whatsapp")
