"""Engines and sessions: one engine per URL per process, one short session per unit of work."""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
import warnings
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from storage.settings import database_url

# SQLite has no decimal type; money is stored with two decimals and read back rounded, which is exact
# enough for cents. PostgreSQL stores NUMERIC natively.
warnings.filterwarnings("ignore", message="Dialect sqlite\\+pysqlite does \\*not\\* support Decimal")

_engines: Dict[str, Engine] = {}
_lock = threading.Lock()


def _configure_sqlite(engine: Engine) -> None:
    """WAL lets readers (inbox, tests) work while the bot writes; busy_timeout makes concurrent
    writers from the Rasa and action servers wait instead of failing with 'database is locked'.

    pysqlite's own transaction handling breaks SAVEPOINTs and upgrades read locks late (which fails
    at once under contention), so we turn it off and open every transaction with BEGIN IMMEDIATE.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")  # a reader takes no lock in WAL mode, and waits for none
        else:
            begin_immediate(connection.connection)


READ_ONLY = "coverline_read_only"
BUSY_TIMEOUT_MS = 30000
EAGER_SECONDS = 2.0  # how long a writer asks again every fraction of a millisecond before SQLite's wait


def begin_immediate(dbapi_connection: Any, eager_seconds: Optional[float] = None) -> None:
    """BEGIN IMMEDIATE, taking the write lock the moment it is free.

    SQLite's own busy wait polls with growing sleeps (1, 2, 5, 10 … 100 ms, sqlite3.c
    `sqliteDefaultBusyCallback`): under a steady stream of short write transactions (the interaction log,
    the tracker store, the action server) a waiter kept missing the lock and slept up to 100 ms at a
    time, so a reply that needed one write waited hundreds of milliseconds with the disk idle
    (benchmarks/results/load.md). Here the writer asks again after 0.2–2 ms for `eager_seconds`, then
    leaves the rest of the wait to SQLite's busy timeout as before. Readers never need this: in WAL
    mode they do not wait for writers."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=0")
        try:
            eager = EAGER_SECONDS if eager_seconds is None else eager_seconds
            deadline, pause = time.monotonic() + eager, 0.0002
            while time.monotonic() < deadline:
                try:
                    cursor.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as error:
                    if "locked" not in str(error) and "busy" not in str(error):
                        raise
                time.sleep(pause * (0.5 + random.random()))
                pause = min(pause * 1.5, 0.002)
        finally:
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("BEGIN IMMEDIATE")  # still locked: SQLite's own wait, up to the busy timeout
    finally:
        cursor.close()


def keep_sqlite_file_private(url: str) -> None:
    """The SQLite file holds customers' messages and account data: owner-only (0600), whatever the umask.

    It is created here, before SQLite or Rasa's tracker store would create it with the process umask
    (0644 on most systems); SQLite gives the -wal and -shm files the database file's mode."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = os.path.abspath(database)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for each in (path, f"{path}-wal", f"{path}-shm"):
        if os.path.exists(each) and os.stat(each).st_mode & 0o077:
            os.chmod(each, 0o600)


def _sqlite_pool(url: str) -> Dict[str, Any]:
    """A file database keeps its connections (QueuePool, as SQLAlchemy 2.0 does), where 1.4 opened a new
    one, with its PRAGMAs, for every session and closed it after: the interaction log's writer, the
    tracker store and every action paid that per unit of work (benchmarks/results/load.md). An in-memory
    database keeps SQLAlchemy's default (one connection per thread: each is its own database)."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return {}
    return {"poolclass": QueuePool, "pool_size": 5, "max_overflow": 10}


def get_engine(url: Optional[str] = None) -> Engine:
    """The process-wide engine for `url` (default: DATABASE_URL), created lazily, never at import."""
    url = url or database_url()
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                keep_sqlite_file_private(url)
                engine = create_engine(
                    url,
                    future=True,
                    connect_args={"timeout": 30, "check_same_thread": False},
                    **_sqlite_pool(url),
                )
                _configure_sqlite(engine)
            else:
                engine = create_engine(url, future=True, pool_pre_ping=True)
            _engines[url] = engine
        return engine


def dispose_engines() -> None:
    """Close pooled connections (tests switching databases, forked workers)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def session_scope(url: Optional[str] = None, read_only: bool = False) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error.

    `read_only`: on SQLite the transaction starts deferred, so it neither takes nor waits for the write
    lock (every other transaction begins IMMEDIATE: a deferred one that writes late fails at once when
    another writer got in first). For hot paths that only read; a write in it may fail under load."""
    engine = get_engine(url)
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    session = Session(bind=bind, future=True, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
