"""What a customer on a public client (the web chat) may not choose: the intent, and metadata we trust.

Rasa reads any text of the form `/intent{entities}` as that intent with confidence 1, whoever typed it,
and the web chat sends the payload of a tapped button the same way it sends typed text. So a payload
is only taken as one when the bot offered it as a button in its reply to the customer's previous
message, or is one of the few the page itself sends (the `/greet` that opens a session); any other text
starting with "/" loses its leading slashes and is read as words, as on the social channels
(bot/channels/webhooks.py). Metadata keys that only our own connectors may set (attachments, the
customer's identity) are dropped from what the browser sends, so nobody can plant a "photo" link in an
agent's transcript or pose as someone else.

The same module holds the limits every public door applies before Rasa sees a message (the web chat and
the token-guarded REST channel): control characters and lone surrogates are stripped (a NUL or a "\\ud800"
must never reach the database raw, nor make PostgreSQL or a JSON encoder fail later), and a text longer
than MAX_TEXT_CHARS is refused with a reply that tells the customer why. Refused rather than cut: a cut
can drop the words that matter ("... but I do NOT want to cancel"), and the customer can split a long
account into messages. Without the limit one 900 kB message kept the NLU pipeline busy for ~17 s, and
every other conversation on that Rasa server waited.
"""

from __future__ import annotations

import json
import logging
import math
import re
from typing import AbstractSet, Any, Dict, Iterable, Optional, Set, Text

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import BotUttered, UserUttered

from bot.channels.webhooks import customer_text, without_secrets

logger = logging.getLogger(__name__)

DEFAULT_ALLOWED_PAYLOADS = frozenset({"/greet"})  # webchat/index.html's initPayload
TRUSTED_METADATA_KEYS = ("attachments", "channel_identity", "button_payload", "original_text")

MAX_TEXT_CHARS = 2000  # a long claim description is ~1,000 characters; the model reads far fewer
TOO_LONG_REPLY = (
    f"That message is too long for me (I can read up to {MAX_TEXT_CHARS:,} characters at a time). "
    "Could you send it in a few shorter messages, starting with your question?"
)
MAX_SENDER_ID_CHARS = 255  # the conversations table's id column, and what the inbox accepts
MAX_METADATA_KEYS = 20
MAX_METADATA_VALUE_CHARS = 200
# C0 controls except tab, newline and carriage return; DEL; UTF-16 surrogates (only lone ones survive JSON
# decoding as code points: a valid pair is decoded to one astral character such as an emoji)
_UNSAFE_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def offered_payloads(events: Iterable[Any]) -> Set[Text]:
    """Button payloads of the bot's messages since the customer's last message: what the web chat
    shows as tappable right now (rasa-webchat only keeps the latest message's buttons)."""
    offered: Set[Text] = set()
    for event in reversed(list(events)):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered):
            data = event.data or {}
            for button in (data.get("buttons") or []) + (data.get("quick_replies") or []):
                if isinstance(button, dict) and button.get("payload"):
                    offered.add(str(button["payload"]))
    return offered


def clean_text(text: Any) -> Text:
    """The customer's text without the characters no customer means to send: NUL and other control
    characters (tab and line breaks stay) and lone surrogates. Anything that is not a string is no text."""
    return _UNSAFE_CHARACTERS.sub("", text) if isinstance(text, str) else ""


def too_long(text: Text) -> bool:
    return len(text) > MAX_TEXT_CHARS


def valid_sender_id(sender_id: Any) -> bool:
    """A conversation id a door may hand to Rasa: a non-blank string of at most MAX_SENDER_ID_CHARS with
    no control characters or lone surrogates (the inbox must be able to store, show and address it)."""
    return (
        isinstance(sender_id, str)
        and 0 < len(sender_id) <= MAX_SENDER_ID_CHARS
        and bool(sender_id.strip())
        and not _UNSAFE_CHARACTERS.search(sender_id)
    )


def public_metadata(metadata: Any) -> Dict[Text, Any]:
    """What a public client may attach to a message (rasa-webchat's customData: `{"language": "en"}`):
    a flat object of at most MAX_METADATA_KEYS short scalar values, strings cleaned like text. Anything
    else is dropped: Rasa stores metadata in every user event, so it must not be a way to store megabytes."""
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)  # Rasa's socket.io channel accepts customData sent as a JSON string
        except ValueError:
            return {}
    if not isinstance(metadata, dict):
        return {}
    kept: Dict[Text, Any] = {}
    for key, value in list(metadata.items())[:MAX_METADATA_KEYS]:
        key = clean_text(key)[:MAX_METADATA_VALUE_CHARS]
        if not key:
            continue
        if isinstance(value, str):
            kept[key] = clean_text(value)[:MAX_METADATA_VALUE_CHARS]
        elif value is None or isinstance(value, (bool, int)):
            kept[key] = value
        elif isinstance(value, float) and math.isfinite(value):  # JSON's NaN and Infinity are no values
            kept[key] = value
    return kept


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
