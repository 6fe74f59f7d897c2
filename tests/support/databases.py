"""Real databases for tests: a migrated, seeded SQLite file; fresh PostgreSQL databases when a server answers."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from typing import Iterator

PG_ADMIN_URL = os.environ.get("COVERLINE_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_answers(host: str = "127.0.0.1", port: int = 5432) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def migrated_sqlite(path: Path) -> str:
    from storage.engine import session_scope
    from storage.migrate import upgrade
    from storage.seed import seed

    url = f"sqlite:///{path}"
    upgrade(url)
    with session_scope(url) as session:
        seed(session)
    return url


def postgres_database() -> Iterator[str]:
    """A brand-new database, dropped when the generator is closed: each test gets schema and rows of its own."""
    import sqlalchemy as sa

    name = f"coverline_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    from storage.engine import dispose_engines

    dispose_engines()
    with admin.connect() as connection:
        connection.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        )
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
    admin.dispose()


def migrated_seeded(kind: str, tmp_path: Path, file_name: str = "coverline.db") -> Iterator[str]:
    """For a fixture parametrized over ("sqlite", "postgresql"): a migrated, seeded database of that kind, a
    SQLite file under tmp_path or a brand-new PostgreSQL database (the test is skipped when none answers)."""
    if kind == "sqlite":
        yield migrated_sqlite(tmp_path / file_name)
        return
    import pytest

    if not postgres_answers():
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    from storage.engine import session_scope
    from storage.migrate import upgrade
    from storage.seed import seed

    for url in postgres_database():
        upgrade(url)
        with session_scope(url) as session:
            seed(session)
        yield url
