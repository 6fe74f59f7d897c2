"""Spike alerts in the inbox: the list, one alert with the customer messages behind it, acknowledge and resolve.

Status changes go through alerts/lifecycle.py, which writes the audit entry in the same transaction; this module
adds who may do what and turns refusals into 403/404/409 with a message.

Who may resolve: admins (team leads), and the agent who acknowledged the alert, i.e. the person handling it.
Resolving closes the incident: the monitor then stops folding new alerts of the same storm into it, so a resolve
by someone not on the incident would make the next bucket raise a fresh alert for everyone.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, selectinload

from alerts import lifecycle
from alerts.lifecycle import AlertTransitionRefused
from inbox.errors import Conflict, NotFound, PermissionDenied
from inbox.services.common import aware
from inbox.services.conversations import message_dict
from storage.models import Agent, Alert, AlertDelivery, Message

STATUSES = ("raised", "acknowledged", "resolved")
# the list's filters: `open` is every alert not resolved yet (raised or acknowledged), as Chatwoot says open
FILTERS = {"open": ("raised", "acknowledged"), "all": STATUSES, **{status: (status,) for status in STATUSES}}


def _agent_ref(agent: Optional[Agent]) -> Optional[Dict[str, Any]]:
    return None if agent is None else {"id": agent.id, "name": agent.name}


def alert_dict(alert: Alert, acknowledged_by: Optional[Agent], resolved_by: Optional[Agent]) -> Dict[str, Any]:
    return {
        "id": alert.id,
        "rule": {"id": alert.rule_id, "name": alert.rule.name, "scope": alert.rule.scope},
        "metric": alert.metric,
        "scope_value": alert.scope_value,
        "summary": alert.summary,
        "started_at": aware(alert.started_at),
        "window_end": aware(alert.window_end),
        "raised_at": aware(alert.raised_at),
        "before_value": alert.before_value,
        "now_value": alert.now_value,
        "volume": alert.volume,
        "zscore": alert.zscore,
        "message_count": len(alert.message_ids or []),
        "status": alert.status,
        "acknowledged_by": _agent_ref(acknowledged_by),
        "acknowledged_at": aware(alert.acknowledged_at),
        "resolved_by": _agent_ref(resolved_by),
        "resolved_at": aware(alert.resolved_at),
    }


def _with_agents():  # type: ignore[no-untyped-def]
    acknowledger, resolver = aliased(Agent), aliased(Agent)
    return (
        select(Alert, acknowledger, resolver)
        .options(selectinload(Alert.rule))
        .outerjoin(acknowledger, acknowledger.id == Alert.acknowledged_by_id)
        .outerjoin(resolver, resolver.id == Alert.resolved_by_id)
    )


def status_counts(db: Session) -> Dict[str, int]:
    found = dict(db.execute(select(Alert.status, func.count()).group_by(Alert.status)).all())
    return {status: int(found.get(status, 0)) for status in STATUSES}


def list_alerts(db: Session, status: str, limit: int, before_id: Optional[int] = None) -> Dict[str, Any]:
    """Newest first; page backwards with `before_id`. `counts` per status, so the banner needs one request."""
    query = _with_agents().where(Alert.status.in_(FILTERS[status]))
    if before_id is not None:
        query = query.where(Alert.id < before_id)
    rows = db.execute(query.order_by(Alert.id.desc()).limit(limit)).all()
    return {"items": [alert_dict(*row) for row in rows], "counts": status_counts(db)}


def _found(db: Session, alert_id: int) -> Alert:
    alert = db.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"No alert {alert_id}.")
    return alert


def _recipient_shown(delivery: AlertDelivery) -> str:
    """A webhook URL's path is its secret (Slack's token): agents see where it goes, not the URL."""
    if delivery.channel == "webhook":
        return f"webhook {urlsplit(delivery.recipient).hostname or '?'}"
    return delivery.recipient


def _deliveries(db: Session, alert_id: int) -> List[Dict[str, Any]]:
    rows = db.scalars(select(AlertDelivery).where(AlertDelivery.alert_id == alert_id).order_by(AlertDelivery.id))
    return [
        {
            "channel": row.channel,
            "recipient": _recipient_shown(row),
            "status": row.status,
            "attempts": row.attempts,
            "last_error": row.last_error if row.channel == "email" or row.last_error is None else "not delivered",
            "sent_at": aware(row.sent_at),
        }
        for row in rows
    ]


def alert_detail(db: Session, alert_id: int) -> Dict[str, Any]:
    """The alert, the customer messages behind it (its scope and window, as the monitor recorded them: the
    negative ones for a share), personal data masked as in transcripts, oldest first, and its deliveries."""
    row = db.execute(_with_agents().where(Alert.id == alert_id)).first()
    if row is None:
        raise NotFound(f"No alert {alert_id}.")
    ids = list(row[0].message_ids or [])
    messages = (
        db.scalars(select(Message).where(Message.id.in_(ids)).order_by(Message.sent_at, Message.id)) if ids else []
    )
    return {
        **alert_dict(*row),
        "messages": [{**message_dict(m), "conversation_url": f"/conversations/{m.conversation_id}"} for m in messages],
        "deliveries": _deliveries(db, alert_id),
    }


def acknowledge(db: Session, agent: Agent, alert_id: int, ip: Optional[str]) -> Dict[str, Any]:
    """Any agent or admin: "someone is on it". A second acknowledge is a 409 naming who was first."""
    alert = _found(db, alert_id)
    try:
        lifecycle.acknowledge(db, alert_id, agent.id, ip)
    except AlertTransitionRefused:
        db.rollback()
        raise Conflict(_already(db, alert_id)) from None
    db.commit()
    db.expire(alert)
    return alert_detail(db, alert_id)


def resolve(db: Session, agent: Agent, alert_id: int, ip: Optional[str]) -> Dict[str, Any]:
    """Admins, or the agent who acknowledged it (the module docstring says why)."""
    alert = _found(db, alert_id)
    if alert.status == "resolved":
        raise Conflict(_already(db, alert_id))
    if agent.role != "admin" and alert.acknowledged_by_id != agent.id:
        raise PermissionDenied(
            "Only an admin or the agent who acknowledged this alert can resolve it"
            + (" (acknowledge it first)." if alert.status == "raised" else ".")
        )
    try:
        lifecycle.resolve(db, alert_id, agent.id, ip)
    except AlertTransitionRefused:
        db.rollback()
        raise Conflict(_already(db, alert_id)) from None
    db.commit()
    db.expire(alert)
    return alert_detail(db, alert_id)


def _already(db: Session, alert_id: int) -> str:
    """Whom the alert is already with, for the 409's message."""
    db.expire_all()
    alert = db.get(Alert, alert_id)
    by_id = alert.resolved_by_id if alert.status == "resolved" else alert.acknowledged_by_id
    by = db.get(Agent, by_id) if by_id else None
    return f"Alert {alert_id} is already {alert.status}" + (f" by {by.name}." if by else ".")
