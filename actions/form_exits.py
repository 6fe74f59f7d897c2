"""A way out of a form for a customer whose answer the form keeps refusing.

Inside a form every message is read as the answer to its question (`from_text` mappings), so a customer who
does not have their claim number, or writes "stop", heard "Claim numbers look like CL-204117. What's yours?"
for ever: "stop" is no intent the NLU knows (it read it as out_of_scope), "cancel" reads as cancel_policy, "I
don't know my claim number" as contact_info, and only "no" / "never mind" (deny) and asking for a person left
the form. Seen live over REST in the claim-status form.

Two things, for every form whose validation action mixes this in (before FormValidationAction):
- a message that is only a word for stopping ("stop", "cancel", "quit", "forget it" …) ends the form as deny
  does (`action_stop_form`: "OK, I've stopped there and saved nothing"), the way form_handoff.py ends one for a
  person: none of those is an answer to any question a form asks;
- from the second refused answer in a row to the same question, the refusal says how to leave.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

STOP_FORM = "action_stop_form"
STOP_WORDS = frozenset(
    {
        "stop",
        "stop it",
        "stop this",
        "please stop",
        "cancel",
        "cancel it",
        "cancel that",
        "cancel this",
        "quit",
        "exit",
        "abort",
        "forget it",
        "forget about it",
        "never mind",
        "nevermind",
        "leave it",
    }
)
WAY_OUT = 'If you don\'t have it to hand, say "stop" and I\'ll leave it there, or "agent" to talk to a person.'
_NOT_WORDS = re.compile(r"[^a-z ]+")


def wants_to_stop(text: Any) -> bool:
    """The whole message is a word for stopping, whatever its case, punctuation or spacing."""
    words = " ".join(_NOT_WORDS.sub(" ", str(text or "").lower()).split())
    return words in STOP_WORDS


def answers_in_a_row(events: List[Dict[Text, Any]], slot: Text) -> int:
    """How many customer messages came after the form began asking for `slot`, in the run of asks for it that the
    newest message answers (an accepted answer moves the form to another question, or ends it)."""
    seen = since_asked = 0
    for event in reversed(events):
        kind = event.get("event")
        if kind == "user":
            seen += 1
        elif kind == "active_loop":
            break
        elif kind == "slot" and event.get("name") == "requested_slot":
            if event.get("value") == slot:
                since_asked = seen
            elif event.get("value") is not None:
                break
    return since_asked


def refused(events: List[Dict[Text, Any]], slot: Text) -> bool:
    return any(e.get("event") == "slot" and e.get("name") == slot and e.get("value") is None for e in events)


def stop_the_form(tracker: Tracker) -> List[EventType]:
    requested = tracker.get_slot("requested_slot")
    dropped = [SlotSet(requested, None)] if requested else []  # "stop" is not an answer
    return dropped + [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction(STOP_FORM)]


class OffersAWayOut:
    """Mixin for a FormValidationAction (listed before it)."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        running = (tracker.active_loop or {}).get("name")
        if running and wants_to_stop((tracker.latest_message or {}).get("text")):
            return stop_the_form(tracker)
        events = await super().run(dispatcher, tracker, domain)  # type: ignore[misc]
        slot = tracker.get_slot("requested_slot")
        if running and slot and refused(events, slot) and answers_in_a_row(tracker.events, slot) >= 2:
            said = dispatcher.messages[-1] if dispatcher.messages else None
            if said and said.get("buttons"):
                pass  # the refusal offers the answers to tap (a verified customer's own claims)
            elif said and said.get("text"):
                said["text"] = f"{said['text']} {WAY_OUT}"
            else:
                dispatcher.utter_message(text=WAY_OUT)
        return events
