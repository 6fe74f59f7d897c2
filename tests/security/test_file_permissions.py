"""Finding 6 (lower): var/coverline.db was 0644, readable by every local user, and it holds customers'
messages and account data."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import text

from storage.engine import dispose_engines, session_scope
from storage.migrate import upgrade


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("usual_umask")
def test_a_new_database_and_its_wal_files_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "var" / "coverline.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    with session_scope(url) as session:  # a write, so SQLite opens the -wal and -shm files
        session.execute(text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
        session.execute(text("INSERT INTO probe VALUES (1)"))
        written = [each for each in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if each.exists()]
        modes = {each.name: mode(each) for each in written}
    assert len(written) == 3
    assert modes == {each.name: 0o600 for each in written}
    dispose_engines()


@pytest.mark.usefixtures("usual_umask")
def test_an_existing_world_readable_database_is_closed_up(tmp_path: Path) -> None:
    path = tmp_path / "coverline.db"
    path.touch()
    path.chmod(0o644)
    upgrade(f"sqlite:///{path}")
    assert mode(path) == 0o600
    dispose_engines()
