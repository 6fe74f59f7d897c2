"""Leaving a form part-way: forget every half-filled answer so the next form starts clean."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import CoverlineAction, clear_slots

FORM_SLOTS = (
    "policy_number",
    "incident_type",
    "incident_date",
    "incident_description",
    "claim_number",
    "product",
    "age",
    "insured_value",
    "trip_days",
    "info_field",
    "new_value",
)


class ActionStopForm(CoverlineAction):
    def name(self) -> Text:
        return "action_stop_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_form_stopped")
        return clear_slots(*FORM_SLOTS)
