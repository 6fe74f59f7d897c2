"""Where a reply came from (`Message.answer_source`): one vocabulary, one reading of a reply's metadata.

The interaction log stores it, the fallback rule (actions/fallback.py: a second miss after a fallback
reply hands over) asks it of the tracker's last reply, and analytics count by it; all three read it
here, so they cannot disagree about which replies were fallbacks.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Mapping, Optional


class AnswerSource(str, Enum):
    TEMPLATE = "template"  # a response from the domain, chosen by the dialogue policy
    FORM = "form"  # a form asking for a slot (utter_ask_<slot>)
    LOOKUP = "lookup"  # account data read for a verified customer (policy, claim status)
    KNOWLEDGE = "knowledge"  # the insurer's product facts (deductibles, coverage)
    RETRIEVAL = "retrieval"  # a past reply found by embedding retrieval
    FALLBACK = "fallback"  # "please rephrase" or the offer of a person: the bot did not understand
    HANDOFF = "handoff"  # the bot handing the conversation to people
    ACTION = "action"  # another custom action's own words (a filed claim, a quote)
    AGENT = "agent"  # a person, from the inbox

    def __str__(self) -> str:
        return self.value


# Domain responses that mean "I did not understand", whoever sends them.
FALLBACK_RESPONSES = frozenset({"utter_ask_rephrase", "utter_offer_human", "utter_default"})
# Domain responses that mean "I understood the words, not what you want me to do" (an `inform` with no form
# asking for it): not a fallback (the dialogue went where it was designed to go), but a message worth review.
CLARIFYING_RESPONSES = frozenset({"utter_inform_without_context"})
FORM_QUESTION_PREFIX = "utter_ask_"  # Rasa's convention for the response that asks for a form's slot


def answer_source(metadata: Optional[Mapping[str, Any]]) -> str:
    """A fallback response is a fallback whoever sent it; otherwise an action's explicit source wins, and
    a reply without one is read from its response name."""
    metadata = metadata or {}
    utter_action = str(metadata.get("utter_action") or "")
    if utter_action in FALLBACK_RESPONSES:
        return AnswerSource.FALLBACK.value
    if metadata.get("answer_source"):
        return str(metadata["answer_source"])
    if metadata.get("author") == "agent":
        return AnswerSource.AGENT.value
    if utter_action.startswith(FORM_QUESTION_PREFIX):
        return AnswerSource.FORM.value
    if utter_action:
        return AnswerSource.TEMPLATE.value
    return AnswerSource.ACTION.value


def is_fallback(metadata: Optional[Mapping[str, Any]]) -> bool:
    return answer_source(metadata) == AnswerSource.FALLBACK.value
