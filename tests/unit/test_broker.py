"""The interaction log broker keeps events when the database fails, stores each exactly once, never
makes Rasa's event loop wait for the database, and survives its writer process dying.

The failures are real: a SQLite trigger that aborts every insert into the log (what a broken database
looks like to the writer), a lock held by another connection (a slow one), a killed writer process.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

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


def db_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def break_log(url: str, when: str = "1") -> None:
    """Every insert into the log (matching `when`) now fails inside the database."""
    with sqlite3.connect(db_path(url)) as db:
        db.execute(
            f"CREATE TRIGGER log_down BEFORE INSERT ON messages WHEN {when} "
            "BEGIN SELECT RAISE(ABORT, 'interaction log down'); END"
        )


def mend_log(url: str) -> None:
    with sqlite3.connect(db_path(url)) as db:
        db.execute("DROP TRIGGER log_down")


@pytest.fixture
def url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'log.db'}"
    upgrade(url)  # the runner's job at start-up; the broker only checks
    return url


@pytest.fixture
def fast_retries(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(interaction_log_broker, "RETRY_FIRST_SECONDS", 0.05)
    monkeypatch.setattr(interaction_log_broker, "RETRY_MAX_SECONDS", 0.1)
    monkeypatch.setattr(interaction_log_broker, "RESTART_PAUSE_SECONDS", 0.1)


async def test_events_survive_a_database_outage(url, tmp_path, fast_retries) -> None:  # type: ignore[no-untyped-def]
    break_log(url)
    spool = tmp_path / "spool.jsonl"
    broker = InteractionLogBroker(url=url, spool_path=spool)
    now = time.time()
    broker.publish(user_event("whatsapp:15550001111", "my claim?", now, "wamid.9"))
    broker.publish(bot_event("whatsapp:15550001111", "Which claim?", now + 0.1, utter_action="utter_ask_claim_number"))
    assert not broker.flush(timeout=1.0)  # the writer keeps them, retrying
    assert count(url) == 0
    assert len(spool.read_text().splitlines()) == 2
    assert spool.stat().st_mode & 0o077 == 0  # customers' words: owner-only

    mend_log(url)  # the database is back
    broker.publish(user_event("whatsapp:15550001111", "CL-204117", now + 5, "wamid.10"))
    assert broker.flush(timeout=15)
    assert count(url) == 3
    assert not spool.exists()

    broker.publish(user_event("whatsapp:15550001111", "CL-204117", now + 5, "wamid.10"))  # re-published: still once
    assert broker.flush(timeout=10)
    assert count(url) == 3
    await broker.close()


DIES_WITH_THE_DATABASE_DOWN = textwrap.dedent(
    """
    import os, sys, time
    from bot import interaction_log_broker
    from bot.interaction_log_broker import InteractionLogBroker
    from tests.support.broker_events import bot_event, user_event

    interaction_log_broker.RETRY_FIRST_SECONDS = interaction_log_broker.RETRY_MAX_SECONDS = 0.05
    interaction_log_broker.ORPHAN_GRACE_SECONDS = 0.3
    broker = InteractionLogBroker(url=sys.argv[1], spool_path=sys.argv[2])
    now = time.time()
    broker.publish(user_event("whatsapp:15550001111", "my windshield is cracked", now, "wamid.A1"))
    broker.publish(bot_event("whatsapp:15550001111", "Sorry to hear that.", now + 0.1))
    assert not broker.flush(timeout=1.0)
    os._exit(9)  # the Rasa server dies with both events unstored
    """
)


async def test_a_dead_servers_journal_is_stored_by_the_next(url, tmp_path, fast_retries) -> None:  # type: ignore[no-untyped-def]
    spool = tmp_path / "spool.jsonl"
    break_log(url)
    died = subprocess.run([sys.executable, "-c", DIES_WITH_THE_DATABASE_DOWN, url, str(spool)], timeout=60)
    assert died.returncode == 9
    time.sleep(1.0)  # its orphaned writer gives up after its grace and leaves the events to the journal
    assert count(url) == 0 and len(spool.read_text().splitlines()) == 2

    mend_log(url)
    restarted = InteractionLogBroker(url=url, spool_path=spool)
    assert restarted.flush(timeout=15)
    assert count(url) == 2 and not spool.exists()
    await restarted.close()


async def test_a_killed_writer_is_replaced_and_nothing_is_lost_or_doubled(url, tmp_path, fast_retries) -> None:  # type: ignore[no-untyped-def]
    break_log(url)
    broker = InteractionLogBroker(url=url, spool_path=tmp_path / "spool.jsonl")
    now = time.time()
    for n in range(5):
        broker.publish(user_event("telegram:777000111", f"message {n}", now + n, f"tg-{n}"))
    assert not broker.flush(timeout=1.0)
    first = broker.writer_pid
    assert first is not None
    os.kill(first, signal.SIGKILL)  # the writer dies holding five unstored events
    for n in range(5, 8):
        broker.publish(user_event("telegram:777000111", f"message {n}", now + n, f"tg-{n}"))
    mend_log(url)
    assert broker.flush(timeout=20)
    assert broker.writer_pid != first
    with session_scope(url) as s:
        texts = s.scalars(select(Message.text).order_by(Message.id)).all()
    assert texts == [f"message {n}" for n in range(8)]  # all, once each, in order
    await broker.close()


async def test_publish_does_not_wait_for_the_database(url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Rasa calls publish on its event loop: a slow database must not hold it (it used to, for every event)."""
    broker = InteractionLogBroker(url=url, spool_path=tmp_path / "spool.jsonl")
    holder = sqlite3.connect(db_path(url), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another connection holds the database
    for n in range(20):  # were publish to wait for the database, this would stall until the holder gave up
        broker.publish(user_event("telegram:4242", f"message {n}", time.time() + n, f"tg-{n}"))
    time.sleep(0.5)
    assert count_while_held(holder) == 0  # all 20 published while the database was held
    holder.execute("COMMIT")
    holder.close()
    assert broker.flush(timeout=15)
    assert count(url) == 20
    await broker.close()


def count_while_held(holder: sqlite3.Connection) -> int:
    return holder.execute("SELECT count(*) FROM messages").fetchone()[0]


async def test_non_message_events_are_not_logged(url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    broker = InteractionLogBroker(url=url, spool_path=tmp_path / "spool.jsonl")
    broker.publish({"sender_id": "c", "event": "action", "name": "action_listen", "timestamp": time.time()})
    broker.publish({"sender_id": "c", "event": "slot", "name": "product", "value": "auto", "timestamp": time.time()})
    broker.publish(user_event("facebook:6123456789012345", "hello", time.time(), "m_abc"))
    assert broker.flush(timeout=10)
    assert count(url) == 1
    await broker.close()


def test_a_server_on_an_old_schema_stops_with_the_fix(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SchemaNotCurrent, match="python -m storage.migrate"):
        require_current(f"sqlite:///{tmp_path / 'empty.db'}")


async def test_a_backlog_is_stored_in_order_once(url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Under load the writer stores what has queued up in few transactions, keeping each conversation's
    order and storing every event once."""
    broker = InteractionLogBroker(url=url, spool_path=tmp_path / "spool.jsonl")
    holder = sqlite3.connect(db_path(url), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    now = time.time()
    senders = [f"whatsapp:1555000{n:04d}" for n in range(5)]
    for turn in range(10):
        for n, sender in enumerate(senders):
            broker.publish(user_event(sender, f"turn {turn}", now + turn + n / 10, f"wamid.{n}.{turn}"))
            broker.publish(bot_event(sender, f"reply {turn}", now + turn + n / 10 + 0.01))
    holder.execute("COMMIT")
    holder.close()
    assert broker.flush(timeout=20)
    assert count(url) == 100
    with session_scope(url) as s:
        for sender in senders:
            texts = s.scalars(select(Message.text).where(Message.conversation_id == sender).order_by(Message.id)).all()
            assert texts == [t for turn in range(10) for t in (f"turn {turn}", f"reply {turn}")]
    await broker.close()


async def test_a_batch_that_fails_midway_is_stored_again_whole_and_once(url, tmp_path, fast_retries) -> None:  # type: ignore[no-untyped-def]
    break_log(url, when="NEW.text = 'message 3'")  # the fourth insert of the batch fails, the first three roll back
    broker = InteractionLogBroker(url=url, spool_path=tmp_path / "spool.jsonl")
    holder = sqlite3.connect(db_path(url), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # so the six arrive as one batch
    now = time.time()
    for n in range(6):
        broker.publish(user_event("telegram:777000111", f"message {n}", now + n, f"tg-{n}"))
    holder.execute("COMMIT")
    holder.close()
    assert not broker.flush(timeout=1.0)
    assert count(url) == 0  # rolled back whole
    mend_log(url)
    assert broker.flush(timeout=15)
    assert count(url) == 6  # then stored once
    await broker.close()


async def test_close_stops_the_writer(url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    broker = InteractionLogBroker(url=url, spool_path=tmp_path / "spool.jsonl")
    broker.publish(user_event("twitter:1456789012345678901", "@HarborMutual hi", time.time(), "1790000000000000001"))
    assert broker.flush(timeout=10)
    pid = broker.writer_pid
    await broker.close()
    assert pid is not None and not Path(f"/proc/{pid}").exists()


async def test_a_writer_that_cannot_be_started_is_tried_again(url, tmp_path, fast_retries, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Fork can fail (no memory, no pids left): the events wait in the journal and the start is retried."""
    attempts = []
    real_start = InteractionLogBroker._start_writer

    def fork_fails_once(self):  # type: ignore[no-untyped-def]
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            raise OSError(11, "Resource temporarily unavailable")
        return real_start(self)

    monkeypatch.setattr(InteractionLogBroker, "_start_writer", fork_fails_once)
    broker = InteractionLogBroker(url=url, spool_path=tmp_path / "spool.jsonl")
    broker.publish(user_event("wechat:oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "你好 hello", time.time(), "wx-1"))
    assert broker.flush(timeout=15)
    assert count(url) == 1 and len(attempts) == 2 and broker.is_ready()
    await broker.close()
