"""SQLite transactions on the embedded default: readers never wait for a writer, writers queue and get
the lock when it is free (first by asking again every fraction of a millisecond, then through SQLite's
own busy wait), and a writer that cannot get it within the busy timeout fails instead of hanging."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from storage import engine as storage_engine
from storage.engine import begin_immediate, session_scope
from storage.models import Conversation
from tests.support.databases import migrated_sqlite


@pytest.fixture
def url(tmp_path: Path) -> str:
    return migrated_sqlite(tmp_path / "locks.db")


def hold_write_lock(path: str, held: threading.Event, release: threading.Event) -> threading.Thread:
    """Another process's writer, as SQLite sees it: a connection of its own inside BEGIN IMMEDIATE."""

    def run() -> None:
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        held.set()
        release.wait(30)
        connection.execute("COMMIT")
        connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_reader_does_not_wait_for_a_writer(url: str) -> None:
    held, release = threading.Event(), threading.Event()
    writer = hold_write_lock(url.removeprefix("sqlite:///"), held, release)
    try:
        assert held.wait(10)
        with session_scope(url, read_only=True) as session:  # would block 30 s on BEGIN IMMEDIATE
            session.scalars(select(Conversation)).all()
        assert not release.is_set()
    finally:
        release.set()
        writer.join()


@pytest.mark.parametrize("eager_seconds", [2.0, 0.01])  # released while asking again / during SQLite's wait
def test_a_writer_gets_the_lock_once_it_is_free(
    url: str, monkeypatch: pytest.MonkeyPatch, eager_seconds: float
) -> None:
    monkeypatch.setattr(storage_engine, "EAGER_SECONDS", eager_seconds)
    held, release = threading.Event(), threading.Event()
    writer = hold_write_lock(url.removeprefix("sqlite:///"), held, release)
    assert held.wait(10)
    threading.Timer(0.2, release.set).start()
    try:
        with session_scope(url) as session:
            session.add(Conversation(id="whatsapp:15550001111", channel="whatsapp", customer_identity="15550001111"))
    finally:
        release.set()
        writer.join()
    with session_scope(url, read_only=True) as session:
        assert session.get(Conversation, "whatsapp:15550001111") is not None


def test_a_writer_gives_up_after_the_busy_timeout(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage_engine, "BUSY_TIMEOUT_MS", 100)
    held, release = threading.Event(), threading.Event()
    writer = hold_write_lock(url.removeprefix("sqlite:///"), held, release)
    try:
        assert held.wait(10)
        connection = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            begin_immediate(connection, eager_seconds=0.01)
        connection.close()
    finally:
        release.set()
        writer.join()
