"""What the bot says to media sent without words: it names what it got, says it is kept for the person
handling the case, admits it cannot listen to audio, and inside a form leaves the question to the form."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.attachments import ActionAcknowledgeAttachment, describe

PHOTO = {"type": "image", "media_id": "AgAC"}
PDF = {"type": "file", "media_id": "BQAC", "file_name": "quote.pdf"}
VOICE = {"type": "audio", "media_id": "AwAC", "voice": True}
STICKER = {"type": "sticker", "media_id": "CAAC"}


def said(attachments: Optional[List[Dict[str, Any]]], form: Optional[str] = None) -> str:
    events: List[Dict[str, Any]] = [{"event": "user", "text": "/old", "metadata": {"attachments": [PDF]}}]
    events.append({"event": "bot", "text": "ok"})
    metadata = {} if attachments is None else {"attachments": attachments}
    events.append({"event": "user", "text": "/share_attachment", "metadata": metadata})
    latest = {"intent": {"name": "share_attachment", "confidence": 1.0}, "entities": [], "text": "/share_attachment"}
    loop = {"name": form} if form else {}
    tracker = Tracker("telegram:1", {}, latest, events, False, None, loop, "telegram")
    dispatcher = CollectingDispatcher()
    assert asyncio.run(ActionAcknowledgeAttachment().run(dispatcher, tracker, {})) == []
    [message] = dispatcher.messages
    assert message["answer_source"] == "action"
    return message["text"]


def test_it_names_what_arrived_in_the_customers_words() -> None:
    assert describe([PHOTO]) == "your photo"
    assert describe([PHOTO, PHOTO, PDF]) == "your 2 photos and document"
    assert describe([PHOTO, PDF, {"type": "location"}]) == "your photo, document and location"
    assert describe([{"type": "audio", "media_id": "x"}]) == "your audio file"
    assert describe([STICKER]) == ""


def test_a_photo_is_acknowledged_as_kept_and_the_customer_asked_what_next() -> None:
    text = said([PHOTO, PHOTO])

    assert "received your 2 photos" in text and "saved with this conversation" in text
    assert "report a claim" in text


def test_inside_a_form_the_reply_leaves_the_question_to_the_form() -> None:
    text = said([PHOTO], form="claim_form")

    assert "received your photo" in text and "?" not in text


def test_a_voice_note_gets_an_honest_limit() -> None:
    assert "can't listen to audio" in said([VOICE])


def test_a_sticker_is_a_reaction_not_something_kept() -> None:
    text = said([STICKER])
    assert "saved" not in text and "How can I help" in text


def test_only_the_newest_message_counts_and_a_bare_payload_asks_again() -> None:
    text = said(None)  # someone typed the payload on a channel that passes it through

    assert "couldn't open that attachment" in text and "document" not in text
