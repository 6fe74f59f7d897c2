"""Migrations build exactly the models: 0004_inbox up and down, and the head revision (0006) on both databases."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from storage.engine import get_engine
from storage.migrate import alembic_config
from storage.models import Base

INBOX_TABLES = {"agents", "agent_sessions", "login_attempts", "canned_responses", "conversation_notes", "audit_log"}


def exercise(url: str) -> None:
    config = alembic_config(url)
    command.upgrade(config, "0004_inbox")
    engine = get_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert context.get_current_revision() == "0004_inbox"
        if context.get_current_revision() == ScriptDirectory.from_config(config).get_current_head():
            differences = [d for d in compare_metadata(context, Base.metadata) if d[0] != "remove_table"]
            assert differences == []
    assert INBOX_TABLES <= set(sa.inspect(engine).get_table_names())
    command.downgrade(config, "0003")
    inspector = sa.inspect(get_engine(url))
    assert not INBOX_TABLES & set(inspector.get_table_names())
    assert {"outcome", "closed_by_id"}.isdisjoint(c["name"] for c in inspector.get_columns("escalations"))
    command.upgrade(config, "head")


def test_migration_on_sqlite(tmp_path: Path) -> None:
    exercise(f"sqlite:///{tmp_path / 'fresh.db'}")


def test_migration_on_postgresql(fresh_postgres_url: str) -> None:
    exercise(fresh_postgres_url)


def test_revision_chain() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    assert script.get_revision("0004_inbox").down_revision == "0003"
    assert script.get_revision("0005_delivery_outbox").down_revision == "0004_inbox"
    assert script.get_revision("0006_message_agent").down_revision == "0005_delivery_outbox"


def exercise_head(url: str) -> None:
    """The head revision builds exactly the models (Rasa's own tables aside); 0006 adds and removes the
    agent on messages without touching the rest."""
    config = alembic_config(url)
    command.upgrade(config, "head")
    engine = get_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert context.get_current_revision() == ScriptDirectory.from_config(config).get_current_head()
        assert [d for d in compare_metadata(context, Base.metadata) if d[0] != "remove_table"] == []
    assert "agent_id" in {c["name"] for c in sa.inspect(engine).get_columns("messages")}
    command.downgrade(config, "0005_delivery_outbox")
    columns = {c["name"] for c in sa.inspect(get_engine(url)).get_columns("messages")}
    assert "agent_id" not in columns and {"author", "sentiment", "in_reply_to_id"} <= columns
    command.upgrade(config, "head")


def test_head_matches_the_models_on_sqlite(tmp_path: Path) -> None:
    exercise_head(f"sqlite:///{tmp_path / 'head.db'}")


def test_head_matches_the_models_on_postgresql(fresh_postgres_url: str) -> None:
    exercise_head(fresh_postgres_url)
