"""Filing a claim (claim_form) and looking one up (claim_status_form).

Anyone may start a claim; it is filed, and a claim's progress shown, only for a verified customer and
on their own policies (actions/verification.py). Until the customer is verified the forms check only
the shape of a number, so they reveal nothing about a policy or a claim.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import select

from actions import parsing
from actions.base import CoverlineAction, clear_slots
from actions.demo_data import insurer
from actions.form_exits import OffersAWayOut
from actions.form_handoff import HandsOverWhenUpset
from actions.form_prefill import prefill
from actions.recommend import offer_content
from actions.verification import REQUEST_SLOT, not_on_your_account, require_verified_customer, verified_customer
from storage.engine import session_scope
from storage.models import Claim, Policy
from storage.references import new_reference
from storage.verification import owned_claim, owned_policy

INCIDENT_LABELS = {
    "collision": "a collision",
    "theft": "a theft",
    "water_damage": "water damage",
    "storm": "storm damage",
    "fire": "a fire",
    "vandalism": "vandalism",
    "glass": "glass damage",
    "injury": "an injury",
    "lost_baggage": "lost baggage",
    "trip_cancellation": "a trip cancellation",
    "other": "an incident",
}

STATUS_TEXT = {
    "received": "has been received and is waiting for an adjuster",
    "under_review": "is being reviewed by an adjuster",
    "waiting_for_documents": "is waiting for documents from you",
    "approved": "has been approved",
    "denied": "was not approved",
    "closed": "is closed",
}

CLAIM_SLOTS = ("policy_number", "incident_type", "incident_date", "incident_description")


def verified_policy(tracker: Tracker, number: Optional[str]) -> Tuple[bool, Optional[Policy]]:
    """(is the conversation verified, the policy if the verified customer holds it)."""
    with session_scope() as session:
        customer_id = verified_customer(session, tracker)
        if customer_id is None:
            return False, None
        return True, owned_policy(session, customer_id, number)


class ValidateClaimForm(HandsOverWhenUpset, OffersAWayOut, FormValidationAction):
    def name(self) -> Text:
        return "validate_claim_form"

    def extract_incident_type(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return prefill(tracker, "claim_form", "file_claim", "incident_type", parsing.incident_type)

    def extract_incident_date(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return prefill(tracker, "claim_form", "file_claim", "incident_date", parsing.date_in_passing)

    def validate_policy_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        number = parsing.policy_number(str(value or ""))
        if number is None:
            dispatcher.utter_message(
                text="That doesn't look like a policy number. They look like PX-88123 (PX- and five digits)."
            )
            return {"policy_number": None}
        verified, policy = verified_policy(tracker, number)
        if verified:  # unverified: checked once they are verified, before the claim is filed
            if policy is None:
                dispatcher.utter_message(text=not_on_your_account("policy", number))
                return {"policy_number": None}
            if not policy.is_active_on(date.today()):
                phone = insurer()["phone"]["claims_24h"]
                dispatcher.utter_message(
                    text=f"Policy {number} is {policy.status} (not active today), so I can't open a claim on it "
                    f"here. If the incident happened while it was active, our claims team can help at {phone}. "
                    "Is there another policy number?"
                )
                return {"policy_number": None}
        return {"policy_number": number}

    def validate_incident_type(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        kind = parsing.incident_type(str(value or ""))
        if kind is None:
            dispatcher.utter_message(
                text="Sorry, I didn't catch what kind of incident it was. Pick one of the options, or say "
                "e.g. 'collision', 'theft', 'water damage'."
            )
            return {"incident_type": None}
        return {"incident_type": kind}

    def validate_incident_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        when = parsing.incident_date(str(value or ""))
        if when is None:
            dispatcher.utter_message(text="I couldn't read that date. Try something like 2026-03-14 or 'last Friday'.")
            return {"incident_date": None}
        if when > date.today():
            dispatcher.utter_message(
                text=f"{when:%B %d, %Y} is in the future: a claim is for something that already happened. "
                "When did it happen?"
            )
            return {"incident_date": None}
        _, policy = verified_policy(tracker, parsing.policy_number(tracker.get_slot("policy_number")))
        if policy is not None and not policy.start_date <= when <= policy.end_date:
            dispatcher.utter_message(
                text=f"Policy {policy.number} covers {policy.start_date:%B %d, %Y} to "
                f"{policy.end_date:%B %d, %Y}, and {when:%B %d, %Y} is outside that period. "
                "Could you check the date?"
            )
            return {"incident_date": None}
        return {"incident_date": when.isoformat()}

    def validate_incident_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = str(value or "").strip()
        if len(text.split()) < 3:
            dispatcher.utter_message(
                text="Could you tell me a little more, in a sentence or two? It helps the adjuster start quickly."
            )
            return {"incident_description": None}
        return {"incident_description": text[:2000]}


def claim_problem(tracker: Tracker) -> Optional[str]:
    """What is wrong with the claim's slots, by the form's own validators, or None.

    The submit action re-checks because the slots it is handed are not proof that the form ran: a
    tracker can reach it without the form (a story gone wrong, a replayed or forged call), and a claim is
    a legal record. The first validator that refuses decides, with the words it would say in the form."""
    form = ValidateClaimForm()
    for slot in CLAIM_SLOTS:
        value = tracker.get_slot(slot)
        dispatcher = CollectingDispatcher()
        if value is None:
            return f"the {slot.replace('_', ' ')} is missing."
        if getattr(form, f"validate_{slot}")(value, dispatcher, tracker, {}).get(slot) is None:
            said = " ".join(str(m.get("text") or "") for m in dispatcher.messages).strip()
            return said or f"the {slot.replace('_', ' ')} is not valid."
    return None


class ActionSubmitClaim(CoverlineAction):
    def name(self) -> Text:
        return "action_submit_claim"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        # Unverified, the validators check only what needs no account (a number's shape, a future date),
        # so a claim that cannot be filed is refused before the customer is asked who they are.
        problem = claim_problem(tracker)
        if problem is not None:
            dispatcher.utter_message(
                text=f"I couldn't file that claim: {problem} Nothing was filed; let's start it again when you're ready."
            )
            return clear_slots(REQUEST_SLOT, *CLAIM_SLOTS)
        customer_id, events = require_verified_customer(dispatcher, tracker, "file_claim", CLAIM_SLOTS)
        if customer_id is None:
            return events
        with self.conversation_session(tracker) as session:
            policy = owned_policy(session, customer_id, parsing.policy_number(tracker.get_slot("policy_number")))
            if policy is None:  # the validators refuse others' policies; a concurrent change is the only way here
                dispatcher.utter_message(response="utter_ask_rephrase")
                return events + clear_slots(*CLAIM_SLOTS)
            claim = Claim(
                reference=new_reference(session, Claim, "CL"),
                policy=policy,
                incident_type=tracker.get_slot("incident_type"),
                incident_date=date.fromisoformat(tracker.get_slot("incident_date")),
                description=tracker.get_slot("incident_description"),
                status="received",
                conversation_id=tracker.sender_id,
            )
            session.add(claim)
            session.flush()
            reference, kind = claim.reference, INCIDENT_LABELS.get(claim.incident_type, "an incident")
        facts = insurer()
        dispatcher.utter_message(
            text=f"Your claim for {kind} on {policy.number} is filed. Your claim number is {reference}. "
            f"{facts['claims']['adjuster_contact'].capitalize()}. Meanwhile, please send "
            f"{facts['claims']['documents']} "
            f"to {facts['email']['documents']} or upload them in the app, quoting {reference}.",
            answer_source="action",
            claim_reference=reference,
        )
        offer_content(dispatcher, tracker, "claim_filed")  # its checklist, what happens next
        return events + clear_slots(*CLAIM_SLOTS)


CLAIMS_LISTED = 5  # the newest first: a customer looking for one is rarely after the sixth


def claim_buttons(session: Any, customer_id: int) -> List[Dict[Text, str]]:
    """A button per claim on the customer's policies (newest first), each sending its number as the form's
    answer. Only for a verified customer: claim numbers are account details."""
    claims = session.scalars(
        select(Claim)
        .join(Policy, Policy.id == Claim.policy_id)
        .where(Policy.customer_id == customer_id)
        .order_by(Claim.created_at.desc(), Claim.id.desc())
        .limit(CLAIMS_LISTED)
    ).all()
    return [
        {
            "title": f"{claim.reference}: {claim.incident_type.replace('_', ' ')}, {claim.incident_date:%b %d, %Y}",
            "payload": f"/inform{json.dumps({'claim_number': claim.reference}, separators=(',', ':'))}",
        }
        for claim in claims
    ]


class ValidateClaimStatusForm(HandsOverWhenUpset, OffersAWayOut, FormValidationAction):
    def name(self) -> Text:
        return "validate_claim_status_form"

    def validate_claim_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        number = parsing.claim_number(str(value or ""))
        if number is None:
            with session_scope(read_only=True) as session:
                customer_id = verified_customer(session, tracker)
                theirs = claim_buttons(session, customer_id) if customer_id is not None else []
            if theirs:  # "I don't know my claim number": a customer who proved who they are is shown their own
                dispatcher.utter_message(text="Which claim is it? These are the ones on your policies:", buttons=theirs)
            else:
                dispatcher.utter_message(text="Claim numbers look like CL-204117 (CL- and six digits). What's yours?")
            return {"claim_number": None}
        with session_scope() as session:
            customer_id = verified_customer(session, tracker)
            # Unverified: only the shape is checked here, so the form says nothing about whether it exists.
            foreign = customer_id is not None and owned_claim(session, customer_id, number) is None
        if foreign:
            dispatcher.utter_message(text=not_on_your_account("claim", number))
            return {"claim_number": None}
        return {"claim_number": number}


class ActionClaimStatus(CoverlineAction):
    def name(self) -> Text:
        return "action_claim_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        customer_id, events = require_verified_customer(dispatcher, tracker, "claim_status", ("claim_number",))
        if customer_id is None:
            return events
        number = parsing.claim_number(tracker.get_slot("claim_number"))
        if number is None:
            dispatcher.utter_message(response="utter_ask_claim_number")
            return events + clear_slots("claim_number")
        with session_scope() as session:
            claim = owned_claim(session, customer_id, number)
            if claim is None:
                dispatcher.utter_message(text=not_on_your_account("claim", number), answer_source="lookup")
                return events + clear_slots("claim_number")
            status = STATUS_TEXT.get(claim.status, claim.status.replace("_", " "))
            text = (
                f"Claim {claim.reference} ({INCIDENT_LABELS.get(claim.incident_type, 'incident')} on "
                f"{claim.incident_date:%B %d, %Y}) {status}."
            )
            if claim.status_detail:
                text += f" {claim.status_detail}"
        dispatcher.utter_message(text=text, answer_source="lookup")
        return events + clear_slots("claim_number")
