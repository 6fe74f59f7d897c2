"""An item as a channel would show it, for the content page: the exact messages recommendations/rendering.py
builds (nothing logged, no signed link), then the same messages as readable bubbles and as escaped HTML.

The bubbles are read from the payloads themselves, not from the item, so the preview shows what each platform's
limits did to the words (a title cut to 24 characters in a WhatsApp row, 40 on a Telegram button).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

from jinja2 import Environment, FileSystemLoader, select_autoescape

from inbox.errors import InvalidInput
from recommendations.rendering import RenderError, preview_messages
from storage.models import ContentItem

# the channels' names as Rasa's connectors give them (content_impressions.channel), with what an admin calls them
CHANNELS: Dict[str, str] = {
    "socketio": "Web chat",
    "facebook": "Messenger",
    "instagram": "Instagram",
    "whatsapp": "WhatsApp",
    "telegram": "Telegram",
    "wechat": "WeChat",
    "twitter": "X",
    "rest": "Other channels (numbered text)",
}

_TEMPLATES = Environment(
    loader=FileSystemLoader(str(Path(__file__).resolve().parent.parent / "web" / "templates")),
    autoescape=select_autoescape(default=True),
)

Bubble = Dict[str, Any]


def preview(item: ContentItem, channel: str, public_url: str) -> Dict[str, Any]:
    if channel not in CHANNELS:
        raise InvalidInput(f"channel: unknown {channel!r}; allowed: {', '.join(CHANNELS)}")
    try:
        messages = preview_messages(item, channel, public_url)
    except RenderError as error:
        raise InvalidInput(f"{CHANNELS[channel]} would refuse this item: {error}") from error
    bubbles = [readable(message) for message in messages]
    html = _TEMPLATES.get_template("content_preview.html").render(bubbles=bubbles, channel=CHANNELS[channel])
    return {
        "channel": channel,
        "channel_label": CHANNELS[channel],
        "messages": messages,
        "readable": bubbles,
        "html": html,
    }


def readable(message: Dict[str, Any]) -> Bubble:
    """One message as a bubble: its text, its cards (title, subtitle, image, buttons), buttons under it and the
    rows of a list, each button marked `link` (opens the item) or `reply` (sends "not for me")."""
    bubble: Bubble = {"text": message.get("text"), "cards": [], "buttons": [], "rows": []}
    attachment = message.get("attachment")
    if attachment:  # web chat carousel
        bubble["cards"] = [_generic_card(element) for element in attachment["payload"]["elements"]]
    bubble["buttons"] = [_button(button.get("title", ""), button) for button in message.get("buttons", [])]
    custom = message.get("json_message")
    if custom:
        _read_custom(custom, bubble)
    return bubble


def _read_custom(custom: Dict[str, Any], bubble: Bubble) -> None:
    if "attachment" in custom:  # Messenger / Instagram generic template
        bubble["cards"] = [_generic_card(element) for element in custom["attachment"]["payload"]["elements"]]
    elif custom.get("type") == "interactive":
        _read_whatsapp(custom["interactive"], bubble)
    elif "reply_markup" in custom:  # Telegram sendMessage with an inline keyboard
        bubble["text"] = custom["text"]
        bubble["keyboard"] = [
            [_button(button["text"], button) for button in row] for row in custom["reply_markup"]["inline_keyboard"]
        ]
    elif custom.get("msgtype") == "news":  # WeChat: one article per message
        bubble["cards"] = [
            {
                "title": article.get("title"),
                "subtitle": article.get("description"),
                "image": _file_name(article.get("picurl")),
                "buttons": [],
                "opens": article.get("url"),
            }
            for article in custom["news"]["articles"]
        ]


def _read_whatsapp(interactive: Dict[str, Any], bubble: Bubble) -> None:
    if interactive["type"] == "cta_url":
        header = interactive.get("header", {})
        parameters = interactive["action"]["parameters"]
        bubble["cards"] = [
            {
                "title": header.get("text"),
                "subtitle": interactive["body"]["text"],
                "image": _file_name(header.get("image", {}).get("link")),
                "buttons": [{"label": parameters["display_text"], "kind": "link", "target": parameters["url"]}],
            }
        ]
        return
    bubble["text"] = interactive["body"]["text"]
    bubble["buttons"] = [{"label": interactive["action"]["button"], "kind": "list", "target": None}]
    bubble["rows"] = [
        {"title": row["title"], "description": row.get("description"), "sends": row["id"]}
        for section in interactive["action"]["sections"]
        for row in section["rows"]
    ]


def _generic_card(element: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "title": element.get("title"),
        "subtitle": element.get("subtitle"),
        "image": _file_name(element.get("image_url")),
        "buttons": [_button(button.get("title", ""), button) for button in element.get("buttons", [])],
    }


def _button(label: str, button: Dict[str, Any]) -> Dict[str, Any]:
    link = button.get("url")
    sends = button.get("payload") or button.get("callback_data")
    return {"label": label, "kind": "link" if link else "reply", "target": link or sends}


def _file_name(url: Optional[str]) -> Optional[str]:
    """Images are named, not shown: they live on the web chat page server, which the inbox's CSP (img-src
    'self') does not load from."""
    return url.rsplit("/", 1)[-1] if url else None


def channels() -> List[Dict[str, str]]:
    return [{"id": key, "label": label} for key, label in CHANNELS.items()]
