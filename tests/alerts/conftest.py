"""A fresh migrated database per test: SQLite, and PostgreSQL when 127.0.0.1:5432 answers."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from storage.migrate import upgrade
from tests.support.databases import postgres_answers, postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def alerts_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'alerts.db'}"
        upgrade(url)
        yield url
        return
    if not postgres_answers():
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    for url in postgres_database():
        upgrade(url)
        yield url


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    upgrade(url)
    return url
