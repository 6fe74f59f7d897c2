"""The audit log, for admins."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from fastapi import APIRouter, Query

from inbox.deps import AdminAgent, DbSession
from inbox.errors import InvalidInput
from inbox.schemas import MAX_ID, AuditOut
from inbox.services import audit

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=list[AuditOut])
def list_audit(
    *,
    action: Optional[str] = Query(None, description=", ".join(audit.ACTIONS)),
    agent_id: Optional[int] = Query(None, ge=1, le=MAX_ID),
    conversation_id: Optional[str] = Query(None, max_length=255),
    since: Optional[datetime] = None,
    before_id: Optional[int] = Query(None, ge=1, le=MAX_ID, description="page backwards: entries older than this id"),
    limit: int = Query(100, ge=1, le=1000),
    admin: AdminAgent,
    db: DbSession,
) -> list:
    """Newest first."""
    if action and action not in audit.ACTIONS:
        raise InvalidInput(f"action must be one of {', '.join(audit.ACTIONS)}")
    if since is not None and since.tzinfo is not None:
        since = since.astimezone(timezone.utc).replace(tzinfo=None)  # stored as naive UTC
    return audit.list_entries(db, action, agent_id, conversation_id, since, before_id, limit)
