"""The web chat is a public page: its customers may tap the buttons the bot offered, not choose intents
(`/restart` typed in the chat box must not wipe the conversation), and may not set the metadata our own
connectors vouch for (attachments shown to agents as links, the customer's identity)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, Dict, Optional

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.channels.socketio import PersistentSocketIOInput
from bot.channels.untrusted import offered_payloads, payloads_on_offer, screen

COLLISION = '/inform{"incident_type": "collision"}'
INCIDENT_BUTTONS = {"buttons": [{"title": "Collision", "payload": COLLISION}, {"title": "Theft", "payload": "/inform"}]}


def message(text: Any, metadata: Optional[Dict[str, Any]] = None) -> UserMessage:
    return UserMessage(text, CollectingOutputChannel(), "web-1", input_channel="socketio", metadata=metadata)


def conversation(*events: Any) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("web-1", list(events))


def test_only_the_buttons_of_the_bots_latest_reply_are_on_offer() -> None:
    tracker = conversation(
        UserUttered("hi"),
        BotUttered("Are you a customer?", {"buttons": [{"title": "Yes", "payload": "/affirm"}]}),
        UserUttered("yes"),
        BotUttered("What happened?", INCIDENT_BUTTONS),
        BotUttered("(you can also type it)"),
    )

    assert offered_payloads(tracker.events) == {COLLISION, "/inform"}


def test_a_tapped_button_and_the_pages_own_greeting_are_read_as_payloads() -> None:
    tapped = screen(message(COLLISION), {COLLISION, "/greet"})
    greeting = screen(message("/greet"), {"/greet"})

    assert (tapped.text, tapped.metadata) == (COLLISION, {"button_payload": True})
    assert greeting.text == "/greet"


def test_a_typed_intent_is_read_as_words_and_kept_as_typed() -> None:
    screened = screen(message("//restart", {"language": "en"}), {"/greet"})

    assert screened.text == "restart"
    assert screened.metadata == {"language": "en", "original_text": "//restart"}


def test_metadata_only_our_connectors_may_set_is_dropped() -> None:
    planted = {
        "attachments": [{"type": "image", "url": "https://phish.example/login"}],
        "channel_identity": {"channel": "socketio", "user_id": "web-1", "display_name": "Your CEO"},
        "button_payload": True,
        "language": "en",
    }

    screened = screen(message("my car was hit", planted), set())

    assert (screened.text, screened.metadata) == ("my car was hit", {"language": "en"})


def test_a_message_without_text_is_screened_to_empty_text() -> None:
    assert screen(message(None), set()).text == ""


def test_the_offer_is_read_from_rasas_tracker_store_and_a_failing_store_offers_nothing() -> None:
    store = InMemoryTrackerStore(Domain.empty())
    asyncio.run(store.save(conversation(UserUttered("claim"), BotUttered("What happened?", INCIDENT_BUTTONS))))

    class Broken:
        async def retrieve(self, sender_id: str) -> None:
            raise ConnectionError("tracker store down")

    def app(tracker_store: Any) -> Any:
        return SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(tracker_store=tracker_store)))

    assert asyncio.run(payloads_on_offer(app(store), "web-1")) == {COLLISION, "/inform"}
    assert asyncio.run(payloads_on_offer(app(store), "someone-else")) == set()
    assert asyncio.run(payloads_on_offer(app(Broken()), "web-1")) == set()
    assert asyncio.run(payloads_on_offer(None, "web-1")) == set()


def test_the_page_payloads_come_from_credentials() -> None:
    default = PersistentSocketIOInput.from_credentials({"session_persistence": True})
    custom = PersistentSocketIOInput.from_credentials({"allowed_payloads": ["/greet", "/start_claim"]})

    assert default.allowed_payloads == {"/greet"}
    assert custom.allowed_payloads == {"/greet", "/start_claim"}
