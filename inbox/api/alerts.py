"""Spike alerts (docs/alerts.md): agents and admins list them, read the messages behind one and acknowledge it;
admins and the acknowledging agent resolve it. Both changes are audited (alert_acknowledged, alert_resolved)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Optional

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from inbox.deps import CurrentAgent, DbSession, client_ip
from inbox.schemas import MAX_ID, AgentBrief, Detail
from inbox.services import alerts

router = APIRouter(prefix="/alerts", tags=["alerts"])
ERRORS: Dict[int | str, Dict[str, Any]] = {404: {"model": Detail, "description": "no such alert"}}
WRITE_ERRORS: Dict[int | str, Dict[str, Any]] = {
    **ERRORS,
    403: {"model": Detail, "description": "CSRF token missing, or (resolve) neither an admin nor the acknowledger"},
    409: {"model": Detail, "description": "already acknowledged or resolved (the message says by whom)"},
}
STATUS_HELP = "open (raised or acknowledged, the default), raised, acknowledged, resolved or all"


class RuleBrief(BaseModel):
    id: int
    name: str
    scope: str


class AlertOut(BaseModel):
    id: int
    rule: RuleBrief
    metric: str = Field(..., description="negative_share or volume")
    scope_value: str = Field(..., description="twitter, claim_status, claim_status on twitter, all")
    summary: str = Field(..., description="the sentence of the banner, the webhook and the email")
    started_at: datetime
    window_end: datetime
    raised_at: datetime
    before_value: float = Field(..., description="what that hour usually shows (share 0-1, or messages per bucket)")
    now_value: float
    volume: int = Field(..., description="customer messages in the window")
    zscore: float
    message_count: int
    status: str = Field(..., description="raised, acknowledged or resolved")
    acknowledged_by: Optional[AgentBrief]
    acknowledged_at: Optional[datetime]
    resolved_by: Optional[AgentBrief]
    resolved_at: Optional[datetime]


class StatusCounts(BaseModel):
    raised: int
    acknowledged: int
    resolved: int


class AlertListOut(BaseModel):
    items: List[AlertOut]
    counts: StatusCounts


class AlertMessage(BaseModel):
    id: int
    conversation_id: str
    conversation_url: str = Field(..., description="the conversation's page in the inbox")
    channel: str
    text: Optional[str] = Field(None, description="personal data masked, as in transcripts")
    masked: List[str]
    intent: Optional[str]
    sentiment: Optional[Dict[str, Any]]
    sent_at: datetime


class DeliveryOut(BaseModel):
    channel: str
    recipient: str = Field(..., description="an email address, or a webhook's host (its URL holds its token)")
    status: str = Field(..., description="pending, sent or failed")
    attempts: int
    last_error: Optional[str]
    sent_at: Optional[datetime]


class AlertDetailOut(AlertOut):
    messages: List[AlertMessage] = Field(..., description="the customer messages behind the alert, oldest first")
    deliveries: List[DeliveryOut]


@router.get("", response_model=AlertListOut)
def list_alerts(
    *,
    status: str = Query("open", regex="^(open|raised|acknowledged|resolved|all)$", description=STATUS_HELP),
    limit: int = Query(50, ge=1, le=500),
    before_id: Optional[int] = Query(None, ge=1, le=MAX_ID),
    agent: CurrentAgent,
    db: DbSession,
) -> dict:
    """Newest first, with the number of alerts per status (the banner's one request)."""
    return alerts.list_alerts(db, status, limit, before_id)


@router.get("/{alert_id}", response_model=AlertDetailOut, responses=ERRORS)
def alert_detail(*, alert_id: int = Path(..., ge=1, le=MAX_ID), agent: CurrentAgent, db: DbSession) -> dict:
    """The alert with the customer messages that caused it, each linked to its conversation."""
    return alerts.alert_detail(db, alert_id)


@router.post("/{alert_id}/acknowledge", response_model=AlertDetailOut, responses=WRITE_ERRORS)
def acknowledge_alert(
    *, request: Request, alert_id: int = Path(..., ge=1, le=MAX_ID), agent: CurrentAgent, db: DbSession
) -> dict:
    """Someone is on it: any agent or admin, once."""
    return alerts.acknowledge(db, agent, alert_id, client_ip(request))


@router.post("/{alert_id}/resolve", response_model=AlertDetailOut, responses=WRITE_ERRORS)
def resolve_alert(
    *, request: Request, alert_id: int = Path(..., ge=1, le=MAX_ID), agent: CurrentAgent, db: DbSession
) -> dict:
    """The incident is over: admins, or the agent who acknowledged it."""
    return alerts.resolve(db, agent, alert_id, client_ip(request))
