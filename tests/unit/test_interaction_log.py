"""The interaction log on real databases: SQLite always, PostgreSQL when it answers."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from storage.engine import session_scope
from storage.interaction_log import record_event
from storage.migrate import upgrade
from storage.models import Conversation, Message


def user_event(sender: str, text: str, ts: float, message_id: str) -> dict:
    return {
        "sender_id": sender,
        "event": "user",
        "timestamp": ts,
        "text": text,
        "input_channel": "rest",
        "message_id": message_id,
        "parse_data": {
            "intent": {"name": "greet", "confidence": 0.93},
            "entities": [
                {
                    "entity": "policy_number",
                    "value": "PX-88123",
                    "start": 0,
                    "end": 8,
                    "extractor": "RegexEntityExtractor",
                }
            ],
        },
    }


def bot_event(sender: str, text: str, ts: float, **metadata: object) -> dict:
    return {"sender_id": sender, "event": "bot", "timestamp": ts, "text": text, "metadata": metadata, "data": {}}


def exercise_log(url: str) -> None:
    upgrade(url)
    now = time.time()
    inbound = user_event("c-1", "hi PX-88123", now, "m-1")
    with session_scope(url) as s:
        assert record_event(s, inbound) is not None
    with session_scope(url) as s:  # the same event again (a replay) is not stored twice
        assert record_event(s, inbound) is None
    with session_scope(url) as s:
        record_event(s, bot_event("c-1", "Hello!", now + 0.25, utter_action="utter_greet"))
        record_event(s, bot_event("c-1", "From the log", now + 0.5, answer_source="lookup"))
        record_event(s, {"sender_id": "c-1", "event": "action", "name": "action_listen", "timestamp": now})
    with session_scope(url) as s:
        rows = s.scalars(select(Message).where(Message.conversation_id == "c-1").order_by(Message.id)).all()
        assert [(m.direction, m.author) for m in rows] == [
            ("inbound", "customer"),
            ("outbound", "bot"),
            ("outbound", "bot"),
        ]
        first, greet, lookup = rows
        assert (first.intent, round(first.confidence, 2), first.channel) == ("greet", 0.93, "rest")
        assert first.entities[0]["value"] == "PX-88123"
        assert greet.answer_source == "template" and greet.action_name == "utter_greet"
        assert lookup.answer_source == "lookup"
        assert greet.in_reply_to_id == first.id
        assert greet.latency_ms == pytest.approx(250, abs=1)
        assert s.get(Conversation, "c-1").channel == "rest"
        assert s.scalar(select(func.count()).select_from(Message)) == 3


def test_interaction_log_on_sqlite(tmp_path) -> None:
    exercise_log(f"sqlite:///{tmp_path / 'log.db'}")


def test_interaction_log_on_postgres(fresh_postgres_url: str) -> None:
    exercise_log(fresh_postgres_url)


def test_same_platform_message_id_is_stored_once(tmp_path) -> None:
    """A platform retrying a webhook produces a new event with the same platform message id."""
    url = f"sqlite:///{tmp_path / 'log.db'}"
    upgrade(url)
    with session_scope(url) as s:
        assert record_event(s, user_event("c-2", "hello", 1000.0, "wamid.1")) is not None
    with session_scope(url) as s:
        assert record_event(s, user_event("c-2", "hello", 1001.0, "wamid.1")) is None
    with session_scope(url) as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 1
