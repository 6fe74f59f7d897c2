"""What every Coverline action shares: a short database session per run and the conversation's channel."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from sqlalchemy import select
from sqlalchemy.orm import Session

from conversations.projection import ensure_conversation
from storage.engine import session_scope
from storage.models import Policy


class CoverlineAction(Action, ABC):
    """Abstract base: `name()` stays abstract so the action server does not register this class."""

    @abstractmethod
    def name(self) -> Text: ...

    @contextmanager
    def conversation_session(self, tracker: Tracker) -> Iterator[Session]:
        """One session per action run; makes sure the conversation row exists before we point at it."""
        with session_scope() as session:
            ensure_conversation(session, tracker.sender_id, tracker.get_latest_input_channel())
            yield session


def find_policy(session: Session, number: Optional[str]) -> Optional[Policy]:
    if not number:
        return None
    return session.scalars(select(Policy).where(Policy.number == number)).first()


def clear_slots(*names: str) -> List[Dict[Text, Any]]:
    return [SlotSet(name, None) for name in names]


def money(value: Any) -> str:
    return f"${float(value):,.2f}"
