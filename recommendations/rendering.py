"""Recommendations in each channel's own form, as `dispatcher.utter_message` keyword arguments.

- web chat (`socketio`): a rasa-webchat carousel (`attachment`, generic template), a card per item with its link
  and a "not for me" postback button;
- Messenger, Instagram: the Send API generic template (`json_message` is the Send API `message`), the same buttons;
- WhatsApp: a CTA-URL interactive message per item, then one interactive list whose rows dismiss;
- Telegram: one `sendMessage` (`json_message` holds its parameters) with an inline keyboard: a URL button and a
  callback "not for me" per item;
- WeChat: customer-service `news` messages, one article each (WeChat refuses more per message); no buttons;
- X and any other channel: numbered text with the links, and "not for me" buttons where the channel has buttons.

Every link is a tracked one (recommendations/tracking.py) for the item's impression in this conversation, and every
"not for me" sends `/dismiss_content{"content_impression":"<id>"}` (recommendations/events.py). Texts are cut to
each platform's documented limits here, and `check_limits` refuses a message that breaks one, so a platform
never rejects a reply the customer then never sees. Messenger, WhatsApp and WeChat fetch images themselves and take
only JPEG/PNG: they get the PNG beside an SVG (scripts/render_content_images.py draws them), the web chat the SVG.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

from sqlalchemy import select
from sqlalchemy.orm import Session

from recommendations.events import Showing, dismiss_payload, record_impressions
from recommendations.tracking import tracked_url
from settings import Settings, current
from storage.models import ContentItem
from storage.settings import PROJECT_ROOT
from storage.verification import verified_customer_id

WEB_CHAT = frozenset({"socketio", "webchat"})
MESSENGER = frozenset({"facebook", "instagram"})
BUTTONLESS = frozenset({"twitter", "wechat"})  # buttons would only become numbered text nobody can tap

INTRO = "You might find these helpful:"
OPEN_LABEL = "Read it"
DISMISS_LABEL = "Not for me"
CONTENT_PATH = "/content/"
PREVIEW_IMPRESSION = 0  # impression ids start at 1: a preview's "not for me" names none
PREVIEW_PATH = "/r/preview"  # where a preview's link points instead of a signed one (not a valid token)
RASTER_SUFFIXES = (".png", ".jpg", ".jpeg")

# documented platform limits (characters unless said)
CAROUSEL_CARDS = 10  # rasa-webchat shows any number; kept at Messenger's so both read alike
MESSENGER_ELEMENTS = 10
MESSENGER_TITLE = 80
MESSENGER_SUBTITLE = 80
MESSENGER_BUTTONS = 3
MESSENGER_BUTTON_TITLE = 20
MESSENGER_PAYLOAD = 1000
WHATSAPP_ROWS = 10
WHATSAPP_ROW_TITLE = 24
WHATSAPP_ROW_DESCRIPTION = 72
WHATSAPP_ROW_ID = 200
WHATSAPP_BUTTON_TEXT = 20  # the list's button and a CTA-URL's display_text
WHATSAPP_BODY = 1024
WHATSAPP_HEADER_TEXT = 60
TELEGRAM_TEXT = 4096
TELEGRAM_CALLBACK_BYTES = 64
TELEGRAM_BUTTON_TEXT = 40  # not a hard limit: longer labels are cut by the app anyway
WECHAT_ARTICLES = 8
WECHAT_TITLE = 64
WECHAT_DESCRIPTION = 120
TEXT_ITEMS = 5


class RenderError(ValueError):
    """A message that a platform would refuse (a broken documented limit)."""


@dataclass(frozen=True)
class Card:
    """One recommended item as every channel needs it: its tracked link and its dismiss payload."""

    impression_id: int
    title: str
    summary: str
    url: str  # the tracked link
    dismiss_payload: str
    image_url: Optional[str] = None  # for browsers (SVG is fine)
    raster_image_url: Optional[str] = None  # JPEG/PNG, for platforms that fetch the image themselves


def render_recommendations(
    items: Sequence[Union[ContentItem, int]],
    channel: str,
    conversation_id: str,
    session: Session,
    *,
    moment: str = "on_request",
    customer_id: Optional[int] = None,
    scores: Optional[Sequence[Optional[float]]] = None,
    intro: str = INTRO,
    settings: Optional[Settings] = None,
) -> List[Dict[str, Any]]:
    """The messages that show `items` (rows or ids, best first) on `channel`, as utter_message kwargs; each
    item shown is logged as an impression of this conversation (customer: the verified one, unless given).
    Retired or unknown items are left out; nothing at all is an empty list."""
    settings = settings or current()
    rows = _live_items(session, items)[: max_items(channel)]
    if not rows:
        return []
    if customer_id is None:
        customer_id = verified_customer_id(session, conversation_id)
    score_of = {_item_id(item): score for item, score in zip(items, scores or [], strict=False)}
    impressions = record_impressions(
        session,
        [Showing(row.id, position, score_of.get(row.id)) for position, row in enumerate(rows)],
        conversation_id=conversation_id,
        channel=channel,
        moment=moment,
        customer_id=customer_id,
    )
    base = settings.recommendations.public_url
    cards = [
        card_for(row, impression.id, tracked_url(impression.id, row.id, settings), base)
        for row, impression in zip(rows, impressions, strict=True)
    ]
    return render_cards(cards, channel, intro)


def card_for(row: ContentItem, impression_id: int, url: str, public_url: str) -> Card:
    """One item's card for one impression: what every channel's message is built from."""
    return Card(
        impression_id=impression_id,
        title=row.title,
        summary=row.summary,
        url=url,
        dismiss_payload=dismiss_payload(impression_id),
        image_url=image_url(public_url, row.image),
        raster_image_url=image_url(public_url, raster_image(row.image)),
    )


def preview_messages(row: ContentItem, channel: str, public_url: str, intro: str = INTRO) -> List[Dict[str, Any]]:
    """The messages `channel` would get for this item alone, for the inbox's preview: built and checked by the
    same functions as a real recommendation, but nothing is logged, so the card names impression
    PREVIEW_IMPRESSION (no such row) and its link is PREVIEW_PATH, which opens nothing. RenderError if the
    channel would refuse it."""
    url = f"{public_url}{PREVIEW_PATH}"
    return render_cards([card_for(row, PREVIEW_IMPRESSION, url, public_url)], channel, intro)


def render_cards(cards: Sequence[Card], channel: str, intro: str = INTRO) -> List[Dict[str, Any]]:
    """The channel's native messages for these cards, checked against its limits."""
    cards = list(cards)[: max_items(channel)]
    if not cards:
        return []
    if channel in WEB_CHAT:
        messages = web_chat_carousel(cards, intro)
    elif channel in MESSENGER:
        messages = messenger_generic_template(cards, intro, square_images=channel == "facebook")
    elif channel == "whatsapp":
        messages = whatsapp_messages(cards, intro)
    elif channel == "telegram":
        messages = telegram_keyboard(cards, intro)
    elif channel == "wechat":
        messages = wechat_news(cards, intro)
    else:
        messages = numbered_text(cards, intro, with_buttons=channel not in BUTTONLESS)
    check_limits(messages, channel)
    return messages


def max_items(channel: str) -> int:
    if channel in WEB_CHAT:
        return CAROUSEL_CARDS
    if channel in MESSENGER:
        return MESSENGER_ELEMENTS
    return {"whatsapp": WHATSAPP_ROWS, "telegram": WHATSAPP_ROWS, "wechat": WECHAT_ARTICLES}.get(channel, TEXT_ITEMS)


def web_chat_carousel(cards: List[Card], intro: str) -> List[Dict[str, Any]]:
    """rasa-webchat 1.x draws `attachment` {type: template, payload: {template_type: generic, elements}} as a
    carousel: web_url buttons open in a new tab, postback buttons send their payload as the customer's message."""
    elements = [
        _without_none(
            {
                "title": fit(card.title, MESSENGER_TITLE),
                "subtitle": fit(card.summary, MESSENGER_SUBTITLE),
                "image_url": card.image_url,
                "default_action": {"type": "web_url", "url": card.url},
                "buttons": [
                    {"type": "web_url", "url": card.url, "title": OPEN_LABEL},
                    {"type": "postback", "payload": card.dismiss_payload, "title": DISMISS_LABEL},
                ],
            }
        )
        for card in cards
    ]
    carousel = {"type": "template", "payload": {"template_type": "generic", "elements": elements}}
    return [{"text": intro, "attachment": carousel}]


def messenger_generic_template(cards: List[Card], intro: str, square_images: bool = False) -> List[Dict[str, Any]]:
    """Messenger's (and Instagram's) generic template: the custom JSON is the Send API's `message` object. The
    library's images are square icons, which Messenger would crop to 1.91:1 unless told (Instagram has no such
    option)."""
    elements = [
        _without_none(
            {
                "title": fit(card.title, MESSENGER_TITLE),
                "subtitle": fit(card.summary, MESSENGER_SUBTITLE),
                "image_url": card.raster_image_url,
                "default_action": {"type": "web_url", "url": card.url},
                "buttons": [
                    {"type": "web_url", "url": card.url, "title": OPEN_LABEL},
                    {"type": "postback", "payload": card.dismiss_payload, "title": DISMISS_LABEL},
                ],
            }
        )
        for card in cards
    ]
    payload: Dict[str, Any] = {"template_type": "generic", "elements": elements}
    if square_images and any("image_url" in element for element in elements):
        payload["image_aspect_ratio"] = "square"
    return [{"text": intro}, {"json_message": {"attachment": {"type": "template", "payload": payload}}}]


def whatsapp_messages(cards: List[Card], intro: str) -> List[Dict[str, Any]]:
    """One CTA-URL message per item (WhatsApp has one URL button per message), then a list to hide any of them.
    The custom JSON is the Cloud API message without its recipient fields."""
    messages: List[Dict[str, Any]] = [{"text": intro}]
    for card in cards:
        header = (
            {"type": "image", "image": {"link": card.raster_image_url}}
            if card.raster_image_url
            else {"type": "text", "text": fit(card.title, WHATSAPP_HEADER_TEXT)}
        )
        interactive = {
            "type": "cta_url",
            "header": header,
            "body": {"text": fit(f"*{card.title}*\n{card.summary}", WHATSAPP_BODY)},
            "action": {"name": "cta_url", "parameters": {"display_text": OPEN_LABEL, "url": card.url}},
        }
        messages.append({"json_message": {"type": "interactive", "interactive": interactive}})
    rows = [
        {
            "id": card.dismiss_payload,
            "title": fit(card.title, WHATSAPP_ROW_TITLE),
            "description": fit("Hide this suggestion", WHATSAPP_ROW_DESCRIPTION),
        }
        for card in cards
    ]
    dismiss_list = {
        "type": "list",
        "body": {"text": "Not what you need? Pick one and we won't suggest it again."},
        "action": {"button": DISMISS_LABEL, "sections": [{"title": "Hide a suggestion", "rows": rows}]},
    }
    messages.append({"json_message": {"type": "interactive", "interactive": dismiss_list}})
    return messages


def telegram_keyboard(cards: List[Card], intro: str) -> List[Dict[str, Any]]:
    """One `sendMessage`: the items as numbered text, and per item a row with its link and its dismiss button."""
    lines = [intro] + [f"{index}. {card.title}\n{card.summary}" for index, card in enumerate(cards, 1)]
    keyboard = [
        [
            {"text": fit(f"{index}. {card.title}", TELEGRAM_BUTTON_TEXT), "url": card.url},
            {"text": DISMISS_LABEL, "callback_data": card.dismiss_payload},
        ]
        for index, card in enumerate(cards, 1)
    ]
    text = fit("\n\n".join(lines), TELEGRAM_TEXT)
    return [{"json_message": {"text": text, "reply_markup": {"inline_keyboard": keyboard}}}]


def wechat_news(cards: List[Card], intro: str) -> List[Dict[str, Any]]:
    """Customer-service `news` messages. WeChat has accepted one article per message since 2018 (error 45008
    for more), so each item is its own message; at most WECHAT_ARTICLES of them."""
    messages: List[Dict[str, Any]] = [{"text": intro}]
    for card in cards:
        article = _without_none(
            {
                "title": fit(card.title, WECHAT_TITLE),
                "description": fit(card.summary, WECHAT_DESCRIPTION),
                "url": card.url,
                "picurl": card.raster_image_url,
            }
        )
        messages.append({"json_message": {"msgtype": "news", "news": {"articles": [article]}}})
    return messages


def numbered_text(cards: List[Card], intro: str, with_buttons: bool) -> List[Dict[str, Any]]:
    """Numbered titles, summaries and links; "not for me" buttons only where the channel has buttons."""
    lines = [f"{index}. {card.title}: {card.summary}\n{card.url}" for index, card in enumerate(cards, 1)]
    message: Dict[str, Any] = {"text": "\n\n".join([intro] + lines)}
    if with_buttons:
        # "lasting": still a tap after the customer wrote again (bot/channels/untrusted.py LASTING): a client may
        # keep all three on screen, and a second "Not for me" read as typed words went to a person as "upset"
        message["buttons"] = [
            {"title": f"{DISMISS_LABEL}: {index}", "payload": card.dismiss_payload, "lasting": True}
            for index, card in enumerate(cards, 1)
        ]
    return [message]


def check_limits(messages: Iterable[Dict[str, Any]], channel: str) -> None:
    """RenderError naming the first documented limit a message breaks."""
    for message in messages:
        custom = message.get("json_message") or {}
        if channel in WEB_CHAT:
            _check_generic(message["attachment"]["payload"]["elements"], CAROUSEL_CARDS, channel)
        elif channel in MESSENGER and custom:
            _check_generic(custom["attachment"]["payload"]["elements"], MESSENGER_ELEMENTS, channel)
        elif channel == "whatsapp" and custom:
            _check_whatsapp(custom["interactive"])
        elif channel == "telegram" and custom:
            _check_telegram(custom)
        elif channel == "wechat" and custom:
            _require(len(custom["news"]["articles"]) <= WECHAT_ARTICLES, "wechat: more than 8 articles")


def _check_generic(elements: List[Dict[str, Any]], most: int, channel: str) -> None:
    _require(0 < len(elements) <= most, f"{channel}: {len(elements)} elements (1 to {most})")
    for element in elements:
        _require(len(element["title"]) <= MESSENGER_TITLE, f"{channel}: title over {MESSENGER_TITLE}")
        _require(len(element.get("subtitle", "")) <= MESSENGER_SUBTITLE, f"{channel}: subtitle over 80")
        _require(len(element["buttons"]) <= MESSENGER_BUTTONS, f"{channel}: more than {MESSENGER_BUTTONS} buttons")
        for button in element["buttons"]:
            _require(len(button["title"]) <= MESSENGER_BUTTON_TITLE, f"{channel}: button title over 20")
            _require(len(button.get("payload", "")) <= MESSENGER_PAYLOAD, f"{channel}: payload over 1000")


def _check_whatsapp(interactive: Dict[str, Any]) -> None:
    _require(len(interactive["body"]["text"]) <= WHATSAPP_BODY, "whatsapp: body over 1024")
    if interactive["type"] == "cta_url":
        label = interactive["action"]["parameters"]["display_text"]
        _require(len(label) <= WHATSAPP_BUTTON_TEXT, "whatsapp: display_text over 20")
        return
    _require(len(interactive["action"]["button"]) <= WHATSAPP_BUTTON_TEXT, "whatsapp: list button over 20")
    rows = [row for section in interactive["action"]["sections"] for row in section["rows"]]
    _require(0 < len(rows) <= WHATSAPP_ROWS, f"whatsapp: {len(rows)} rows (1 to {WHATSAPP_ROWS})")
    for row in rows:
        _require(len(row["title"]) <= WHATSAPP_ROW_TITLE, "whatsapp: row title over 24")
        _require(len(row.get("description", "")) <= WHATSAPP_ROW_DESCRIPTION, "whatsapp: row description over 72")
        _require(len(row["id"]) <= WHATSAPP_ROW_ID, "whatsapp: row id over 200")


def _check_telegram(custom: Dict[str, Any]) -> None:
    _require(len(custom["text"]) <= TELEGRAM_TEXT, "telegram: text over 4096")
    for row in custom["reply_markup"]["inline_keyboard"]:
        for button in row:
            if "callback_data" in button:
                size = len(button["callback_data"].encode("utf-8"))
                _require(size <= TELEGRAM_CALLBACK_BYTES, f"telegram: callback_data of {size} bytes (at most 64)")


def _require(condition: bool, problem: str) -> None:
    if not condition:
        raise RenderError(problem)


def fit(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut at a word where one is near, with an ellipsis."""
    text = " ".join(text.split()) if "\n" not in text else text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def image_url(public_url: str, image: Optional[str]) -> Optional[str]:
    """The public URL of a library image (`webchat/content/<file>` is served at /content/<file>)."""
    if not image or not image.startswith("webchat/content/"):
        return None
    return f"{public_url}{CONTENT_PATH}{image.rsplit('/', 1)[-1]}"


def raster_image(image: Optional[str]) -> Optional[str]:
    """The image itself if it is JPEG/PNG, else a PNG of the same name beside it, if there is one."""
    if not image:
        return None
    path = Path(image)
    if path.suffix.lower() in RASTER_SUFFIXES:
        return image
    png = path.with_suffix(".png")
    return str(png) if (PROJECT_ROOT / png).is_file() else None


def _live_items(session: Session, items: Sequence[Union[ContentItem, int]]) -> List[ContentItem]:
    """The items in the order given, as rows, without retired or unknown ones or repeats."""
    ids = [_item_id(item) for item in items]
    rows = {row.id: row for row in session.scalars(select(ContentItem).where(ContentItem.id.in_(ids)))}
    seen: set = set()
    live = []
    for item_id in ids:
        row = rows.get(item_id)
        if row is not None and row.retired_at is None and item_id not in seen:
            seen.add(item_id)
            live.append(row)
    return live


def _item_id(item: Union[ContentItem, int]) -> int:
    return item.id if isinstance(item, ContentItem) else int(item)


def _without_none(values: Dict[str, Any]) -> Dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}
