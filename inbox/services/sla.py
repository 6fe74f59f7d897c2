"""SLA clocks: minutes from an escalation to the first agent reply, per priority (INBOX_SLA_MINUTES)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from inbox.settings import Settings
from storage.models import Escalation


def sla_due_at(settings: Settings, escalation: Escalation) -> datetime:
    return escalation.created_at + timedelta(minutes=settings.sla_for(escalation.priority))


def sla_state(due_at: datetime, first_response_at: Optional[datetime], now: datetime) -> str:
    """met / breached (answered late, or still waiting past the deadline) / running."""
    if first_response_at is not None:
        return "met" if first_response_at <= due_at else "breached"
    return "breached" if now > due_at else "running"
