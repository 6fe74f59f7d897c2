"""A customer who asks for no more offers gets none, on every channel, from that moment.

The recommender offers nothing for sale without marketing consent (recommendations/constraints.py), but until
this action nothing let a customer take consent back: "unsubscribe" fell to the fallback, and "stop spamming
me" went to a person as an angry message while the offers went on. Withdrawing must be as easy as agreeing was
(GDPR art. 7(3); WhatsApp's Business policy asks that opt-out requests be honoured), so the request is
honoured in the conversation, angry or not, and written to the audit trail with what it replaced.

Consent belongs to the customer's account, so changing it needs to know whose account: a verified customer's
is changed at once; anyone else is asked to verify first (verification resumes this action). Before that an
anonymous conversation is shown no marketing anyway (the profile has no consent), which the reply says.

Asked in the middle of a form ("stop sending me promotions" while a claim is being filed), the request is
honoured and the form goes on (bot/data/rules.yml): ending a half-filed claim because of an unrelated request
would lose it. The form's question is asked again; the request is not taken as its answer (`not_intent` in
the domain). A customer not yet verified cannot be verified in the middle of another form, so they are told
how to finish it afterwards, and no pending request is touched.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import CoverlineAction
from actions.verification import REQUEST_SLOT, require_verified_customer, verified_customer
from storage.engine import session_scope
from storage.models import AuditEntry, Customer, utcnow

REQUEST = "marketing_opt_out"
AUDIT_ACTION = "marketing_consent_withdrawn"
WITHDRAWN = (
    "Done: you won't get offers or promotions from us any more, here or on any other channel. We'll still "
    "message you about your policies, claims and payments."
)
NEVER_GIVEN = (
    "You're not signed up for offers, so we won't send you any, here or elsewhere. We'll still message you "
    "about your policies, claims and payments."
)
NOT_YET_KNOWN = "Until then I won't show you any offers in this chat."
ALREADY_ON_IT = "That's what we're doing: as soon as you've confirmed who you are, the offers stop."
AFTER_THIS_FORM = (
    "I can stop offers once I know who you are: when we've finished here, say \"no more offers\" and I'll check "
    "your identity first. Until then I won't show you any offers in this chat."
)


def withdraw_consent(session: Session, customer_id: int, conversation_id: str, channel: Optional[str]) -> bool:
    """Clear the customer's marketing consent and audit what it was; False when there was none to clear."""
    customer = session.get(Customer, customer_id)
    if customer is None or customer.marketing_consent_at is None:
        return False
    previous = {"given_at": customer.marketing_consent_at.isoformat(), "source": customer.marketing_consent_source}
    customer.marketing_consent_at = None
    customer.marketing_consent_source = None
    session.add(
        AuditEntry(
            at=utcnow(),
            action=AUDIT_ACTION,
            conversation_id=conversation_id,
            detail={"customer_id": customer_id, "channel": channel, "previous": previous},
        )
    )
    return True


def honour(dispatcher: CollectingDispatcher, tracker: Tracker, customer_id: int) -> None:
    with session_scope() as session:
        withdrawn = withdraw_consent(session, customer_id, tracker.sender_id, tracker.get_latest_input_channel())
    dispatcher.utter_message(text=WITHDRAWN if withdrawn else NEVER_GIVEN, answer_source="action")


class ActionOptOutMarketing(CoverlineAction):
    def name(self) -> Text:
        return "action_opt_out_marketing"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        customer_id, events = require_verified_customer(dispatcher, tracker, REQUEST)
        if customer_id is None:
            if any(e.get("event") == "followup" for e in events):
                dispatcher.utter_message(text=NOT_YET_KNOWN)  # verification is starting: said after its intro
            return events
        honour(dispatcher, tracker, customer_id)
        return events


class ActionOptOutMarketingInsideForm(CoverlineAction):
    """The same request inside a running form: honoured without touching the form's slots or its pending
    request (it sets no slot, so the rules need not say which), and the form asks its question next."""

    def name(self) -> Text:
        return "action_opt_out_marketing_inside_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        with session_scope() as session:
            customer_id = verified_customer(session, tracker)
        if customer_id is None and tracker.get_slot(REQUEST_SLOT) == REQUEST:
            dispatcher.utter_message(text=ALREADY_ON_IT, answer_source="action")  # asked again while verifying for it
        elif customer_id is None:
            dispatcher.utter_message(text=AFTER_THIS_FORM, answer_source="action")
        else:
            honour(dispatcher, tracker, customer_id)
        return []
