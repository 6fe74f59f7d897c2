"""Small helpers the services share."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from inbox.errors import Conflict


def aware(moment: Optional[datetime]) -> Optional[datetime]:
    """Stored datetimes are naive UTC; the API says so explicitly (`+00:00`), so browsers count correctly."""
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def flush_unique(db: Session, row: Any, key: InstrumentedAttribute, taken: str) -> None:
    """Flush `row`, whose `key` column is unique, turning a value another row holds into a 409 saying `taken`.
    Looked up first, so the usual case is a clear answer without a failed statement; the unique index still
    decides when two admins race (the IntegrityError at flush), and the session is rolled back either way,
    since a failed flush leaves it unusable."""
    model = type(row)
    query = select(model.id).where(key == getattr(row, key.key))
    if row.id is not None:
        query = query.where(model.id != row.id)
    with db.no_autoflush:
        holder = db.scalar(query)
    if holder is None:
        try:
            db.flush()
            return
        except IntegrityError:
            pass
    db.rollback()
    raise Conflict(taken)
