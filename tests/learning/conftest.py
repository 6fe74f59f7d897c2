"""Fixtures of the learning tests: each database test runs on SQLite and on PostgreSQL when it answers."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from storage.engine import session_scope
from storage.migrate import upgrade
from storage.seed import seed
from tests.support.databases import migrated_sqlite, postgres_answers, postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, seeded database of its own: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield migrated_sqlite(tmp_path / "learning.db")
        return
    if not postgres_answers():
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    for url in postgres_database():
        upgrade(url)
        with session_scope(url) as db:
            seed(db)
        yield url
