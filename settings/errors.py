"""The one failure of the settings package."""

from __future__ import annotations


class SettingsError(ValueError):
    """A setting is unusable or a secret is missing; the message names each variable and what it expects.

    Raised at start-up (settings.load, settings.load_at_startup), so a typo stops the process with this
    message instead of surfacing later as a traceback in the middle of a customer's conversation."""
