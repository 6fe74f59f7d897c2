"""Engines and sessions: one engine per URL per process, one short session per unit of work."""

from __future__ import annotations

import os
import threading
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
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


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
def session_scope(url: Optional[str] = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    session = Session(bind=get_engine(url), future=True, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
