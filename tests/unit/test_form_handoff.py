"""Inside a form, a strongly negative message or a complaint ends the form and goes to a person, instead
of being taken as the answer to the form's question. Run through each form's real validation action."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.account import ValidateUpdateInfoForm
from actions.claims import ValidateClaimForm, ValidateClaimStatusForm
from actions.quotes import ValidateQuoteForm

pytestmark = pytest.mark.usefixtures("sqlite_url")

ANGRY = "This is ridiculous, I have told you three times already!!!"
LEAVE = [
    {"event": "slot", "name": "requested_slot", "value": None},
    {"event": "active_loop", "name": None},
    {"event": "followup", "name": "action_escalate"},
]


def run_validation(
    action: Any,
    requested: str,
    text: str,
    intent: str = "inform",
    signal: Optional[str] = None,
    form: Optional[str] = "claim_form",
) -> List[Dict[str, Any]]:
    slots = {"requested_slot": requested, requested: text, "handoff_signal": signal}
    latest = {"intent": {"name": intent, "confidence": 0.9}, "entities": [], "text": text}
    events = [{"event": "slot", "name": requested, "value": text}]
    tracker = Tracker("web-1", slots, latest, events, False, None, {"name": form} if form else {}, "rest")
    domain = {"forms": {form or "claim_form": {"required_slots": [requested]}}, "slots": {requested: {}}}
    dispatcher = CollectingDispatcher()
    result = asyncio.run(action.run(dispatcher, tracker, domain))
    return [{key: value for key, value in event.items() if key != "timestamp"} for event in result]


@pytest.mark.parametrize(
    "action, form, requested",
    [
        (ValidateClaimForm(), "claim_form", "policy_number"),
        (ValidateClaimStatusForm(), "claim_status_form", "claim_number"),
        (ValidateQuoteForm(), "quote_form", "age"),
        (ValidateUpdateInfoForm(), "update_info_form", "new_value"),
    ],
)
def test_a_strongly_negative_answer_ends_every_form_and_escalates(action: Any, form: str, requested: str) -> None:
    events = run_validation(action, requested, ANGRY, signal="negative_sentiment", form=form)

    assert events == [{"event": "slot", "name": requested, "value": None}, *LEAVE]


def test_a_distressing_account_of_the_accident_is_the_answer_not_anger() -> None:
    """Asked what happened, customers describe bad events in negative words; that is the description."""
    account = "a van backed into my parked car at the grocery store and crushed the front bumper"

    events = run_validation(ValidateClaimForm(), "incident_description", account, signal="negative_sentiment")

    assert {"event": "slot", "name": "incident_description", "value": account} in events
    assert not [e for e in events if e["event"] in ("followup", "active_loop")]


def test_a_complaint_inside_a_form_escalates_too() -> None:
    events = run_validation(ValidateClaimForm(), "incident_description", "I want to complain about you", "complaint")

    assert events == [{"event": "slot", "name": "incident_description", "value": None}, *LEAVE]


def test_a_calm_answer_is_validated_as_before() -> None:
    events = run_validation(ValidateClaimForm(), "policy_number", "it's px 88123")

    assert {"event": "slot", "name": "policy_number", "value": "PX-88123"} in events
    assert not [e for e in events if e["event"] in ("followup", "active_loop")]


def test_the_message_that_starts_a_form_is_left_to_the_handoff_rules() -> None:
    events = run_validation(ValidateClaimForm(), "policy_number", "PX-88123", signal="negative_sentiment", form=None)

    assert not [e for e in events if e["event"] == "followup"]


@pytest.mark.parametrize(
    "action, form, requested",
    [(ValidateClaimForm(), "claim_form", "policy_number"), (ValidateQuoteForm(), "quote_form", "age")],
)
def test_an_angry_opt_out_inside_a_form_is_honoured_and_not_handed_over(action: Any, form: str, requested: str) -> None:
    """The rule honours it (action_opt_out_marketing_inside_form), then the form asks its question again and its
    validation runs with the angry message still the latest: that is not a reason to page a person."""
    slots = {"requested_slot": requested, requested: None, "handoff_signal": "negative_sentiment"}
    text = "STOP spamming me with your offers!!!"
    latest = {"intent": {"name": "opt_out_marketing", "confidence": 0.97}, "entities": [], "text": text}
    events = [{"event": "action", "name": "action_opt_out_marketing_inside_form"}]
    tracker = Tracker("whatsapp:15550001111", slots, latest, events, False, None, {"name": form},
                      "action_opt_out_marketing_inside_form")  # fmt: skip
    domain = {"forms": {form: {"required_slots": [requested]}}, "slots": {requested: {}}}
    result = asyncio.run(action.run(CollectingDispatcher(), tracker, domain))

    assert not [e for e in result if e.get("event") in ("followup", "active_loop")], result
