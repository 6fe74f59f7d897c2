"""Acknowledging and resolving alerts: the one place an alert's status changes, each change audited.

The update is conditional on the status it leaves, so two people acknowledging at once cannot both win, and the
audit entry is written in the same transaction as the change it describes.
"""

from __future__ import annotations

from typing import Optional

from sqlalchemy import update
from sqlalchemy.orm import Session

from storage.models import Alert, AuditEntry, utcnow

AUDIT_ACTIONS = {"acknowledged": "alert_acknowledged", "resolved": "alert_resolved"}
LEAVES = {"acknowledged": ("raised",), "resolved": ("raised", "acknowledged")}


class AlertTransitionRefused(ValueError):
    """The alert does not exist or is not in a status this change can leave."""


def acknowledge(session: Session, alert_id: int, agent_id: Optional[int], ip: Optional[str] = None) -> None:
    _move(session, alert_id, "acknowledged", agent_id, ip)


def resolve(session: Session, alert_id: int, agent_id: Optional[int], ip: Optional[str] = None) -> None:
    _move(session, alert_id, "resolved", agent_id, ip)


def _move(session: Session, alert_id: int, target: str, agent_id: Optional[int], ip: Optional[str]) -> None:
    now = utcnow()
    who = {"acknowledged_by_id": agent_id, "acknowledged_at": now}
    if target == "resolved":
        who = {"resolved_by_id": agent_id, "resolved_at": now}
    changed = session.execute(
        update(Alert)
        .where(Alert.id == alert_id, Alert.status.in_(LEAVES[target]))
        .values(status=target, **who)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise AlertTransitionRefused(f"alert {alert_id} cannot be {target} (unknown, or already {target})")
    session.add(
        AuditEntry(at=now, agent_id=agent_id, action=AUDIT_ACTIONS[target], detail={"alert_id": alert_id}, ip=ip)
    )
