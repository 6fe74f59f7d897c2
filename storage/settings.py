"""The database URL every process connects to (DATABASE_URL), as the settings package reads it."""

from __future__ import annotations

from settings import PROJECT_ROOT, VAR_DIR, current, default_database_url

__all__ = ["PROJECT_ROOT", "database_url"]


def database_url() -> str:
    """DATABASE_URL, else the SQLite file in var/ (created private: it holds customers' messages)."""
    url = current().database.url
    if url == default_database_url():
        VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    return url
