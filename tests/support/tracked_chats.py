"""Conversations stored the way the running bot stores them, for tests that read Rasa's tracker store.

Each turn is Rasa events (the customer's message with its parse, the slots action_extract_slots set, the
actions and their messages, the listen) saved through Coverline's SQL tracker store (bot/tracker_store.py)
into the `events` table, and published to a broker that projects them onto the interaction log
(conversations/projection.py), as bot/interaction_log_broker.py does in a child process. So the tracker
rows and the logged messages carry the same event keys, as in production.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from rasa.core.brokers.broker import EventBroker
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    ConversationPaused,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from sqlalchemy import select

from bot.tracker_store import SQLTrackerStore
from conversations.projection import record_event
from storage.engine import session_scope
from storage.models import Message
from storage.settings import PROJECT_ROOT


class InteractionLogBroker(EventBroker):
    """Every published event projected onto the interaction log at once (the real broker batches)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def publish(self, event: Dict[str, Any]) -> None:
        with session_scope(self.url) as db:
            record_event(db, event)


def project_domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "bot" / "domain"))


def action(name: str, says: Optional[str] = None) -> List[Event]:
    """An action, and the message it sent (if any) with the response name the bot's metadata carries."""
    events: List[Event] = [ActionExecuted(name)]
    if says is not None:
        events.append(BotUttered(says, metadata={"utter_action": name}))
    return events


def slot(name: str, value: Any) -> List[Event]:
    return [SlotSet(name, value)]


def form(name: Optional[str]) -> List[Event]:
    return [ActiveLoop(name)]


def agent_reply(text: str, agent_id: int) -> List[Event]:
    """What the inbox posts to Rasa's tracker when an agent answers: a bot event authored by the agent."""
    return [BotUttered(text, metadata={"author": "agent", "agent_id": agent_id})]


def paused() -> List[Event]:
    return [ConversationPaused()]


@dataclass
class TrackedChat:
    """One conversation, e.g. `TrackedChat(url, domain, "telegram:123456789", "telegram")`."""

    url: str
    domain: Domain
    sender_id: str
    channel: str
    clock: float = field(default_factory=lambda: time.time() - 7200)
    store: Any = None

    def __post_init__(self) -> None:
        self.store = SQLTrackerStore(domain=self.domain, host=self.url, event_broker=InteractionLogBroker(self.url))
        self._save([ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")])

    def _save(self, events: Sequence[Event]) -> None:
        async def save() -> None:
            tracker = await self.store.get_or_create_tracker(self.sender_id, append_action_listen=False)
            for event in events:
                self.clock += 0.5
                event.timestamp = self.clock
                tracker.update(event)
            await self.store.save(tracker)

        asyncio.run(save())

    def turn(
        self,
        text: str,
        intent: str,
        entities: Sequence[Dict[str, Any]] = (),
        then: Sequence[List[Event]] = (),
        listen: bool = True,
    ) -> int:
        """The customer says `text` (read as `intent`, with `entities`), then the bot's events; returns the
        logged message's id."""
        self.clock += 20
        message_id = f"{self.channel}-{int(self.clock * 1000)}"
        parse = {
            "text": text,
            "intent": {"name": intent, "confidence": 0.91},
            "entities": [dict(e) for e in entities],
            "intent_ranking": [{"name": intent, "confidence": 0.91}],
        }
        user = UserUttered(
            text, parse["intent"], parse["entities"], parse, input_channel=self.channel, message_id=message_id
        )
        events = [user] + [event for step in then for event in step]
        self._save(events + ([ActionExecuted("action_listen")] if listen else []))
        with session_scope(self.url) as db:
            return db.scalars(select(Message.id).where(Message.platform_message_id == message_id)).one()

    def events(self, *steps: List[Event]) -> None:
        """Events outside a customer's turn (an agent's reply posted through Rasa's API)."""
        self._save([event for step in steps for event in step])
