"""Small helpers the services share."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional


def aware(moment: Optional[datetime]) -> Optional[datetime]:
    """Stored datetimes are naive UTC; the API says so explicitly (`+00:00`), so browsers count correctly."""
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment
