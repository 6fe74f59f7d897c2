"""The hand-written interaction log (tests/support/analytics_fixtures.py) in SQLite and, when it answers,
PostgreSQL: written once per database and module, and only read by the tests."""

from __future__ import annotations

from typing import Iterator

import pytest
from sqlalchemy.orm import Session

from storage.engine import get_engine, session_scope
from storage.migrate import upgrade
from tests.support.analytics_fixtures import write_fixture
from tests.support.databases import migrated_sqlite, postgres_answers, postgres_database


def _filled(url: str) -> str:
    with session_scope(url) as session:
        write_fixture(session)
    return url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def log_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield _filled(migrated_sqlite(tmp_path_factory.mktemp("analytics") / "log.db"))
        return
    if not postgres_answers():
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    for url in postgres_database():
        upgrade(url)
        yield _filled(url)


@pytest.fixture
def db(log_url: str) -> Iterator[Session]:
    with Session(get_engine(log_url), future=True) as session:
        yield session
