"""Media a customer sends without words (damage photos, a repair quote, a voice note, a location).

The connectors hand such a message to Rasa as the share_attachment intent with the attachments in its
metadata (bot/channels/webhooks.py), and the interaction log keeps them on the message row, which is
what the inbox shows the agent. The bot cannot look at them itself, so the honest answer is to say what
it received, that it is kept with the conversation, and what it cannot do with it (listen to a voice
note), then carry on: inside a form the form asks its question again.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Dict, List, Sequence, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import CoverlineAction

# what a customer would call each attachment type, singular and plural
NAMES = {
    "image": ("photo", "photos"),
    "video": ("video", "videos"),
    "audio": ("voice note", "voice notes"),
    "file": ("document", "documents"),
    "location": ("location", "locations"),
    "contact": ("contact card", "contact cards"),
    "link": ("link", "links"),
}


def describe(attachments: Sequence[Dict[str, Any]]) -> str:
    """ "your photo", "your 2 photos and document": in the order they were sent, stickers left out."""
    counts = Counter(str(item.get("type")) for item in attachments if item.get("type") in NAMES)
    parts = []
    for kind, count in counts.items():
        singular, plural = NAMES[kind]
        if kind == "audio" and not any(item.get("voice") for item in attachments if item.get("type") == "audio"):
            singular, plural = "audio file", "audio files"
        parts.append(singular if count == 1 else f"{count} {plural}")
    if not parts:
        return ""
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"your {listed}"


def acknowledgement(attachments: Sequence[Dict[str, Any]], in_form: bool) -> str:
    what = describe(attachments)
    if not attachments:
        return "I couldn't open that attachment. Could you send it again, or describe what it shows?"
    if not what:  # only stickers: a reaction, not something to keep
        return "😊" if in_form else "😊 How can I help with your insurance today?"
    said = (
        f"Thanks, I've received {what}. It's saved with this conversation, "
        "so the person who handles your case can see it."
    )
    if any(item.get("type") == "audio" for item in attachments):
        said += " I can't listen to audio myself, so please also type what you need."
    elif not in_form:
        said += " What would you like to do with it, for example report a claim or add it to an existing one?"
    return said


def latest_attachments(events: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The attachments of the customer's newest message: they travel in the user event's metadata
    (Rasa's latest_message is the parse result, which has none)."""
    for event in reversed(events):
        if event.get("event") == "user":
            found = (event.get("metadata") or {}).get("attachments")
            return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []
    return []


class ActionAcknowledgeAttachment(CoverlineAction):
    def name(self) -> Text:
        return "action_acknowledge_attachment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        attachments = latest_attachments(tracker.events)
        in_form = bool((tracker.active_loop or {}).get("name"))
        dispatcher.utter_message(text=acknowledgement(attachments, in_form), answer_source="action")
        return []
