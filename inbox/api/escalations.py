"""The escalation queue with SLA timers."""

from __future__ import annotations

from fastapi import APIRouter, Query

from inbox.deps import CurrentAgent, DbSession, SettingsDep
from inbox.schemas import QueueItem
from inbox.services import escalations

router = APIRouter(prefix="/escalations", tags=["escalations"])


@router.get("", response_model=list[QueueItem])
def queue(
    *,
    include_closed: bool = Query(False, description="also closed escalations (history)"),
    limit: int = Query(200, ge=1, le=1000),
    agent: CurrentAgent,
    db: DbSession,
    settings: SettingsDep,
) -> list:
    """Open escalations, most urgent priority first, then longest waiting; SLA = minutes to first agent reply."""
    return escalations.queue(db, settings, include_closed, limit)


@router.get("/sla", response_model=dict)
def sla_policy(*, agent: CurrentAgent, settings: SettingsDep) -> dict:
    """Minutes to first reply per priority (INBOX_SLA_MINUTES)."""
    return {str(priority): minutes for priority, minutes in sorted(settings.sla_minutes.items())}
