"""Escalation to the service team: record why and how urgently, and tell the customer what happens next."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import CoverlineAction
from actions.demo_data import insurer
from storage.models import Conversation, Escalation

REASONS = {"request_human": "customer_request", "complaint": "complaint", "nlu_fallback": "fallback"}


def escalation_priority(reason: str, sentiment: Optional[Dict[str, Any]] = None) -> int:
    """1 = urgent, 3 = low. Complaints and clearly negative customers go first."""
    negative = bool(sentiment) and sentiment.get("label") == "negative" and float(sentiment.get("confidence", 0)) >= 0.7
    if reason == "complaint" or negative:
        return 1
    if reason == "customer_request":
        return 2
    return 3


class ActionEscalate(CoverlineAction):
    def name(self) -> Text:
        return "action_escalate"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        intent = tracker.latest_message.get("intent", {}).get("name", "")
        reason = REASONS.get(intent, "customer_request")
        priority = escalation_priority(reason, tracker.latest_message.get("sentiment"))
        with self.conversation_session(tracker) as session:
            session.get(Conversation, tracker.sender_id).status = "escalated"
            session.add(
                Escalation(
                    conversation_id=tracker.sender_id,
                    reason=reason,
                    priority=priority,
                    note=(tracker.latest_message.get("text") or "")[:1000],
                )
            )
        facts = insurer()
        opening = (
            "I'm sorry about this, and I've flagged it as a complaint for a senior member of the service team."
            if reason == "complaint"
            else "I'm passing you to a person on our service team."
        )
        dispatcher.utter_message(
            text=f"{opening} They'll reply right here in this chat; during opening hours ({facts['hours']}) that is "
            f"usually within a few minutes. If it's urgent you can also call {facts['phone']['service']}.",
            answer_source="handoff",
        )
        return []
