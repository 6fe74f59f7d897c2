"""Knowing who the customer is before anything of their account is shown or changed.

Every action that reads or writes a customer's account (balance, claim progress, claim filing, changes
to personal details, a policy's own deductible) first calls `require_verified_customer`. The answer
comes from SQL (storage/verification.py), never from a slot: a conversation is verified when the
customer gave a policy number and the policyholder's date of birth in `verification_form`, or when the
insurer's logged-in page vouched for them with a signed token in the web chat's customData
(actions/customer_token.py). Until then the action says why it needs to check, remembers what was asked
in `account_request` and starts the form; when the form ends, the same action runs again
(FollowupAction, mirrored by the rules in bot/data/verification.yml) and the customer gets what they
asked for. Tries are limited per conversation and per policy number; past the limit the customer is
told to call or offered a person. The date of birth is never repeated back.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

from dateutil import parser as date_parser
from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions import parsing
from actions.customer_token import METADATA_KEY, TokenRefused, read_customer_token, token_secret
from actions.form_exits import OffersAWayOut
from actions.form_handoff import HandsOverWhenUpset
from storage.engine import session_scope
from storage.verification import (
    Outcome,
    customer_exists,
    is_locked,
    record_token_refusal,
    record_token_success,
    try_policy_and_birth_date,
    verified_customer_id,
)

logger = logging.getLogger(__name__)

FORM = "verification_form"
REQUEST_SLOT = "account_request"
POLICY_SLOT = "verification_policy_number"
BIRTH_DATE_SLOT = "date_of_birth"
CHECKED = "checked"  # what the date-of-birth slot holds once judged: never the date itself
# What the customer asked for, and the action that answers it once they are verified.
RESUME_ACTIONS = {
    "balance": "action_check_balance",
    "claim_status": "action_claim_status",
    "update_info": "action_submit_info_update",
    "file_claim": "action_submit_claim",
    "marketing_opt_out": "action_opt_out_marketing",
}
# Slots the verification form may change; anything else set while it runs is put back (below).
_OWN_SLOTS = frozenset({POLICY_SLOT, BIRTH_DATE_SLOT, "requested_slot", "handoff_signal"})
_MONTH_NAME = re.compile(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b", re.IGNORECASE)
_ISO = re.compile(r"\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\b")
_NUMERIC = re.compile(r"\b(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})\b")
_YEAR = re.compile(r"\b(19\d{2}|20\d{2})\b")
_DAY = re.compile(r"\b(\d{1,2})(st|nd|rd|th)?\b")
MAX_AGE_YEARS = 120


# -- reading a date of birth ------------------------------------------------------------------------


def _plausible(day: date, today: date) -> Optional[date]:
    if day > today or day.year < today.year - MAX_AGE_YEARS:
        return None
    return day


def _from_numbers(year: int, month: int, day: int, today: date) -> Optional[date]:
    try:
        return _plausible(date(year, month, day), today)
    except ValueError:
        return None


def _full_year(two_or_four: str, today: date) -> int:
    year = int(two_or_four)
    if len(two_or_four) == 4:
        return year
    return 2000 + year if 2000 + year <= today.year else 1900 + year


def birth_date(text: Optional[str], today: Optional[date] = None) -> Optional[date]:
    """A date of birth as customers type it: 1985-03-14, 03/14/1985 (US order; 14/03/1985 when the
    first number cannot be a month), 3-14-85, March 14 1985, 14 March 1985. The year is required: a
    birthday without it proves nothing. None for anything else, a future date or an age over 120."""
    today = today or date.today()
    cleaned = (text or "").strip()
    if not cleaned or len(cleaned) > 100:
        return None
    match = _ISO.search(cleaned)
    if match:
        return _from_numbers(int(match.group(1)), int(match.group(2)), int(match.group(3)), today)
    match = _NUMERIC.search(cleaned)
    if match:
        first, second, year = int(match.group(1)), int(match.group(2)), _full_year(match.group(3), today)
        month, day = (second, first) if first > 12 >= second else (first, second)
        return _from_numbers(year, month, day, today)
    year_match = _YEAR.search(cleaned)
    if not (_MONTH_NAME.search(cleaned) and year_match):
        return None
    without_year = cleaned[: year_match.start()] + cleaned[year_match.end() :]
    if not _DAY.search(without_year):
        return None  # "March 1985" names no day
    try:
        parsed = date_parser.parse(cleaned, fuzzy=True, default=date_parser.parse("2000-01-01")).date()
    except (ValueError, OverflowError):
        return None
    return _plausible(parsed, today)


# -- who the customer is -----------------------------------------------------------------------------


def _latest_token(tracker: Tracker) -> Optional[Any]:
    """The newest customer token the conversation's messages carried (rasa-webchat sends customData
    with every message; a REST integration may send it once)."""
    latest = (tracker.latest_message or {}).get("metadata") or {}
    if isinstance(latest, dict) and latest.get(METADATA_KEY):
        return latest[METADATA_KEY]
    for event in reversed(tracker.events or []):
        metadata = event.get("metadata") if event.get("event") == "user" else None
        if isinstance(metadata, dict) and metadata.get(METADATA_KEY):
            return metadata[METADATA_KEY]
    return None


def _customer_from_token(session: Session, tracker: Tracker) -> Optional[int]:
    """Verify the conversation from the logged-in page's token, if it carries a good one."""
    token = _latest_token(tracker)
    if token is None:
        return None
    try:
        secret = token_secret()
    except ValueError as error:  # a SettingsError: the action server normally stops on it at start-up
        logger.error("web chat tokens are not accepted: %s", error)
        return None
    if secret is None:
        return None
    try:
        customer_id = read_customer_token(token, secret, conversation_id=tracker.sender_id)
    except TokenRefused as refused:
        record_token_refusal(session, tracker.sender_id, refused.reason)
        return None
    if not customer_exists(session, customer_id):
        record_token_refusal(session, tracker.sender_id, "unknown_customer")
        return None
    record_token_success(session, tracker.sender_id, customer_id)
    return customer_id


def verified_customer(session: Session, tracker: Tracker) -> Optional[int]:
    """The customer this conversation has proved to be, or None. For any action that personalises."""
    return verified_customer_id(session, tracker.sender_id) or _customer_from_token(session, tracker)


def require_verified_customer(
    dispatcher: CollectingDispatcher, tracker: Tracker, request: str, request_slots: Sequence[str] = ()
) -> Tuple[Optional[int], List[EventType]]:
    """The verified customer's id, or None and the events that start verification (or, past the limit
    or straight after a verification that did not succeed, a reply that sends the customer to a person
    and forgets the request's `request_slots`, so asking again starts afresh)."""
    policy = parsing.policy_number(tracker.get_slot("policy_number"))
    with session_scope() as session:
        customer_id = verified_customer(session, tracker)
        if customer_id is not None:
            return customer_id, [SlotSet(REQUEST_SLOT, None)] if tracker.get_slot(REQUEST_SLOT) else []
        locked = is_locked(session, tracker.sender_id, policy)
    if locked or tracker.latest_action_name == FORM:
        dispatcher.utter_message(response="utter_verification_locked")
        forget = (REQUEST_SLOT, POLICY_SLOT, BIRTH_DATE_SLOT, *request_slots)
        return None, [SlotSet(name, None) for name in forget]
    dispatcher.utter_message(response="utter_verification_intro")
    return None, [
        SlotSet(REQUEST_SLOT, request),
        SlotSet(POLICY_SLOT, policy),
        SlotSet(BIRTH_DATE_SLOT, None),
        FollowupAction(FORM),
    ]


def not_on_your_account(kind: str, number: str) -> str:
    """The same words for someone else's policy or claim as for one that does not exist."""
    where = "your policies" if kind == "claim" else "your account"
    return (
        f"I can't find {kind} {number} on {where}, so I can't share anything about it. Please check the "
        "number; if it belongs to someone else, they can ask us themselves."
    )


# -- the form ----------------------------------------------------------------------------------------


def _values_before_this_message(events: List[Dict[str, Any]]) -> Tuple[Dict[str, Any], int]:
    """Every slot's value just before the customer's newest message, and where that message is."""
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    values: Dict[str, Any] = {}
    for event in events[: max(last_user, 0)]:
        kind = event.get("event")
        if kind == "slot":
            values[event.get("name")] = event.get("value")
        elif kind in ("restart", "session_started", "reset_slots"):
            values.clear()
    return values, last_user


def keep_other_answers(tracker: Tracker) -> List[EventType]:
    """Put back the slots the customer's answer to the form changed that are not the form's own.

    Entity mappings fill slots whatever form is running: a date of birth the entity extractor reads as
    `incident_date`, or another policy number, would silently replace the answers of the claim or
    change the customer is being verified for. Only when the form runs on an answer (no action ran
    since the customer's message): when an account action has just started it, the message was the
    request itself, and what it set (the policy number asked about, `account_request`) must stay."""
    events = tracker.events or []
    values, last_user = _values_before_this_message(events)
    since_message = events[last_user + 1 :]
    if last_user < 0 or any(e.get("event") == "action" for e in since_message):
        return []
    changed = {e.get("name") for e in since_message if e.get("event") == "slot" and e.get("name") not in _OWN_SLOTS}
    return [SlotSet(name, values.get(name)) for name in sorted(changed) if tracker.get_slot(name) != values.get(name)]


class ValidateVerificationForm(HandsOverWhenUpset, OffersAWayOut, FormValidationAction):
    def name(self) -> Text:
        return "validate_verification_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        events = await super().run(dispatcher, tracker, domain)
        if any(e.get("event") == "followup" for e in events):
            return events  # handed to a person (HandsOverWhenUpset), or "stop" (OffersAWayOut)
        put_back = keep_other_answers(tracker)
        policy = next(
            (e.get("value") for e in reversed(events) if e.get("event") == "slot" and e.get("name") == POLICY_SLOT),
            tracker.get_slot(POLICY_SLOT),
        )
        with session_scope() as session:
            finished = verified_customer_id(session, tracker.sender_id) is not None or is_locked(
                session, tracker.sender_id, parsing.policy_number(policy)
            )
        if not finished:
            return put_back + events
        resume = RESUME_ACTIONS.get(tracker.get_slot(REQUEST_SLOT) or "")
        return put_back + events + [SlotSet("requested_slot", None)] + ([FollowupAction(resume)] if resume else [])

    def validate_verification_policy_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if not str(value or "").strip():
            # nothing was answered: an account action has just started the form with no policy number in the
            # request ("what's my balance?"), and the form asks for one next. Refusing it here greeted every
            # such customer with "That doesn't look like a policy number" before the question (seen live).
            return {POLICY_SLOT: None}
        number = parsing.policy_number(str(value))
        if number is None:
            dispatcher.utter_message(
                text="That doesn't look like a policy number. They look like PX-88123 (PX- and five digits)."
            )
        return {POLICY_SLOT: number}

    def validate_date_of_birth(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value == CHECKED:
            return {BIRTH_DATE_SLOT: CHECKED}
        policy = parsing.policy_number(tracker.get_slot(POLICY_SLOT))
        born = birth_date(str(value or ""))
        if policy is None:
            return {BIRTH_DATE_SLOT: None}
        if born is None:
            dispatcher.utter_message(
                text="Please type the date of birth with the year, for example 07/21/1980 or July 21, 1980."
            )
            return {BIRTH_DATE_SLOT: None}
        result = try_policy_and_birth_date(tracker.sender_id, policy, born)
        if result.outcome is Outcome.VERIFIED:
            dispatcher.utter_message(text="Thank you, that's confirmed.")
            return {BIRTH_DATE_SLOT: CHECKED}
        if result.outcome is Outcome.REFUSED:
            return {BIRTH_DATE_SLOT: None}
        if result.locked:
            dispatcher.utter_message(text="Sorry, that doesn't match our records.")
            return {BIRTH_DATE_SLOT: None}  # the policy number stays, so the form sees the lock and ends
        tries = "1 more try" if result.tries_left == 1 else f"{result.tries_left} more tries"
        dispatcher.utter_message(
            text=f"Sorry, that doesn't match our records. Let's try again ({tries}): please check both the "
            "policy number and the date of birth."
        )
        return {BIRTH_DATE_SLOT: None, POLICY_SLOT: None}
