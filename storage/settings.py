"""Database settings read once from the environment (configuration over code)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "var" / "coverline.db"


def database_url() -> str:
    """The URL every process connects to.

    The default is an absolute SQLite path so the Rasa server, the action server and the tests agree
    on one file whatever their working directory is.
    """
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    DEFAULT_SQLITE_PATH.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"
