"""Human-friendly references (CL-204117, QT-…, CR-…) that customers can read out on the phone."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session


def new_reference(session: Session, model: Any, prefix: str, digits: int = 6) -> str:
    """A random, unused reference; random rather than sequential so references leak no volumes."""
    low, high = 10 ** (digits - 1), 10**digits
    while True:
        candidate = f"{prefix}-{secrets.randbelow(high - low) + low}"
        if session.scalar(select(model.id).where(model.reference == candidate)) is None:
            return candidate
