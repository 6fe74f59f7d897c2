"""Low NLU confidence: ask to rephrase once; on a second miss in a row, offer a person."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import CoverlineAction

FALLBACK_INTENT = "nlu_fallback"


def consecutive_fallbacks(events: List[Dict[str, Any]]) -> int:
    """How many of the latest customer messages in a row the NLU could not understand."""
    count = 0
    for event in reversed(events):
        if event.get("event") != "user":
            continue
        intent = (event.get("parse_data") or {}).get("intent") or {}
        if intent.get("name") != FALLBACK_INTENT:
            break
        count += 1
    return count


class ActionHandleFallback(CoverlineAction):
    def name(self) -> Text:
        return "action_handle_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        if consecutive_fallbacks(tracker.events) >= 2:
            dispatcher.utter_message(response="utter_offer_human", answer_source="fallback")
        else:
            dispatcher.utter_message(response="utter_ask_rephrase", answer_source="fallback")
        return []
