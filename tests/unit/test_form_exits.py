"""A customer whose answer a form keeps refusing is told how to leave, and "stop" (which the NLU knows as no
intent) leaves every form. Through each form's real validation action, with trackers shaped as Rasa sends them
(the form's activation, each message's slot candidate, the validation's refusal)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.account import ValidateUpdateInfoForm
from actions.claims import ValidateClaimForm, ValidateClaimStatusForm
from actions.form_exits import WAY_OUT, answers_in_a_row, wants_to_stop
from actions.quotes import ValidateQuoteForm
from actions.verification import ValidateVerificationForm
from tests.support.action_runs import verified
from tests.support.databases import migrated_sqlite

pytestmark = pytest.mark.usefixtures("sqlite_url")

FORMS = [
    (ValidateClaimForm(), "claim_form", "policy_number"),
    (ValidateClaimStatusForm(), "claim_status_form", "claim_number"),
    (ValidateQuoteForm(), "quote_form", "age"),
    (ValidateUpdateInfoForm(), "update_info_form", "info_field"),
    (ValidateVerificationForm(), "verification_form", "verification_policy_number"),
]
STOPPED = [
    {"event": "slot", "name": "requested_slot", "value": None},
    {"event": "active_loop", "name": None},
    {"event": "followup", "name": "action_stop_form"},
]


def turns(form: str, slot: str, earlier: List[str], text: str) -> List[Dict[str, Any]]:
    """The form activated and asking for `slot`, `earlier` answers refused one by one, then `text` (extracted as
    the slot's candidate, as action_extract_slots does before the validation runs)."""
    events: List[Dict[str, Any]] = [
        {"event": "user", "text": "I need help with that", "parse_data": {}},
        {"event": "active_loop", "name": form},
        {"event": "slot", "name": "requested_slot", "value": slot},
    ]
    for said in earlier:
        events += [
            {"event": "user", "text": said, "parse_data": {}},
            {"event": "slot", "name": slot, "value": said},
            {"event": "action", "name": form},
            {"event": "slot", "name": slot, "value": None},
            {"event": "bot", "text": "That was not it."},
            {"event": "slot", "name": "requested_slot", "value": slot},
        ]
    return events + [{"event": "user", "text": text, "parse_data": {}}, {"event": "slot", "name": slot, "value": text}]


def validate(
    action: Any, form: str, slot: str, earlier: List[str], text: str, sender: str = "telegram:777000111"
) -> Tuple[List[Dict], List[str]]:
    events, dispatcher = validated(action, form, slot, earlier, text, sender)
    return events, [m.get("text") or "" for m in dispatcher.messages]


def validated(
    action: Any, form: str, slot: str, earlier: List[str], text: str, sender: str
) -> Tuple[List[Dict], CollectingDispatcher]:
    slots = {"requested_slot": slot, slot: text, "handoff_signal": None}
    latest = {"intent": {"name": "out_of_scope", "confidence": 0.6}, "entities": [], "text": text}
    tracker = Tracker(sender, slots, latest, turns(form, slot, earlier, text), False, None,
                      {"name": form}, "action_listen")  # fmt: skip
    domain = {"forms": {form: {"required_slots": [slot]}}, "slots": {slot: {}}}
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, domain))
    return [{k: v for k, v in e.items() if k != "timestamp"} for e in events], dispatcher


@pytest.mark.parametrize("action, form, slot", FORMS)
def test_stop_leaves_every_form_and_saves_nothing(action: Any, form: str, slot: str) -> None:
    events, said = validate(action, form, slot, [], "Stop!")
    assert events == [{"event": "slot", "name": slot, "value": None}, *STOPPED]
    assert said == []


@pytest.mark.parametrize("action, form, slot", FORMS)
def test_the_second_refused_answer_in_a_row_says_how_to_leave(action: Any, form: str, slot: str) -> None:
    events, said = validate(action, form, slot, [], "I don't know")
    assert {"event": "slot", "name": slot, "value": None} in events
    assert said and not any(WAY_OUT in text for text in said)  # the first miss: only what the form wants

    events, said = validate(action, form, slot, ["I don't know"], "no idea, sorry")
    assert {"event": "slot", "name": slot, "value": None} in events
    assert said[-1].endswith(WAY_OUT) and len(said) == 1, said  # one message: the refusal and the way out


def test_an_accepted_answer_is_not_told_the_way_out() -> None:
    events, said = validate(ValidateClaimStatusForm(), "claim_status_form", "claim_number", ["no idea"], "CL-204117")
    assert {"event": "slot", "name": "claim_number", "value": "CL-204117"} in events
    assert not any(WAY_OUT in text for text in said)


def test_stop_words_are_the_whole_message_only() -> None:
    assert all(wants_to_stop(text) for text in ("stop", "  Cancel.", "FORGET IT!!", "never   mind", "quit"))
    # an account of what happened, or an address, that contains the word is an answer
    assert not any(
        wants_to_stop(text)
        for text in ("the car didn't stop at the light", "cancel my policy", "12 Stop Street", "", None)
    )


def test_answers_are_counted_since_the_form_last_asked_something_else() -> None:
    events = turns("claim_form", "incident_date", ["tomorrow-ish", "dunno"], "when?")
    assert answers_in_a_row(events, "incident_date") == 3
    moved_on = turns("claim_form", "policy_number", ["PX-1"], "PX-88123") + [
        {"event": "slot", "name": "requested_slot", "value": "incident_date"},
        {"event": "user", "text": "yesterday-ish", "parse_data": {}},
    ]
    assert answers_in_a_row(moved_on, "incident_date") == 1


def test_a_verified_customer_without_their_claim_number_is_shown_their_own_claims(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Maria proved who she is; "I don't know my claim number" lists her two claims as buttons (nobody else's),
    and tapping one is the answer. An unverified customer is told only what a claim number looks like. A
    database of its own: the seeded book as shipped, not one where other tests have filed claims for Maria."""
    monkeypatch.setenv("DATABASE_URL", migrated_sqlite(tmp_path / "coverline.db"))
    sender = verified("telegram:777000321", "PX-88123")
    action = ValidateClaimStatusForm()
    for earlier in ([], ["no idea"]):  # and no "say stop" under the buttons: they are the way forward
        events, dispatcher = validated(action, "claim_status_form", "claim_number", earlier, "I don't know it", sender)
        assert {"event": "slot", "name": "claim_number", "value": None} in events
        [message] = dispatcher.messages
        listed = sorted(button["title"].split(":")[0] for button in message["buttons"])
        assert listed == ["CL-204117", "CL-204118"], message["buttons"]
        assert WAY_OUT not in message["text"]
    tapped = message["buttons"][0]["payload"]
    events, _ = validated(action, "claim_status_form", "claim_number", [], tapped, sender)
    assert {"event": "slot", "name": "claim_number", "value": tapped.split('"')[3]} in events

    _, said = validate(action, "claim_status_form", "claim_number", [], "I don't know it", "telegram:777000322")
    assert said == ["Claim numbers look like CL-204117 (CL- and six digits). What's yours?"]
