"""Shared fixtures: real databases (a fresh SQLite file; PostgreSQL when 127.0.0.1:5432 answers)."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from typing import Iterator

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODEL = PROJECT_ROOT / "models" / "coverline.tar.gz"
PG_ADMIN_URL = os.environ.get("COVERLINE_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_model: needs models/coverline.tar.gz (make train)")
    config.addinivalue_line("markers", "integration: starts the real servers")


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    if MODEL.exists():
        return
    skip = pytest.mark.skip(reason="no trained model: run `make train` (make test does)")
    for item in items:
        if "needs_model" in item.keywords:
            item.add_marker(skip)


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


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, seeded SQLite database that the in-process actions use via DATABASE_URL."""
    url = migrated_sqlite(tmp_path_factory.mktemp("db") / "coverline.db")
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    yield url
    if previous is None:
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"] = previous


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """A brand-new PostgreSQL database, dropped afterwards; skipped only when no server answers."""
    if not postgres_answers():
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    yield from postgres_database()


def postgres_database() -> Iterator[str]:
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
