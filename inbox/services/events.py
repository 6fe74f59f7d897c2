"""Live updates by polling the database for ids above a cursor.

Works across processes (the Rasa server's broker, the action server and every inbox process write the
same tables) and costs three indexed max() lookups per client per tick when nothing happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inbox.services.common import aware
from inbox.services.conversations import message_dict
from storage.models import Agent, AuditEntry, Escalation, Message

BATCH = 200
# Audit actions that change what a conversation looks like in the list or the transcript.
CONVERSATION_ACTIONS = ("assign", "take_over", "hand_back", "resolve", "note")


@dataclass(frozen=True)
class Cursor:
    message_id: int = 0
    escalation_id: int = 0
    audit_id: int = 0

    def encode(self) -> str:
        return f"{self.message_id}.{self.escalation_id}.{self.audit_id}"

    @classmethod
    def decode(cls, raw: Optional[str]) -> Optional["Cursor"]:
        """EventSource's Last-Event-ID, so a reconnecting browser misses nothing; None if unreadable."""
        try:
            parts = [int(p) for p in (raw or "").split(".")]
        except ValueError:
            return None
        if len(parts) != 3 or min(parts) < 0:
            return None
        return cls(*parts)


def current_cursor(db: Session) -> Cursor:
    return Cursor(
        db.scalar(select(func.max(Message.id))) or 0,
        db.scalar(select(func.max(Escalation.id))) or 0,
        db.scalar(select(func.max(AuditEntry.id))) or 0,
    )


def changes_since(db: Session, cursor: Cursor) -> Tuple[List[Tuple[str, Dict[str, Any]]], Cursor]:
    """(event name, data) pairs in id order per kind, and the cursor after them."""
    latest = current_cursor(db)
    if latest == cursor:
        return [], cursor
    events: List[Tuple[str, Dict[str, Any]]] = []
    message_id, escalation_id, audit_id = cursor.message_id, cursor.escalation_id, cursor.audit_id
    if latest.message_id > message_id:
        for message in db.scalars(select(Message).where(Message.id > message_id).order_by(Message.id).limit(BATCH)):
            events.append(("message", message_dict(message)))
            message_id = message.id
    if latest.escalation_id > escalation_id:
        for escalation in db.scalars(
            select(Escalation).where(Escalation.id > escalation_id).order_by(Escalation.id).limit(BATCH)
        ):
            events.append(
                (
                    "escalation",
                    {
                        "id": escalation.id,
                        "conversation_id": escalation.conversation_id,
                        "reason": escalation.reason,
                        "priority": escalation.priority,
                        "created_at": aware(escalation.created_at),
                    },
                )
            )
            escalation_id = escalation.id
    if latest.audit_id > audit_id:
        rows = db.execute(
            select(AuditEntry, Agent.name)
            .outerjoin(Agent, Agent.id == AuditEntry.agent_id)
            .where(AuditEntry.id > audit_id)
            .order_by(AuditEntry.id)
            .limit(BATCH)
        ).all()
        for entry, name in rows:
            if entry.action in CONVERSATION_ACTIONS and entry.conversation_id:
                events.append(
                    (
                        "conversation",
                        {
                            "conversation_id": entry.conversation_id,
                            "action": entry.action,
                            "agent_id": entry.agent_id,
                            "agent_name": name,
                            "at": aware(entry.at),
                        },
                    )
                )
            audit_id = entry.id
    return events, Cursor(message_id, escalation_id, audit_id)
