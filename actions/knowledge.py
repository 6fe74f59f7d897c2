"""Answers about cover and deductibles per product, from the insurer's fact sheet."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import parsing
from actions.base import CoverlineAction
from actions.demo_data import insurer
from actions.recommend import close_to_what_was_asked, offer_content
from actions.verification import verified_customer
from storage.engine import session_scope
from storage.models import Policy
from storage.verification import owned_policy

PRODUCTS = ("auto", "home", "renters", "travel", "life")


def _product(tracker: Tracker) -> Optional[str]:
    entity = next(tracker.get_latest_entity_values("product"), None)
    return (
        parsing.product(entity)
        or parsing.product(tracker.get_slot("product"))
        or parsing.product(tracker.latest_message.get("text"))
    )


def _own_policy(tracker: Tracker) -> Optional[Policy]:
    """The policy whose number the customer gave, if they are verified and hold it: a policy's product
    and deductible are account details, so an unverified sender gets the general answer."""
    number = parsing.policy_number(tracker.get_slot("policy_number"))
    if number is None:
        return None
    with session_scope() as session:
        customer_id = verified_customer(session, tracker)
        return owned_policy(session, customer_id, number) if customer_id is not None else None


def _policy_product(tracker: Tracker) -> Optional[str]:
    """A customer who gave their policy number is asking about that policy's product."""
    policy = _own_policy(tracker)
    return policy.product if policy is not None else None


def coverage_answer(product: str) -> str:
    facts = insurer()["products"][product]
    text = f"Harbor Mutual {product} insurance covers {facts['covers']}. Not covered: {facts['not_covered']}."
    if product == "auto":
        text += f" Glass: {facts['glass']}. Rental: {facts['rental']}."
    if product == "home":
        text += " Flood and earthquake need separate policies; ask a person if you'd like one."
    return text


def deductible_answer(product: str, policy_deductible: Optional[int] = None, policy_number: str = "") -> str:
    options = insurer()["products"][product]["deductibles"]
    if options == [0]:
        text = f"{product.capitalize()} insurance has no deductible."
    else:
        choices = ", ".join(f"${d:,}" for d in options[:-1]) + f" or ${options[-1]:,}"
        text = (
            f"For {product} cover you choose a deductible of {choices}: a higher deductible lowers your premium. "
            "You pay the deductible once per claim; we pay the rest up to your limits."
        )
        if product == "auto":
            text += " Windshield repairs have no deductible, and liability claims never have one."
        if product == "home":
            text += " In coastal counties a separate wind/hail deductible of 2% of the dwelling limit applies."
    if policy_deductible is not None:
        text += f" Your policy {policy_number} has a ${policy_deductible:,} deductible."
    return text


class ActionAnswerProductQuestion(CoverlineAction):
    def name(self) -> Text:
        return "action_answer_product_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        intent = tracker.latest_message.get("intent", {}).get("name")
        product = _product(tracker) or _policy_product(tracker)
        if product is None:
            dispatcher.utter_message(
                text="Which cover is your question about?",
                buttons=[
                    {"title": name.capitalize(), "payload": f'/{intent}{{"product": "{name}"}}'} for name in PRODUCTS
                ],
                answer_source="knowledge",
            )
            return []
        if intent == "ask_deductible":
            policy = _own_policy(tracker)
            own = policy.deductible if policy is not None and policy.product == product else None
            number = policy.number if policy is not None else ""
            dispatcher.utter_message(text=deductible_answer(product, own, number), answer_source="knowledge")
        else:
            dispatcher.utter_message(text=coverage_answer(product), answer_source="knowledge")
        # a guide close to the question, if the library has one ("is hail covered?" → the hail checklist)
        offer_content(dispatcher, tracker, "answer_given", keep=close_to_what_was_asked)
        return []
