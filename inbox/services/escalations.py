"""The escalation queue: most urgent first, then longest waiting, each with its SLA clock."""

from __future__ import annotations

from typing import Any, Dict, List

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from conversations.status import Status
from inbox.services.common import aware
from inbox.services.conversations import summaries
from inbox.services.sla import sla_due_at, sla_state
from inbox.settings import Settings
from storage import pii
from storage.models import Conversation, Escalation, Message, utcnow


def queue(db: Session, settings: Settings, include_closed: bool = False, limit: int = 200) -> List[Dict[str, Any]]:
    """Priority first, then waiting time: an urgent complaint that just came in goes above a routine question
    that has waited longer, but among equals nobody is overtaken. First replies and list rows are fetched in
    batch, so the queue costs a constant number of queries however long it is."""
    query = select(Escalation).order_by(Escalation.priority, Escalation.created_at, Escalation.id).limit(limit)
    if not include_closed:
        query = query.where(Escalation.open.is_(True))
    escalations = list(db.scalars(query))
    if not escalations:
        return []
    ids = [e.id for e in escalations]
    first_reply = dict(
        db.execute(
            select(Escalation.id, func.min(Message.sent_at))
            .join(
                Message,
                and_(
                    Message.conversation_id == Escalation.conversation_id,
                    Message.author == "agent",
                    Message.sent_at >= Escalation.created_at,
                ),
            )
            .where(Escalation.id.in_(ids))
            .group_by(Escalation.id)
        ).all()
    )
    conversations = {
        c.id: c
        for c in db.scalars(select(Conversation).where(Conversation.id.in_({e.conversation_id for e in escalations})))
    }
    rows = {s["id"]: s for s in summaries(db, settings, conversations.values())}
    now = utcnow()
    items = []
    for escalation in escalations:
        due = sla_due_at(settings, escalation)
        responded = first_reply.get(escalation.id)
        conversation = rows.get(escalation.conversation_id, {})
        items.append(
            {
                "id": escalation.id,
                "conversation_id": escalation.conversation_id,
                "reason": escalation.reason,
                "priority": escalation.priority,
                "note": pii.mask(escalation.note),
                "open": escalation.open,
                "outcome": escalation.outcome,
                "created_at": aware(escalation.created_at),
                "assigned_at": aware(escalation.assigned_at),
                "resolved_at": aware(escalation.resolved_at),
                "waiting_seconds": max(0.0, ((escalation.resolved_at or now) - escalation.created_at).total_seconds()),
                "sla_minutes": settings.sla_for(escalation.priority),
                "sla_due_at": aware(due),
                "first_response_at": aware(responded),
                "sla_state": sla_state(due, responded, now),
                "channel": conversation.get("channel"),
                "customer_identity": conversation.get("customer_identity"),
                "status": conversation.get("status") or Status.ESCALATED.value,
                "assignee": conversation.get("assignee"),
                "sentiment": conversation.get("sentiment"),
                "last_message": conversation.get("last_message"),
            }
        )
    return items
