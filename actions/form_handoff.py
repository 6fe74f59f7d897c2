"""An angry answer or a complaint in the middle of a form goes to a person, as it would outside one.

Outside a form the handoff rules (bot/data/handoff.yml, rules.yml) catch strongly negative messages and
complaints. Inside a form no rule runs: the form takes the message as the answer to its question
(`from_text` mappings), so "This is ridiculous, I've told you three times!!!" was met with "That doesn't
look like a policy number". A rule per form and per intent would take hundreds of lines; instead every
form's validation action checks the message first, through the `handoff_signal` slot that
action_read_handoff_signal has already set this turn. It then drops the text the form took as an answer,
ends the form (`ActiveLoop(None)`, which Rasa's FormAction honours from a validation action) and
hands over with a FollowupAction to action_escalate, which records the escalation with the reason
"negative_sentiment" or "complaint". Answers already given stay in their slots for the agent to see.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.handoff import HANDOFF_SIGNAL_SLOT, NEGATIVE_SENTIMENT, intent_name

ESCALATE = "action_escalate"
COMPLAINT = "complaint"
# Slots where the customer tells what happened to them. The words are negative because the event was
# ("a van crushed the front bumper", "the basement flooded and everything is ruined"), not because the
# customer is upset with us, and the sentiment model scores such accounts close to the handoff
# threshold. A strongly negative answer to "what happened?" is the answer; a complaint still ends the form.
ACCOUNT_OF_EVENTS_SLOTS = frozenset({"incident_description"})
# Requests honoured inside the form by a rule of their own before the form asks again (bot/data/rules.yml): an
# angry "STOP spamming me with offers!!" inside a quote gets what it asks for, and a person would be one more
# message the customer did not want (docs/handoff.md), inside a form as outside one.
HONOURED_IN_THE_FORM = frozenset({"opt_out_marketing"})


def reason_to_leave(tracker: Tracker) -> Optional[str]:
    """Why the customer's newest message should end the running form, or None to carry on."""
    if not (tracker.active_loop or {}).get("name"):
        return None  # the form is being activated by this very message: the handoff rules decide
    intent = intent_name(tracker.latest_message)
    if intent in HONOURED_IN_THE_FORM:
        return None
    describing_events = tracker.get_slot("requested_slot") in ACCOUNT_OF_EVENTS_SLOTS
    if tracker.get_slot(HANDOFF_SIGNAL_SLOT) == NEGATIVE_SENTIMENT and not describing_events:
        return NEGATIVE_SENTIMENT
    if intent == COMPLAINT:
        return COMPLAINT
    return None


def leave_for_a_person(tracker: Tracker) -> List[EventType]:
    requested = tracker.get_slot("requested_slot")
    dropped = [SlotSet(requested, None)] if requested else []  # the angry text is not an answer
    return dropped + [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction(ESCALATE)]


class HandsOverWhenUpset:
    """Mixin for a FormValidationAction (listed before it): checked before any slot is validated."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        if reason_to_leave(tracker) is not None:
            return leave_for_a_person(tracker)
        return await super().run(dispatcher, tracker, domain)  # type: ignore[misc]
