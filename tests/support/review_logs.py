"""Logged conversations for the review queue's tests, written the way production writes them: Rasa-shaped
user and bot events through the event broker's projection, 👍/👎 as the feedback action stores it, a
handoff through the lifecycle (as action_escalate does), a take-over as the inbox audits it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

from sqlalchemy import select

from conversations import lifecycle
from conversations.projection import record_event
from inbox.services import audit
from storage.engine import session_scope
from storage.models import AnswerFeedback, Conversation, PastReply


def _moment(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc).replace(tzinfo=None)


@dataclass
class Chat:
    """One conversation on one channel; each step is 20 seconds after the one before."""

    db_url: str
    sender_id: str  # e.g. whatsapp:15550001111
    channel: str = "whatsapp"
    clock: float = field(default_factory=lambda: time.time() - 3600)
    ids: List[int] = field(default_factory=list)

    def _tick(self) -> float:
        self.clock += 20
        return self.clock

    def customer(
        self,
        text: str,
        intent: str,
        confidence: float = 0.93,
        entities: Optional[List[Dict[str, Any]]] = None,
        sentiment: Optional[Dict[str, Any]] = None,
        ranking: Optional[List[Dict[str, Any]]] = None,
    ) -> int:
        ts = self._tick()
        event = {
            "sender_id": self.sender_id,
            "event": "user",
            "timestamp": ts,
            "text": text,
            "input_channel": self.channel,
            "message_id": f"wamid.{int(ts * 1000)}{len(self.ids)}",
            "parse_data": {
                "text": text,
                "intent": {"name": intent, "confidence": confidence},
                "intent_ranking": ranking or [{"name": intent, "confidence": confidence}],
                "entities": entities or [],
                "sentiment": sentiment,
            },
            "metadata": {},
        }
        with session_scope(self.db_url) as db:
            message = record_event(db, event)
            assert message is not None
            self.ids.append(message.id)
            return message.id

    def bot(self, text: str, **metadata: Any) -> int:
        event = {
            "sender_id": self.sender_id,
            "event": "bot",
            "timestamp": self._tick(),
            "text": text,
            "metadata": metadata,
            "data": {},
        }
        with session_scope(self.db_url) as db:
            message = record_event(db, event)
            assert message is not None
            self.ids.append(message.id)
            return message.id

    def retrieved_answer(self, text: str, helpful: Optional[bool]) -> int:
        """A past reply retrieved as the answer, and the customer's 👍 (True) / 👎 (False) on it."""
        with session_scope(self.db_url) as db:
            reply = db.scalars(select(PastReply).where(PastReply.external_id == "review-test")).first()
            if reply is None:
                reply = PastReply(external_id="review-test", question="Is a burst pipe covered?", reply=text)
                db.add(reply)
                db.flush()
            reply_id = reply.id
        message_id = self.bot(text, answer_source="retrieval", past_reply_id=reply_id, retrieval_score=0.71)
        if helpful is not None:
            with session_scope(self.db_url) as db:
                db.add(
                    AnswerFeedback(
                        conversation_id=self.sender_id,
                        past_reply_id=reply_id,
                        message_id=message_id,
                        helpful=helpful,
                        created_at=_moment(self._tick()),
                    )
                )
        return message_id

    def handoff(self, reason: str = "fallback") -> int:
        """What action_escalate records: an open escalation, now, after the last message."""
        with session_scope(self.db_url) as db:
            conversation = db.get(Conversation, self.sender_id)
            escalation, _ = lifecycle.escalate(db, conversation, reason, 2, "handed over in a test")
            escalation.created_at = _moment(self._tick())
            db.flush()
            return escalation.id

    def take_over(self, agent_id: int) -> None:
        """The audit entry the inbox writes when an agent takes the conversation over."""
        with session_scope(self.db_url) as db:
            entry = audit.record(db, "take_over", agent_id=agent_id, conversation_id=self.sender_id)
            entry.at = _moment(self._tick())
