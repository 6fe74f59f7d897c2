"""The interaction log broker keeps events when the database is down and stores each exactly once."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from bot.interaction_log_broker import InteractionLogBroker
from storage.engine import session_scope
from storage.models import Message
from tests.unit.test_interaction_log import bot_event, user_event


def count(url: str) -> int:
    with session_scope(url) as s:
        return s.scalar(select(func.count()).select_from(Message))


def test_events_survive_a_database_outage(tmp_path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    spool = tmp_path / "spool.jsonl"
    broker = InteractionLogBroker(url=url, spool_path=spool)
    now = time.time()

    def database_down(events):  # what a lost connection looks like from the broker
        raise ConnectionError("database unreachable")

    real_write = broker._write
    monkeypatch.setattr(broker, "_write", database_down)
    broker.publish(user_event("c-9", "my claim?", now, "m-9"))
    broker.publish(bot_event("c-9", "Which claim?", now + 0.1, utter_action="utter_ask_claim_number"))
    assert count(url) == 0
    assert len(spool.read_text().splitlines()) == 2

    monkeypatch.setattr(broker, "_write", real_write)
    broker.publish(user_event("c-9", "CL-204117", now + 5, "m-10"))
    assert count(url) == 3
    assert not spool.exists()

    broker.publish(user_event("c-9", "CL-204117", now + 5, "m-10"))  # re-published: still once
    assert count(url) == 3


def test_non_message_events_are_not_logged(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    broker = InteractionLogBroker(url=url, spool_path=tmp_path / "spool.jsonl")
    broker.publish({"sender_id": "c", "event": "action", "name": "action_listen", "timestamp": time.time()})
    broker.publish({"sender_id": "c", "event": "slot", "name": "product", "value": "auto", "timestamp": time.time()})
    assert count(url) == 0
