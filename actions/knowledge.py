"""Answers about cover and deductibles per product, from the insurer's fact sheet."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import parsing
from actions.base import CoverlineAction, find_policy
from actions.demo_data import insurer
from storage.engine import session_scope

PRODUCTS = ("auto", "home", "renters", "travel", "life")


def _product(tracker: Tracker) -> Optional[str]:
    entity = next(tracker.get_latest_entity_values("product"), None)
    return (
        parsing.product(entity)
        or parsing.product(tracker.get_slot("product"))
        or parsing.product(tracker.latest_message.get("text"))
    )


def _policy_product(tracker: Tracker) -> Optional[str]:
    """A customer who gave their policy number is asking about that policy's product."""
    number = parsing.policy_number(tracker.get_slot("policy_number"))
    if number is None:
        return None
    with session_scope() as session:
        policy = find_policy(session, number)
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
            number = parsing.policy_number(tracker.get_slot("policy_number"))
            with session_scope() as session:
                policy = find_policy(session, number)
                own = policy.deductible if policy is not None and policy.product == product else None
            dispatcher.utter_message(text=deductible_answer(product, own, number or ""), answer_source="knowledge")
        else:
            dispatcher.utter_message(text=coverage_answer(product), answer_source="knowledge")
        return []
