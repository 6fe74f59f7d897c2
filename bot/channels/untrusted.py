"""What a customer on a public client (the web chat) may not choose: the intent, and metadata we trust.

Rasa reads any text of the form `/intent{entities}` as that intent with confidence 1, whoever typed it,
and the web chat sends the payload of a tapped button the same way it sends typed text. So a payload
is only taken as one when the bot offered it as a button in its reply to the customer's previous
message, on a carousel card of the conversation or on a button marked `lasting` (both stay on screen: the
"not for me" of a recommendation), or is one of the few the page itself sends (the `/greet` that opens a
session); any other text starting with "/" loses its leading slashes and is read as words, as on the social channels
(bot/channels/webhooks.py). Metadata keys that only our own connectors may set (attachments, the
customer's identity) are dropped from what the browser sends, so nobody can plant a "photo" link in an
agent's transcript or pose as someone else.

The limits every door applies before this screen (length, control characters) are in bot/channels/limits.py.
"""

from __future__ import annotations

import logging
from typing import AbstractSet, Any, Iterable, Optional, Set, Text

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import BotUttered, UserUttered

from bot.channels.webhooks import customer_text, without_secrets

logger = logging.getLogger(__name__)

DEFAULT_ALLOWED_PAYLOADS = frozenset({"/greet"})  # webchat/index.html's initPayload
# Every button Coverline offers sends an `/intent{...}` payload (tests/channels/test_untrusted.py checks
# the domain and the actions), so only a message starting with it can be a tapped button: for any other
# the tracker is not read (a second full read of the conversation per message, benchmarks/results/load.md).
PAYLOAD_PREFIX = "/"
TRUSTED_METADATA_KEYS = ("attachments", "channel_identity", "button_payload", "original_text")
# A button marked `"lasting": true` stays on offer after the customer writes again: a client that keeps it on
# screen (a REST app's list of "Not for me: 1 / 2 / 3") may send it later. Only buttons whose action checks what
# they name carry it (recommendations/rendering.py: "not for me", accepted for this conversation's impressions).
LASTING = "lasting"


def offered_payloads(events: Iterable[Any]) -> Set[Text]:
    """What the web chat shows as tappable right now: the buttons of the bot's messages since the customer's
    last message (rasa-webchat only keeps the latest message's quick replies), and the postbacks on every
    carousel card and every `lasting` button of the conversation. Cards stay on the page with their buttons
    live: a customer who taps "Not for me" on one card and then on another, or after asking something else,
    taps an older message's button, which read as typed words was taken for an upset customer and handed to a
    person. A card's only postback is its "not for me", whose action accepts an impression of this
    conversation alone."""
    offered: Set[Text] = set()
    latest = True
    for event in reversed(list(events)):
        if isinstance(event, UserUttered):
            latest = False
        elif isinstance(event, BotUttered):
            data = event.data or {}
            buttons = _card_buttons(data)
            replies = (data.get("buttons") or []) + (data.get("quick_replies") or [])
            if latest:
                buttons = replies + buttons
            else:
                buttons = [b for b in replies if isinstance(b, dict) and b.get(LASTING) is True] + buttons
            for button in buttons:
                if isinstance(button, dict) and button.get("payload"):
                    offered.add(str(button["payload"]))
    return offered


def _card_buttons(data: Any) -> list:
    """The buttons on the cards of a carousel (rasa-webchat's generic template attachment, which
    recommendations/rendering.py sends with a "not for me" postback on each card)."""
    attachment = data.get("attachment") if isinstance(data, dict) else None
    payload = attachment.get("payload") if isinstance(attachment, dict) else None
    elements = payload.get("elements") if isinstance(payload, dict) else None
    if not isinstance(elements, list):
        return []
    return [
        button
        for element in elements
        if isinstance(element, dict) and isinstance(element.get("buttons"), list)
        for button in element["buttons"]
        if isinstance(button, dict) and button.get("type") == "postback"
    ]


async def screened(
    app: Optional[Any], message: UserMessage, always_allowed: AbstractSet[Text] = frozenset()
) -> UserMessage:
    """`screen` with what is on offer in this conversation, read from the tracker only when the message
    could be a tapped button."""
    text = message.text if isinstance(message.text, str) else ""
    could_be_a_button = text.strip().startswith(PAYLOAD_PREFIX)
    offered = await payloads_on_offer(app, message.sender_id) if could_be_a_button else set()
    return screen(message, offered | set(always_allowed))


def screen(message: UserMessage, allowed_payloads: AbstractSet[Text]) -> UserMessage:
    """The message as Rasa should see it: an unoffered payload read as words, trusted metadata gone."""
    text = without_secrets(message.text) if isinstance(message.text, str) else ""
    metadata = dict(message.metadata) if isinstance(message.metadata, dict) else {}
    for key in TRUSTED_METADATA_KEYS:
        metadata.pop(key, None)
    if text.strip() in allowed_payloads:
        text = text.strip()
        metadata["button_payload"] = True
    else:
        words = customer_text(text)
        if words != text.strip():
            metadata["original_text"] = text
        text = words
    message.text = text
    message.metadata = metadata
    return message


async def payloads_on_offer(app: Optional[Any], sender_id: Text) -> Set[Text]:
    """The payloads the bot offered this conversation, read from Rasa's tracker store. If the store
    cannot be read, nothing is on offer: a tapped button is then read as its words, never lost."""
    agent = getattr(getattr(app, "ctx", None), "agent", None)
    store = getattr(agent, "tracker_store", None)
    if store is None:
        return set()
    try:
        tracker = await store.retrieve(sender_id)
    except Exception:  # the store being down must not lose the message; Rasa will report it itself
        logger.warning("could not read the tracker of %s to check a payload", sender_id, exc_info=True)
        return set()
    return offered_payloads(tracker.events) if tracker is not None else set()
