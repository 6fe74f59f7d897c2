"""Alembic environment: the URL comes from the caller or DATABASE_URL, never from alembic.ini."""

from __future__ import annotations

from alembic import context

from storage.engine import get_engine
from storage.models import Base
from storage.settings import database_url

config = context.config
target_metadata = Base.metadata
# Rasa's tracker store keeps its `events` table in the same database; migrations never touch it.
RASA_TABLES = {"events"}


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    return not (type_ == "table" and name in RASA_TABLES)


def run_migrations_online() -> None:
    url = config.attributes.get("url") or database_url()
    with get_engine(url).connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=include_object,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
