"""A customer's own account: balance look-up and requests to change personal details.

Both only for a verified customer, and only on their own policies (actions/verification.py).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import parsing
from actions.base import CoverlineAction, clear_slots, money
from actions.demo_data import insurer
from actions.form_exits import OffersAWayOut
from actions.form_handoff import HandsOverWhenUpset
from actions.form_prefill import prefill
from actions.verification import not_on_your_account, require_verified_customer, verified_customer
from storage.engine import session_scope
from storage.models import ChangeRequest
from storage.references import new_reference
from storage.verification import customer_policies, owned_policy

INFO_SLOTS = ("policy_number", "info_field", "new_value")


def balance_text(policy: Any, today: date) -> str:
    """What a customer wants to know in one breath: what is due, by when, and what we last received."""
    parts = [f"Policy {policy.number} ({policy.product}, {policy.status})"]
    if float(policy.amount_due) > 0 and policy.next_due_date is not None:
        overdue = policy.next_due_date < today
        when = f"{policy.next_due_date:%B %d, %Y}"
        parts.append(f"has {money(policy.amount_due)} {'overdue since' if overdue else 'due on'} {when}.")
        if overdue:
            grace = insurer()["billing"]["grace_period_days"]
            parts.append(f"You have a {grace}-day grace period from the due date; paying in the app posts instantly.")
    else:
        parts.append("has nothing due right now.")
    if policy.last_payment_date is not None:
        parts.append(
            f"Your last payment of {money(policy.last_payment_amount)} was received on "
            f"{policy.last_payment_date:%B %d, %Y}."
        )
    return " ".join(parts)


class ActionCheckBalance(CoverlineAction):
    def name(self) -> Text:
        return "action_check_balance"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        customer_id, events = require_verified_customer(dispatcher, tracker, "balance")
        if customer_id is None:
            return events
        number = parsing.policy_number(tracker.get_slot("policy_number"))
        today = date.today()
        with session_scope() as session:
            if number is None:  # "how much do I owe?": every policy they hold
                text = "  \n".join(balance_text(policy, today) for policy in customer_policies(session, customer_id))
            else:
                policy = owned_policy(session, customer_id, number)
                if policy is None:
                    dispatcher.utter_message(text=not_on_your_account("policy", number), answer_source="lookup")
                    return events + clear_slots("policy_number")
                text = balance_text(policy, today)
        dispatcher.utter_message(text=text, answer_source="lookup")
        return events


class ValidateUpdateInfoForm(HandsOverWhenUpset, OffersAWayOut, FormValidationAction):
    def name(self) -> Text:
        return "validate_update_info_form"

    def extract_info_field(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return prefill(tracker, "update_info_form", "update_personal_info", "info_field", parsing.info_field)

    def extract_new_value(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """An email address or phone number typed alone is the answer, whatever intent the model gave it.

        The form takes no text answer from a message read as a greeting or a thank-you (ignored_intents) or
        as a refusal, and the classifier reads some addresses that way: "hi@coverline.io" as greet (0.999),
        "jo.okafor@newmail.example" as greet (0.92). The customer was greeted and asked again, forever."""
        if tracker.get_slot("requested_slot") != "new_value" or tracker.get_slot("new_value") is not None:
            return {}
        text = str((tracker.latest_message or {}).get("text") or "").strip()
        value = parsing.contact_value(tracker.get_slot("info_field"), text)
        return {"new_value": value} if value else {}

    def validate_policy_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        number = parsing.policy_number(str(value or ""))
        if number is None:
            dispatcher.utter_message(
                text="I need the policy number, like PX-88123 (PX- and five digits, on your ID card or in the app)."
            )
            return {"policy_number": None}
        with session_scope() as session:
            customer_id = verified_customer(session, tracker)
            # Unverified: only the shape is checked here; who holds it is checked once they are verified.
            foreign = customer_id is not None and owned_policy(session, customer_id, number) is None
        if foreign:
            dispatcher.utter_message(text=not_on_your_account("policy", number))
            return {"policy_number": None}
        return {"policy_number": number}

    def validate_info_field(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        field = parsing.info_field(str(value or ""))
        if field is None:
            dispatcher.utter_message(text="I can update your address, phone, email or name. Which one?")
            return {"info_field": None}
        return {"info_field": field}

    def validate_new_value(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text, field = str(value or "").strip(), tracker.get_slot("info_field")
        cleaned, problem = text, None
        if field == "email":
            cleaned = parsing.email(text)
            problem = "That doesn't look like an email address (like name@example.com)."
        elif field == "phone":
            cleaned = parsing.phone(text)
            problem = "Please give a 10-digit US phone number, like 617-555-0134."
        elif field == "address":
            ok = any(c.isdigit() for c in text) and len(text.split()) >= 3
            cleaned, problem = (text if ok else None), "Please give the full address: number, street, city and ZIP."
        elif field == "name":
            ok = len(text.split()) >= 2 and not any(c.isdigit() for c in text)
            cleaned, problem = (text if ok else None), "Please give the full name: first and last name."
        if not cleaned:
            dispatcher.utter_message(text=problem or "Sorry, I couldn't use that value. Could you type it again?")
            return {"new_value": None}
        return {"new_value": cleaned[:300]}


def info_problem(tracker: Tracker) -> Optional[str]:
    """What is wrong with the change's slots, by the form's own validators, or None: the slots handed
    to the submit action are no proof that the form ran (a forged or replayed call)."""
    form = ValidateUpdateInfoForm()
    for slot in INFO_SLOTS:
        value, dispatcher = tracker.get_slot(slot), CollectingDispatcher()
        if value is None:
            return f"the {slot.replace('_', ' ')} is missing."
        if getattr(form, f"validate_{slot}")(value, dispatcher, tracker, {}).get(slot) is None:
            said = " ".join(str(m.get("text") or "") for m in dispatcher.messages).strip()
            return said or f"the {slot.replace('_', ' ')} is not valid."
    return None


class ActionSubmitInfoUpdate(CoverlineAction):
    def name(self) -> Text:
        return "action_submit_info_update"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        customer_id, events = require_verified_customer(dispatcher, tracker, "update_info", INFO_SLOTS)
        if customer_id is None:
            return events
        problem = info_problem(tracker)
        if problem is not None:
            dispatcher.utter_message(text=f"I couldn't record that change: {problem} Nothing was changed.")
            return events + clear_slots(*INFO_SLOTS)
        field, new_value = tracker.get_slot("info_field"), tracker.get_slot("new_value")
        with self.conversation_session(tracker) as session:
            policy = owned_policy(session, customer_id, parsing.policy_number(tracker.get_slot("policy_number")))
            if policy is None:  # the validators refuse others' policies; a concurrent change is the only way here
                dispatcher.utter_message(response="utter_ask_rephrase")
                return events + clear_slots(*INFO_SLOTS)
            request = ChangeRequest(
                reference=new_reference(session, ChangeRequest, "CR"),
                policy=policy,
                field=field,
                new_value=new_value,
                conversation_id=tracker.sender_id,
            )
            session.add(request)
            session.flush()
            reference, number = request.reference, policy.number
        dispatcher.utter_message(
            text=f"Got it: your new {field} for policy {number} is '{new_value}'. Request {reference} is with our "
            "service team, who confirm it with you using the contact details we already have before it takes "
            "effect (within 1 business day). New documents follow automatically.",
            answer_source="action",
        )
        return events + clear_slots(*INFO_SLOTS)
