"""Who the customer is, as the social connectors describe them (`channel_identity` in a user event's metadata).

The connectors (bot/channels/) put the platform's user id, name, username and phone there; the interaction
log stores one readable line per conversation built here, so the inbox can show and search it.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Optional

IDENTITY_LIMIT = 255  # Conversation.customer_identity is String(255)
NAME_LIMIT = 80  # the name, and the details in parentheses, are each cut (with "…") to this length
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"\s+")


def _clean(value: Any) -> str:
    """One line of visible text: control, zero-width and bidi-override characters go, spaces collapse."""
    text = _INVISIBLE.sub(" ", str(value)) if value is not None else ""
    return _SPACES.sub(" ", text).strip()


def _cut(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, cut with "…"; nothing at all when only a stub would fit."""
    if limit < 4:
        return "" if len(text) > max(limit, 0) else text
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def customer_identity(identity: Optional[Dict[str, Any]], channel: Optional[str], sender_id: str) -> Optional[str]:
    """The readable customer identity for a conversation, from a user event's `channel_identity`.

    Format: ``<name> (@<username>, <phone>) <channel>:<user id>``, each part only when the platform sent
    it, e.g. ``Jane Doe (@jane, +15551234567) telegram:12345``, ``Sheena Nelson (+16505551234)
    whatsapp:16505551234`` or, with the user id alone, ``facebook:6789012345678901``. The name is
    `display_name` (or `name`). The key ``<channel>:<user id>`` always comes last and is the
    conversation's sender id, the same value a conversation without an identity gets, so it can be read
    back (``rsplit(" ", 1)[-1]``) and searched for.

    None (nothing to store) unless `identity` names the user behind this sender id: ``<channel>:<user
    id>`` must equal `sender_id`, which the social connectors guarantee and which keeps a web chat
    client's own metadata from labelling a conversation as someone else's.

    At most 255 characters (the column's size): control, zero-width and bidi-control characters are
    removed and runs of spaces collapsed, the name and the details are each cut to 80 characters (with
    "…"), and if the whole is still too long the name, then the details, are cut; the key never is.
    """
    if not isinstance(identity, dict):
        return None
    channel = channel or identity.get("channel")
    user_id = identity.get("user_id")
    if not channel or user_id is None or f"{channel}:{user_id}" != sender_id or len(sender_id) > IDENTITY_LIMIT:
        return None
    key = sender_id
    name = _cut(_clean(identity.get("display_name") or identity.get("name")), NAME_LIMIT)
    username = _clean(identity.get("username")).lstrip("@")
    details = ", ".join(part for part in (f"@{username}" if username else "", _clean(identity.get("phone"))) if part)
    details = f"({_cut(details, NAME_LIMIT)})" if details else ""
    room = IDENTITY_LIMIT - len(key) - 1  # what is left before " <key>"
    if len(name) + 1 + len(details) > room:
        name = _cut(name, room - len(details) - 1)
        if not name and len(details) > room:
            inner = _cut(details[1:-1], room - 2)
            details = f"({inner})" if inner else ""
    readable = " ".join(part for part in (name, details) if part)
    return f"{readable} {key}" if readable else key
