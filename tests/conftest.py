"""Shared fixtures: real databases (a fresh SQLite file; PostgreSQL when 127.0.0.1:5432 answers)."""

from __future__ import annotations

import os
import shutil
from typing import Iterator

import pytest

from tests.support.databases import migrated_sqlite, postgres_answers, postgres_database
from tests.support.paths import MODEL, PROJECT_ROOT

TRAINED_INDEX = PROJECT_ROOT / "models" / "past_replies"


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


@pytest.fixture(scope="session", autouse=True)
def past_replies_index_copy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every server and in-process answerer of the run refreshes a copy of the trained past-replies index.

    They refresh it from the test databases, and the servers' environment is this process's: without the copy
    `make test` rewrote the index `make train` built, and a server stopped mid-save, or a second checkout sharing
    the venv, could leave it broken for the next run (a clean-clone check failed that way). Tests that need an
    index of their own still set RETRIEVAL_INDEX_DIR themselves."""
    if os.environ.get("RETRIEVAL_INDEX_DIR") or not TRAINED_INDEX.is_dir():
        yield
        return
    copy = tmp_path_factory.mktemp("index") / "past_replies"
    shutil.copytree(TRAINED_INDEX, copy)
    os.environ["RETRIEVAL_INDEX_DIR"] = str(copy)
    try:
        yield
    finally:
        os.environ.pop("RETRIEVAL_INDEX_DIR", None)


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
