"""The inbox's settings: the settings package's InboxSettings, under the name the inbox has always used."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional

from settings import DEMO_AGENTS_FILE, SettingsError, current, load
from settings import InboxSettings as Settings

__all__ = ["Settings", "SettingsError", "demo_password_file", "load_settings"]


def load_settings(environ: Optional[Mapping[str, str]] = None) -> Settings:
    """The inbox app's settings from the environment; SettingsError for a bad value, or outside dev for
    a missing INBOX_SECRET_KEY or RASA_API_TOKEN (in dev both come from var/)."""
    return (current() if environ is None else load(environ)).for_inbox()


def demo_password_file() -> Path:
    return DEMO_AGENTS_FILE
