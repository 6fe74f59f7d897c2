"""Handing a conversation to people: when, how urgently, what the customer is told, and pausing the bot.

Four triggers (docs/handoff.md): the customer asks for a person (request_human), a complaint, a strongly
negative message, and a second message in a row the bot could not understand. The first two are
intents, which rules see. The last two are not: rules cannot read the parse data, so
`action_read_handoff_signal`, a custom slot mapping that Rasa runs inside action_extract_slots on every
customer message (even while paused), writes them to the `handoff_signal` slot, and rules with that
slot as a condition send the dialogue to `action_escalate`. The signal itself is computed in
conversations/handoff_signal.py, which the Rasa server also runs in-process for the same slot
(bot/in_process_slot_mappings.py), so this action is only called when Rasa runs without our launcher.

`action_escalate` records one Escalation per open handoff, marks the conversation escalated, tells the
customer what happens next and pauses the bot (ConversationPaused). The inbox resumes it through Rasa's
HTTP API; `action_session_start` keeps it paused across a session expiry while people still have it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import CoverlineAction
from actions.demo_data import insurer
from actions.service_hours import ServiceHours, describe_opening
from conversations import lifecycle
from conversations.escalations import is_repeat_contact, open_escalation
from conversations.handoff_signal import (  # noqa: F401  (re-exported: the handoff's vocabulary)
    FALLBACK_INTENT,
    FRUSTRATION_RISING,
    HANDOFF_SIGNAL_SLOT,
    NEGATIVE_SENTIMENT,
    REPEATED_FALLBACK,
    SENTIMENT_SIGNALS,
    UPSET_AFTER_FAILURE,
    conversation_floor,
    handoff_signal,
    intent_name,
    negative_score,
    negative_threshold,
    signal_slot_value,
    strongly_negative,
)
from settings import current
from storage.models import Conversation

logger = logging.getLogger(__name__)

# The thresholds and what counts as a signal live in conversations/handoff_signal.py (shared with the
# Rasa server, which computes the slot in-process); the SLA the customer is promised is INBOX_SLA_MINUTES
# (the inbox's own setting). A bad value stops the action server at start-up (settings.load_at_startup).

REASON_BY_INTENT = {"request_human": "customer_request", "complaint": "complaint"}
BASE_PRIORITY = {
    "complaint": 1,
    NEGATIVE_SENTIMENT: 1,
    FRUSTRATION_RISING: 1,
    UPSET_AFTER_FAILURE: 2,
    "customer_request": 2,
    "fallback": 3,
}

OPENINGS = {
    "complaint": "I'm sorry about this. I've passed your complaint to a senior member of our service team.",
    NEGATIVE_SENTIMENT: "I'm sorry, I can tell this has been frustrating, so I've asked a person on our "
    "service team to pick this up with you.",
    "customer_request": "Of course. I've asked a person on our service team to take over.",
    FRUSTRATION_RISING: "I'm sorry this isn't going well. I've asked a person on our service team to pick "
    "this up with you.",
    UPSET_AFTER_FAILURE: "I'm sorry I didn't get that. I've asked a person on our service team to help you with this.",
    "fallback": "Sorry, I'm still not understanding you, so I've asked a person on our service team to help.",
}
ALREADY_WITH_PEOPLE = "A person on our service team already has your conversation."


# -- configuration ----------------------------------------------------------------------------------


def sla_minutes() -> Dict[int, int]:
    """Priority → minutes to a first reply: the inbox's SLA, read by the same parser."""
    return dict(current().handoff.sla_minutes)


# -- when to hand off -------------------------------------------------------------------------------


def handoff_reason(intent: str, signal: Optional[str]) -> str:
    """The Escalation reason: what the customer asked for first, then what the bot noticed."""
    if intent in REASON_BY_INTENT:
        return REASON_BY_INTENT[intent]
    if signal in SENTIMENT_SIGNALS:
        return signal
    if signal == REPEATED_FALLBACK or intent == FALLBACK_INTENT:
        return "fallback"
    return "customer_request"  # e.g. a "Talk to a person" button sent with another intent


def escalation_priority(
    reason: str,
    sentiment: Optional[Mapping[str, Any]] = None,
    repeat_contact: bool = False,
    threshold: Optional[float] = None,
) -> int:
    """1 = urgent, 3 = low. Complaints and angry customers first; an angry message or a customer coming
    back within REPEAT_CONTACT_DAYS each raise the reason's level by one (the inbox adds waiting time)."""
    priority = BASE_PRIORITY.get(reason, 2)
    if strongly_negative(sentiment, threshold):
        priority -= 1
    if repeat_contact:
        priority -= 1
    return max(1, min(3, priority))


# -- recording --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Handoff:
    """What was recorded: the escalation's reason and priority, and whether it is a new one."""

    reason: str
    priority: int
    new: bool


def record_handoff(
    session: Session,
    conversation: Conversation,
    reason: str,
    sentiment: Optional[Mapping[str, Any]],
    note: str,
    now: datetime,
) -> Handoff:
    """One open Escalation per conversation: a second trigger while people have it only makes it more
    urgent (never less), so the queue shows one item with the customer's worst moment. The repeat-contact
    bump applies to a new escalation only (an open one would count as its own earlier contact)."""
    if open_escalation(session, conversation.id) is not None:
        priority = escalation_priority(reason, sentiment)
    else:
        priority = escalation_priority(reason, sentiment, is_repeat_contact(session, conversation, now))
    escalation, new = lifecycle.escalate(session, conversation, reason, priority, note)
    return Handoff(escalation.reason, escalation.priority, new=new)


# -- what the customer is told ----------------------------------------------------------------------


def _wait(minutes: int) -> str:
    if minutes % 60 == 0:
        hours = minutes // 60
        return "an hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"


def what_happens_next(handoff: Handoff, now: datetime, facts: Optional[Mapping[str, Any]] = None) -> str:
    """Who answers, where, how soon (the SLA within opening hours, the next opening outside them), and
    the 24/7 phone lines for what cannot wait."""
    facts = facts or insurer()
    phone = facts["phone"]
    opening = OPENINGS.get(handoff.reason, OPENINGS["customer_request"]) if handoff.new else ALREADY_WITH_PEOPLE
    keep_writing = "You can keep writing here meanwhile; they'll see everything you send."
    hours = ServiceHours.parse(facts["hours"])
    if hours.known and hours.is_open(now):
        sla = sla_minutes()
        wait = _wait(sla.get(handoff.priority, max(sla.values())))
        return (
            f"{opening} They'll reply right here in this chat, usually within {wait}. {keep_writing} "
            f"If it's urgent, you can also call us on {phone['service']}."
        )
    next_opening = hours.next_opening(now) if hours.known else None
    when = f"when we open {describe_opening(next_opening, now)}" if next_opening else "during our opening hours"
    return (
        f"{opening} Our service team is away right now, so a person will reply right here in this chat {when} "
        f"({facts['hours']}). {keep_writing} For a claim or roadside help, people answer 24/7 on "
        f"{phone['claims_24h']} (claims) and {phone['roadside_24h']} (roadside); our service line "
        f"{phone['service']} opens with the team."
    )


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


# -- actions ----------------------------------------------------------------------------------------


class ActionReadHandoffSignal(Action):
    """Custom slot mapping for `handoff_signal`, run by Rasa inside action_extract_slots every turn."""

    def name(self) -> Text:
        return "action_read_handoff_signal"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        signal = signal_slot_value(handoff_signal(tracker.latest_message, tracker.events))
        if signal == tracker.get_slot(HANDOFF_SIGNAL_SLOT):
            return []  # an unchanged slot adds no event, so ordinary turns look exactly as before
        return [SlotSet(HANDOFF_SIGNAL_SLOT, signal)]


class ActionEscalate(CoverlineAction):
    """The handoff: record it, tell the customer what happens next, pause the bot."""

    clock: Callable[[], datetime] = staticmethod(_utc_now)

    def name(self) -> Text:
        return "action_escalate"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        message = tracker.latest_message or {}
        reason = handoff_reason(intent_name(message), handoff_signal(message, tracker.events))
        now = self.clock()
        with self.conversation_session(tracker) as session:
            conversation = session.get(Conversation, tracker.sender_id)
            handoff = record_handoff(
                session, conversation, reason, message.get("sentiment"), message.get("text") or "", now
            )
        dispatcher.utter_message(text=what_happens_next(handoff, now), answer_source="handoff")
        # Rasa stops predicting after the pause; NLU still runs and customer messages are still stored
        # (rasa/core/processor.py: _run_prediction_loop checks _should_handle_message → is_paused). So
        # Rasa never gets to predict action_listen: we log it ourselves, or after a resume the next
        # message would follow action_escalate, match no rule ("intent" rules follow action_listen) and
        # end in action_default_fallback, whose rewind undoes the customer's message.
        return [ConversationPaused(), ActionExecuted("action_listen")]


class ActionSessionStart(Action):
    """Rasa's session start, except that a conversation people still have stays paused.

    A new session (after `session_expiration_time` without messages) replays `SessionStarted`, which
    resets the tracker and with it the paused flag (rasa/shared/core/trackers.py `_reset`): without this,
    a customer waiting overnight for a person would find the bot answering again.
    """

    def name(self) -> Text:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        events: List[Dict[Text, Any]] = [SessionStarted()]
        if (domain.get("session_config") or {}).get("carry_over_slots_to_new_session"):
            events += [SlotSet(name, value) for name, value in tracker.slots.items() if value is not None]
        if lifecycle.new_session_stays_paused(tracker.sender_id):
            events.append(ConversationPaused())
        events.append(ActionExecuted("action_listen"))
        return events
