"""Quotes (quote_form): product plus the few facts the rating table needs, then a stored premium."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import parsing
from actions.base import CoverlineAction, clear_slots
from actions.demo_data import insurer, rating_table
from actions.form_exits import OffersAWayOut
from actions.form_handoff import HandsOverWhenUpset
from actions.rating import RatingError, age_factor, quote
from actions.recommend import offer_content
from storage.models import Quote
from storage.references import new_reference

QUOTE_SLOTS = ("product", "age", "insured_value", "trip_days")


def _rated_product(tracker: Tracker) -> Optional[str]:
    return parsing.product(tracker.get_slot("product"))


class ValidateQuoteForm(HandsOverWhenUpset, OffersAWayOut, FormValidationAction):
    def name(self) -> Text:
        return "validate_quote_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        """Travel is rated on trip length, everything else on an insured value."""
        dropped = "insured_value" if tracker.get_slot("product") == "travel" else "trip_days"
        return [slot for slot in domain_slots if slot != dropped]

    def validate_product(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        product = parsing.product(str(value or ""))
        if product is None:
            dispatcher.utter_message(
                text="We quote auto, home, renters, travel and life cover. Which one would you like?"
            )
            return {"product": None}
        return {"product": product}

    def validate_age(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        age = parsing.whole_number(str(value or ""))
        product = _rated_product(tracker)
        if age is None:
            dispatcher.utter_message(text="Please give the age as a number of years, e.g. 34.")
            return {"age": None}
        if product is not None:
            try:
                age_factor(product, age)
            except RatingError as error:
                dispatcher.utter_message(
                    text=f"{error} For other ages, a person can quote you at {insurer()['phone']['service']}."
                )
                return {"age": None}
        return {"age": str(age)}

    def validate_insured_value(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        amount = parsing.amount(str(value or ""))
        product = _rated_product(tracker)
        limits = rating_table()["limits"].get(product or "", {})
        if amount is None:
            dispatcher.utter_message(text="Please give an amount in dollars, e.g. $25,000 or 25k.")
            return {"insured_value": None}
        if limits and not limits["min_value"] <= amount <= limits["max_value"]:
            dispatcher.utter_message(
                text=f"For {product} we can quote from ${limits['min_value']:,} to ${limits['max_value']:,}. "
                "What amount should I use?"
            )
            return {"insured_value": None}
        return {"insured_value": str(int(amount))}

    def validate_trip_days(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        days = parsing.trip_days(str(value or ""))
        limits = rating_table()["limits"]["travel"]
        if days is None or not limits["min_days"] <= days <= limits["max_days"]:
            dispatcher.utter_message(
                text=f"Please give the trip length in days, from {limits['min_days']} to {limits['max_days']}."
            )
            return {"trip_days": None}
        return {"trip_days": str(days)}


class ActionSubmitQuote(CoverlineAction):
    def name(self) -> Text:
        return "action_submit_quote"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        product = _rated_product(tracker) or ""
        value, days = tracker.get_slot("insured_value"), tracker.get_slot("trip_days")
        try:
            result = quote(
                product,
                int(tracker.get_slot("age") or 0),
                insured_value=float(value) if value and product != "travel" else None,
                trip_days=int(days) if days and product == "travel" else None,
            )
        except (RatingError, ValueError) as error:
            dispatcher.utter_message(text=f"I couldn't price that: {error}", answer_source="action")
            return clear_slots(*QUOTE_SLOTS)
        with self.conversation_session(tracker) as session:
            record = Quote(
                reference=new_reference(session, Quote, "QT"),
                conversation_id=tracker.sender_id,
                product=product,
                inputs=result.inputs,
                annual_premium=result.annual_premium,
            )
            session.add(record)
            session.flush()
            reference = record.reference
        if product == "travel":
            price = f"${result.annual_premium:,.2f} for the whole trip"
        else:
            price = f"${result.annual_premium:,.2f} a year (about ${result.monthly_premium:,.2f} a month)"
        site, phone = insurer()["website"], insurer()["phone"]["service"]
        dispatcher.utter_message(
            text=f"Your estimated {product} premium is {price}. Quote reference {reference}, valid for 30 days. "
            f"Discounts such as bundling or paperless autopay can lower it. To buy, use the reference at {site}, "
            f"in the app, or call {phone}.",
            answer_source="action",
            quote_reference=reference,
        )
        offer_content(dispatcher, tracker, "quote_given")  # the product explained, what a buyer asks next
        return clear_slots(*QUOTE_SLOTS)
