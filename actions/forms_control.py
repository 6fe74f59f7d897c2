"""Leaving a form part-way: forget every half-filled answer so the next form starts clean."""

from __future__ import annotations

from typing import Any, Dict, List, Set, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import CoverlineAction, clear_slots


def form_slots(domain: Dict[Text, Any]) -> Set[Text]:
    """Every slot some form asks for, read from the domain so a new form needs no change here."""
    return {slot for form in (domain.get("forms") or {}).values() for slot in form.get("required_slots", [])}


class ActionStopForm(CoverlineAction):
    def name(self) -> Text:
        return "action_stop_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_form_stopped")
        return clear_slots(*sorted(form_slots(domain)))
