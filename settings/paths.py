"""Where the checkout keeps what it generates and reads: the defaults that are paths."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Generated, never committed: the dev SQLite database, the dev secrets, the broker's spool, demo passwords.
VAR_DIR = PROJECT_ROOT / "var"
DEFAULT_INDEX_DIR = PROJECT_ROOT / "models" / "past_replies"  # beside the Rasa model archive
DEMO_AGENTS_FILE = VAR_DIR / "inbox_demo_agents.txt"


def default_database_url(var_dir: Path = VAR_DIR) -> str:
    """An absolute SQLite path, so the Rasa server, the action server and the tests agree on one file
    whatever their working directory is."""
    return f"sqlite:///{var_dir / 'coverline.db'}"
