"""The interaction log broker keeps events when the database is down, stores each exactly once, and
never makes Rasa's event loop wait for the database."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from bot import interaction_log_broker
from bot.interaction_log_broker import InteractionLogBroker
from storage.engine import session_scope
from storage.migrate import SchemaNotCurrent, require_current, upgrade
from storage.models import Message
from tests.support.broker_events import bot_event, user_event


def count(url: str) -> int:
    with session_scope(url) as s:
        return s.scalar(select(func.count()).select_from(Message))


@pytest.fixture
def url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'log.db'}"
    upgrade(url)  # the runner's job at start-up; the broker only checks
    return url


def test_events_survive_a_database_outage(url, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(interaction_log_broker, "RETRY_FIRST_SECONDS", 0.05)
    monkeypatch.setattr(interaction_log_broker, "RETRY_MAX_SECONDS", 0.05)
    spool = tmp_path / "spool.jsonl"
    broker = InteractionLogBroker(url=url, spool_path=spool)
    now = time.time()
    real_write = broker._write

    def database_down(events):  # type: ignore[no-untyped-def]  # what a lost connection looks like
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(broker, "_write", database_down)
    broker.publish(user_event("c-9", "my claim?", now, "m-9"))
    broker.publish(bot_event("c-9", "Which claim?", now + 0.1, utter_action="utter_ask_claim_number"))
    assert not broker.flush(timeout=0.5)  # the writer keeps them, retrying
    assert count(url) == 0
    assert len(spool.read_text().splitlines()) == 2
    assert spool.stat().st_mode & 0o077 == 0  # customers' words: owner-only

    monkeypatch.setattr(broker, "_write", real_write)  # the database is back
    broker.publish(user_event("c-9", "CL-204117", now + 5, "m-10"))
    assert broker.flush(timeout=10)
    assert count(url) == 3
    assert not spool.exists()

    broker.publish(user_event("c-9", "CL-204117", now + 5, "m-10"))  # re-published: still once
    assert broker.flush(timeout=10)
    assert count(url) == 3


def test_a_crashed_process_journal_is_stored_by_the_next(url, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    spool = tmp_path / "spool.jsonl"
    dead = InteractionLogBroker(url=url, spool_path=spool)
    monkeypatch.setattr(dead, "_write", lambda events: time.sleep(3600))  # it dies before storing anything
    now = time.time()
    dead.publish(user_event("whatsapp:15550001111", "my windshield is cracked", now, "wamid.A1"))
    dead.publish(bot_event("whatsapp:15550001111", "Sorry to hear that.", now + 0.1))
    assert count(url) == 0 and len(spool.read_text().splitlines()) == 2

    restarted = InteractionLogBroker(url=url, spool_path=spool)
    assert restarted.flush(timeout=10)
    assert count(url) == 2 and not spool.exists()


def test_publish_does_not_wait_for_the_database(url, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Rasa calls publish on its event loop: a slow database must not hold it (it used to, for every event)."""
    broker = InteractionLogBroker(url=url, spool_path=tmp_path / "spool.jsonl")
    release = threading.Event()
    real_write = broker._write

    def slow_database(events):  # type: ignore[no-untyped-def]
        release.wait(10)
        real_write(events)

    monkeypatch.setattr(broker, "_write", slow_database)
    for n in range(20):
        broker.publish(user_event("telegram:4242", f"message {n}", time.time() + n, f"tg-{n}"))
    assert count(url) == 0  # all 20 published while the database was held: publish never waited for it
    release.set()
    assert broker.flush(timeout=10)
    assert count(url) == 20


def test_non_message_events_are_not_logged(url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    broker = InteractionLogBroker(url=url, spool_path=tmp_path / "spool.jsonl")
    broker.publish({"sender_id": "c", "event": "action", "name": "action_listen", "timestamp": time.time()})
    broker.publish({"sender_id": "c", "event": "slot", "name": "product", "value": "auto", "timestamp": time.time()})
    assert broker.flush(timeout=5)
    assert count(url) == 0


def test_a_server_on_an_old_schema_stops_with_the_fix(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SchemaNotCurrent, match="python -m storage.migrate"):
        require_current(f"sqlite:///{tmp_path / 'empty.db'}")


def test_a_backlog_is_stored_in_few_transactions_in_order(url, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Under load the writer stores what has queued up in one transaction (fewer commits holding the
    GIL Rasa's event loop needs), keeping each conversation's order and storing every event once."""
    broker = InteractionLogBroker(url=url, spool_path=tmp_path / "spool.jsonl")
    release = threading.Event()
    real_write = broker._write
    batches = []

    def held_then_real(events):  # type: ignore[no-untyped-def]
        release.wait(10)
        batches.append(len(events))
        real_write(events)

    monkeypatch.setattr(broker, "_write", held_then_real)
    now = time.time()
    senders = [f"whatsapp:1555000{n:04d}" for n in range(5)]
    for turn in range(10):
        for n, sender in enumerate(senders):
            broker.publish(user_event(sender, f"turn {turn}", now + turn + n / 10, f"wamid.{n}.{turn}"))
            broker.publish(bot_event(sender, f"reply {turn}", now + turn + n / 10 + 0.01))
    release.set()
    assert broker.flush(timeout=20)
    assert count(url) == 100
    assert sum(batches) == 100 and len(batches) <= 3  # the first event alone, then the backlog
    with session_scope(url) as s:
        for sender in senders:
            texts = s.scalars(select(Message.text).where(Message.conversation_id == sender).order_by(Message.id)).all()
            assert texts == [t for turn in range(10) for t in (f"turn {turn}", f"reply {turn}")]


def test_a_batch_that_fails_midway_is_stored_again_whole_and_once(url, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(interaction_log_broker, "RETRY_FIRST_SECONDS", 0.05)
    broker = InteractionLogBroker(url=url, spool_path=tmp_path / "spool.jsonl")
    real_record = interaction_log_broker.record_event
    calls = {"n": 0}

    def fails_once_on_the_third(session, event):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise ConnectionError("connection lost mid-transaction")
        return real_record(session, event)

    monkeypatch.setattr(interaction_log_broker, "record_event", fails_once_on_the_third)
    release = threading.Event()
    real_write = broker._write
    monkeypatch.setattr(broker, "_write", lambda events: (release.wait(10), real_write(events)))
    now = time.time()
    for n in range(6):
        broker.publish(user_event("telegram:777000111", f"message {n}", now + n, f"tg-{n}"))
    release.set()
    assert broker.flush(timeout=20)
    assert count(url) == 6  # the events before the failure were rolled back with it, then stored once
