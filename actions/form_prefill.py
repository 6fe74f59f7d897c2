"""A form does not ask what the customer said in the message that opened it.

"Tell me how to change my email" opens the update form; the entity extractor may or may not tag "email" in it,
and when it does not, the customer gives a policy number and is then asked "Which do you want to update:
address, phone, email or name?". "Yesterday a rock chipped my windshield, I need to file a claim" was asked
"What happened?" and "When did it happen?". The keyword readers in actions/parsing.py, which already read the
answers to those questions, read the opening message too.

Rasa calls a form's validation action at activation only when a slot was filled then (the form is not active yet
in that call: the opening message is the newest one); otherwise the first call comes with the answer to the first
question, and the opening message is the customer message before the form's latest activation in the events. A
slot is filled from it only while empty, only when that message carried the form's own trigger intent, and the
value goes through the slot's validator like any answer.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Optional, Text

from rasa_sdk import Tracker

Reader = Callable[[str], Optional[Any]]


def opening_message(events: Iterable[Dict[str, Any]], form: str) -> Optional[Dict[str, Any]]:
    """The customer message that activated `form` the last time it was activated, or None."""
    last_user: Optional[Dict[str, Any]] = None
    opening: Optional[Dict[str, Any]] = None
    for event in events:
        kind = event.get("event")
        if kind == "user":
            last_user = event
        elif kind == "active_loop" and event.get("name") == form:
            opening = last_user
    return opening


def prefill(tracker: Tracker, form: str, trigger_intent: str, slot: Text, read: Reader) -> Dict[Text, Any]:
    """`{slot: value}` read from the form's opening message, or `{}` to leave the slot as it is."""
    if tracker.get_slot(slot) is not None:
        return {}
    if (tracker.active_loop or {}).get("name") == form:
        message = opening_message(tracker.events or [], form)
    else:  # being activated by the newest message
        latest = tracker.latest_message or {}
        message = {"text": latest.get("text"), "parse_data": latest}
    if message is None:
        return {}
    intent = ((message.get("parse_data") or {}).get("intent") or {}).get("name")
    if intent != trigger_intent:
        return {}
    value = read(str(message.get("text") or ""))
    return {slot: value} if value is not None else {}
