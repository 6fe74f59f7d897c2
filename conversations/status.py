"""The statuses a conversation can be in: one vocabulary for the database, the API and the inbox.

The words are Chatwoot's, which social teams already know, plus `escalated` for the wait between the
bot handing over and a person picking it up:

    pending ──escalate──▶ escalated ──take over──▶ open ──resolve──▶ resolved
       ▲   ╲─────────────take over─────────────▶╱  │                    │
       ╰────────hand back (from escalated/open)─────╯                    │
       ╰─────────────reopen (the customer writes again)──────────────────╯

Rasa's paused flag follows the status: paused exactly while people have the conversation
(`Status.with_people`).
"""

from __future__ import annotations

from enum import Enum
from typing import Optional


class Status(str, Enum):
    PENDING = "pending"  # the bot answers; nobody needs to look (Chatwoot's "pending")
    ESCALATED = "escalated"  # the bot handed over and stopped; waiting for a person
    OPEN = "open"  # an agent took it over and is talking to the customer
    RESOLVED = "resolved"  # closed; the customer's next message reopens it as pending

    @property
    def with_people(self) -> bool:
        """Whether the bot must stay quiet (Rasa paused)."""
        return self in WITH_PEOPLE

    def __str__(self) -> str:
        return self.value


WITH_PEOPLE = frozenset({Status.ESCALATED, Status.OPEN})
# Names the database used before migration 0008, still accepted where people type a status (API filters).
LEGACY_NAMES = {"bot": Status.PENDING, "agent": Status.OPEN}


def parse_status(value: Optional[str]) -> Optional[Status]:
    """A status from an API filter or a stored row; None for an empty value, ValueError for an unknown one."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip().lower()
    if text in LEGACY_NAMES:
        return LEGACY_NAMES[text]
    try:
        return Status(text)
    except ValueError:
        names = ", ".join(s.value for s in Status)
        raise ValueError(f"status must be one of {names}, not {value!r}") from None
