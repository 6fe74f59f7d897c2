"""Custom actions run in-process as rasa-sdk's executor runs them: a built Tracker, a CollectingDispatcher,
and a conversation whose customer is verified (account actions answer only those)."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from storage.engine import session_scope
from storage.models import Policy
from storage.verification import POLICY_DOB, record_verification


def tracker(
    slots: Optional[Dict[str, Any]] = None,
    intent: str = "inform",
    text: str = "",
    entities: Optional[List[Dict[str, Any]]] = None,
    events: Optional[List[Dict[str, Any]]] = None,
    sender: str = "test-user",
) -> Tracker:
    latest = {"intent": {"name": intent, "confidence": 0.9}, "entities": entities or [], "text": text}
    return Tracker(sender, slots or {}, latest, events or [], False, None, None, "rest")


def run(action, t: Tracker, domain: Optional[dict] = None):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, domain or {}))
    return dispatcher, events


def verified(sender: str, policy: str) -> str:
    """A conversation whose customer proved to be `policy`'s holder (tests/unit/test_verification.py
    covers how); account actions answer only such conversations."""
    with session_scope() as s:
        customer_id = s.scalar(select(Policy.customer_id).where(Policy.number == policy))
        record_verification(s, sender, customer_id, POLICY_DOB, policy)
    return sender
