"""The audit trail: every action an agent takes (and every failed login), appended in the same
transaction as the change it describes, so the two never disagree."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from inbox.services.common import aware
from storage.models import Agent, AuditEntry, utcnow

ACTIONS = (
    "login",
    "login_failed",
    "logout",
    "password_changed",
    "assign",
    "take_over",
    "reply",
    "note",
    "hand_back",
    "resolve",
    "agent_created",
    "agent_updated",
    "agent_disabled",
    "api_token_created",
    "api_token_revoked",
    "canned_created",
    "canned_updated",
    "canned_deleted",
    "attachment_opened",
    "message_revealed",
    "annotate",  # the review queue (learning/annotations.py)
    "annotation_undone",
    "bulk_accept",
    "reply_proposal_approved",  # harvested agents' replies (learning/harvest.py)
    "reply_proposal_rejected",
    "alert_acknowledged",  # spike alerts (alerts/lifecycle.py writes these in the transaction of the change)
    "alert_resolved",
    "retrain_job_requested",  # the Models page's Retrain / Restore (inbox/services/learning_jobs.py)
    "retrain_job_started",  # the learning worker (learning/jobs.py), for the admin who asked
    "retrain_job_finished",
    "retrain_job_cancelled",  # an admin, before a worker took it
    "model_promoted",  # the model registry (learning/registry.py)
    "model_refused",
    "model_rolled_back",
    "model_adopted",
    "content_created",  # the content library (inbox/services/content.py)
    "content_updated",
    "content_retired",
    "content_restored",
    "marketing_consent_withdrawn",  # by the customer, in chat (actions/marketing_consent.py): no agent
)


def record(
    db: Session,
    action: str,
    agent_id: Optional[int] = None,
    conversation_id: Optional[str] = None,
    target_agent_id: Optional[int] = None,
    detail: Optional[Dict[str, Any]] = None,
    ip: Optional[str] = None,
) -> AuditEntry:
    assert action in ACTIONS, action
    entry = AuditEntry(
        at=utcnow(),
        agent_id=agent_id,
        action=action,
        conversation_id=conversation_id,
        target_agent_id=target_agent_id,
        detail=detail,
        ip=ip,
    )
    db.add(entry)
    return entry


def as_dict(entry: AuditEntry, agent_name: Optional[str], target_name: Optional[str] = None) -> Dict[str, Any]:
    return {
        "id": entry.id,
        "at": aware(entry.at),
        "agent_id": entry.agent_id,
        "agent_name": agent_name,
        "action": entry.action,
        "conversation_id": entry.conversation_id,
        "target_agent_id": entry.target_agent_id,
        "target_agent_name": target_name,
        "detail": entry.detail,
        "ip": entry.ip,
    }


def list_entries(
    db: Session,
    action: Optional[str] = None,
    agent_id: Optional[int] = None,
    conversation_id: Optional[str] = None,
    since: Optional[datetime] = None,
    before_id: Optional[int] = None,
    limit: int = 100,
) -> List[Dict[str, Any]]:
    """Newest first; page backwards with `before_id` (stable while new entries arrive)."""
    target = aliased(Agent)
    query = (
        select(AuditEntry, Agent.name, target.name)
        .outerjoin(Agent, Agent.id == AuditEntry.agent_id)
        .outerjoin(target, target.id == AuditEntry.target_agent_id)
    )
    if action:
        query = query.where(AuditEntry.action == action)
    if agent_id is not None:
        query = query.where(AuditEntry.agent_id == agent_id)
    if conversation_id:
        query = query.where(AuditEntry.conversation_id == conversation_id)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    rows = db.execute(query.order_by(AuditEntry.id.desc()).limit(limit)).all()
    return [as_dict(entry, name, target_name) for entry, name, target_name in rows]
