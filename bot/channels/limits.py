"""The limits every door applies before Rasa sees a customer's message: the web chat (socketio.py), the
REST channel (rest.py) and the social connectors (webhooks.py).

- Control characters and lone surrogates are stripped: a NUL or a "\\ud800" must never reach the database
  raw (PostgreSQL refuses NUL in text; the CRF entity extractor cannot encode a lone surrogate and the
  turn fails). Tab and line breaks stay.
- A text longer than MAX_TEXT_CHARS is refused with a reply that says why. Refused rather than cut: a cut
  can drop the words that matter ("... but I do NOT want to cancel"), and the customer can split a long
  account into messages. Without the limit one 900 kB web chat message kept the NLU pipeline busy for
  ~17 s while every other conversation on that Rasa server waited; a 5 MB signed webhook did the same.
- Conversation ids and client metadata are kept to shapes the inbox can store, show and address.

No imports from the channels: every channel module may use this one.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Dict, Text

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
