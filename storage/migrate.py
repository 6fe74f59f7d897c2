"""Bring a database to the latest schema; the same call serves `make run`, the servers and tests."""

from __future__ import annotations

from typing import Optional

from alembic import command
from alembic.config import Config

from storage.engine import keep_sqlite_file_private
from storage.settings import PROJECT_ROOT, database_url


def alembic_config(url: Optional[str] = None) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "storage" / "migrations"))
    config.attributes["url"] = url or database_url()
    return config


def upgrade(url: Optional[str] = None) -> None:
    url = url or database_url()
    if url.startswith("sqlite"):
        keep_sqlite_file_private(url)
    command.upgrade(alembic_config(url), "head")


if __name__ == "__main__":
    upgrade()
    print(f"database at {database_url().split('@')[-1]} is up to date")
