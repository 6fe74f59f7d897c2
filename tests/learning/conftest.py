"""Fixtures of the learning tests: each database test runs on SQLite and on PostgreSQL when it answers."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.support.databases import migrated_seeded


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, seeded database of its own: a SQLite file, or a fresh PostgreSQL database."""
    yield from migrated_seeded(request.param, tmp_path, "learning.db")
