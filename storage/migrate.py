"""Bring a database to the latest schema: run once at start-up by the runner (`make run`), by
`python -m storage.migrate` before scaled-out servers start, and by tests. Servers only check
(`require_current`), so two replicas starting at once never migrate the same database concurrently."""

from __future__ import annotations

from typing import Optional

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from storage.engine import get_engine, keep_sqlite_file_private
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


class SchemaNotCurrent(RuntimeError):
    """The database is behind the code; the message says which command brings it up to date."""


def require_current(url: Optional[str] = None) -> None:
    """Stop a server's start-up, with the fix in the message, when its database is not at the latest schema."""
    url = url or database_url()
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    with get_engine(url).connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current != head:
        where = url.split("@")[-1]
        raise SchemaNotCurrent(
            f"the database at {where} is at schema {current or 'none'}, the code needs {head}: "
            "run `python -m storage.migrate` (make run does it for you)"
        )


if __name__ == "__main__":
    upgrade()
    print(f"database at {database_url().split('@')[-1]} is up to date")
