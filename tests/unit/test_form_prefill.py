"""A form does not ask what the opening message already said (actions/form_prefill.py), run through the forms'
validation actions as rasa-sdk runs them, with the events Rasa sends."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import parsing
from actions.account import ValidateUpdateInfoForm
from actions.claims import ValidateClaimForm

pytestmark = pytest.mark.usefixtures("sqlite_url")

SENDER = "whatsapp:15550001111"
DOMAIN = {
    "forms": {
        "update_info_form": {"required_slots": ["policy_number", "info_field", "new_value"]},
        "claim_form": {"required_slots": ["policy_number", "incident_type", "incident_date", "incident_description"]},
    },
    "slots": {},
}


def user(text: str, intent: str) -> Dict[str, Any]:
    return {"event": "user", "text": text, "parse_data": {"text": text, "intent": {"name": intent, "confidence": 0.97}}}


def opened(form: str, opening: str, intent: str) -> List[Dict[str, Any]]:
    """The events of a turn that activated `form` and asked its first question."""
    return [
        {"event": "action", "name": "action_listen"},
        user(opening, intent),
        {"event": "action", "name": form},
        {"event": "active_loop", "name": form},
        {"event": "slot", "name": "requested_slot", "value": "policy_number"},
        {"event": "bot", "text": "What's your policy number?"},
        {"event": "action", "name": "action_listen"},
    ]


def answer(events: List[Dict[str, Any]], text: str, slots: Dict[str, Any], form: str) -> Tracker:
    """The tracker the validation action gets when the customer answers the form's question."""
    candidates = [{"event": "slot", "name": name, "value": value} for name, value in slots.items()]
    events = [*events, user(text, "inform"), {"event": "action", "name": form}, *candidates]
    latest = events[-1 - len(candidates) - 1]["parse_data"]
    slots = {**slots, "requested_slot": "policy_number"}
    return Tracker(SENDER, slots, latest, events, False, None, {"name": form}, "")


def validated(action, tracker: Tracker) -> Dict[str, Any]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, DOMAIN))
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def test_the_field_named_in_the_opening_message_is_not_asked_for_again() -> None:
    history = opened("update_info_form", "tell me how to change my email", "update_personal_info")
    slots = validated(
        ValidateUpdateInfoForm(), answer(history, "PX-40211", {"policy_number": "PX-40211"}, "update_info_form")
    )
    assert slots["policy_number"] == "PX-40211"
    assert slots["info_field"] == "email"


def test_a_field_already_given_is_kept() -> None:
    history = opened("update_info_form", "tell me how to change my email", "update_personal_info")
    tracker = answer(history, "phone", {"info_field": "phone"}, "update_info_form")
    assert validated(ValidateUpdateInfoForm(), tracker)["info_field"] == "phone"


def test_only_the_latest_activation_counts() -> None:
    earlier = opened("update_info_form", "I moved, new address", "update_personal_info")
    later = opened("update_info_form", "my mobile number changed", "update_personal_info")
    tracker = answer([*earlier, *later], "PX-40211", {"policy_number": "PX-40211"}, "update_info_form")
    assert validated(ValidateUpdateInfoForm(), tracker)["info_field"] == "phone"


def test_a_form_opened_by_another_intent_reads_nothing_from_that_message() -> None:
    history = opened("update_info_form", "is my email on file? I never get your letters", "ask_other")
    tracker = answer(history, "PX-40211", {"policy_number": "PX-40211"}, "update_info_form")
    assert "info_field" not in validated(ValidateUpdateInfoForm(), tracker)


def test_at_activation_the_newest_message_is_the_opening_one() -> None:
    """Rasa calls the validation action during activation when a slot was filled then; the form is not active
    yet in that call and the ActiveLoop event is not in the events."""
    text = "change the email on PX-40211 please"
    events = [{"event": "action", "name": "action_listen"}, user(text, "update_personal_info")]
    events += [{"event": "slot", "name": "policy_number", "value": "PX-40211"}]
    tracker = Tracker(SENDER, {"policy_number": "PX-40211"}, events[1]["parse_data"], events, False, None, {}, "")
    assert validated(ValidateUpdateInfoForm(), tracker)["info_field"] == "email"


def test_what_happened_and_when_are_read_from_the_claim_opening() -> None:
    history = opened("claim_form", "yesterday a rock chipped my windshield, I need to file a claim", "file_claim")
    slots = validated(ValidateClaimForm(), answer(history, "PX-40211", {"policy_number": "PX-40211"}, "claim_form"))
    assert slots["incident_type"] == "glass"
    assert slots["incident_date"] == (date.today() - timedelta(days=1)).isoformat()


def test_a_claim_opening_without_details_leaves_the_questions_to_the_form() -> None:
    history = opened("claim_form", "I need to file a claim", "file_claim")
    slots = validated(ValidateClaimForm(), answer(history, "PX-40211", {"policy_number": "PX-40211"}, "claim_form"))
    assert "incident_type" not in slots and "incident_date" not in slots


@pytest.mark.parametrize(
    "text, days_back",
    [
        ("yesterday a deer ran into my car", 1),
        ("last night someone broke into the garage", 1),
        ("a tree fell on the roof two days ago", 2),
        ("I sat in the car for an hour waiting for the tow", None),  # "sat" is not Saturday here
        ("sun damage on the dashboard", None),
        ("the other driver hit 2 cars", None),  # a number is not a date
        ("my claim", None),
    ],
)
def test_a_date_in_passing_is_only_a_word_that_says_a_day(text: str, days_back: Optional[int]) -> None:
    today = date(2026, 12, 3)
    expected = (today - timedelta(days=days_back)).isoformat() if days_back is not None else None
    assert parsing.date_in_passing(text, today) == expected
