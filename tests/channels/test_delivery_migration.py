"""Migration 0005: deliveries keep their message and status; rows from before count as processed."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storage.engine import get_engine
from storage.migrate import alembic_config
from storage.models import Base

NEW_COLUMNS = {"message", "status", "attempts", "last_error", "updated_at"}


def exercise(url: str) -> None:
    config = alembic_config(url)
    command.upgrade(config, "0004_inbox")
    with get_engine(url).begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO channel_deliveries (channel, platform_message_id, received_at) "
                "VALUES ('whatsapp', 'wamid.before', CURRENT_TIMESTAMP)"
            )
        )
    command.upgrade(config, "head")
    engine = get_engine(url)
    with engine.connect() as connection:
        row = connection.execute(sa.text("SELECT status, attempts, message FROM channel_deliveries")).one()
        assert tuple(row) == ("processed", 0, None)  # never redelivered: it was handled before the upgrade
        context = MigrationContext.configure(connection)
        assert [d for d in compare_metadata(context, Base.metadata) if d[0] != "remove_table"] == []
    command.downgrade(config, "0004_inbox")
    columns = {c["name"] for c in sa.inspect(get_engine(url)).get_columns("channel_deliveries")}
    assert not NEW_COLUMNS & columns
    command.upgrade(config, "head")


def test_migration_on_sqlite(tmp_path: Path) -> None:
    exercise(f"sqlite:///{tmp_path / 'fresh.db'}")


def test_migration_on_postgresql(fresh_postgres_url: str) -> None:
    exercise(fresh_postgres_url)
