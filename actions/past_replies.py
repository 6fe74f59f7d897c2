"""Answer knowledge questions with the best reply a person already wrote, and learn whether it helped.

Used for ask_coverage / ask_deductible, for out_of_scope and for messages the NLU is unsure of
(nlu_fallback). A past reply is sent only when its calibrated probability clears the threshold;
otherwise each intent keeps its own careful fallback (fact-sheet answer, clarifying question, rephrase
or a person). The customer's "was this helpful?" is stored against the reply.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import parsing
from actions.base import CoverlineAction
from actions.fallback import FALLBACK_INTENT, consecutive_fallbacks
from actions.form_exits import wants_to_stop
from actions.knowledge import ActionAnswerProductQuestion
from retrieval.corpus import past_reply_id
from retrieval.service import Answer, answerer
from storage.models import AnswerFeedback, Message

logger = logging.getLogger(__name__)

FEEDBACK_SLOT, PENDING_SLOT = "awaiting_answer_feedback", "answer_feedback_reply_id"
HELPFUL_BUTTONS = [{"title": "👍 Yes, thanks", "payload": "/affirm"}, {"title": "👎 Not really", "payload": "/deny"}]
KNOWLEDGE_INTENTS = {"ask_coverage", "ask_deductible"}
# Below the answer threshold but this close to a past reply, a message is about our insurance (nonsense
# and other topics score 0.1-0.2 on the demo corpus): offer a person instead of calling it out of scope.
NEAR_MISS_FLOOR = 0.3
NEAR_MISS_TEXT = (
    "I don't have a confident answer to that one, and I'd rather not guess about your cover. "
    "A person on our team can look into it for you, or call 1-800-555-0142 (Mon-Fri 8am-8pm, Sat 9am-2pm ET)."
)
PERSON_BUTTON = [{"title": "Talk to a person", "payload": "/request_human"}]
# "stop" with no form running (inside one, actions/form_exits.py ends it): nothing to stop but perhaps our
# offers, which is what STOP means on messaging channels; ask rather than guess, with the one tap that does it
STOPPED_TEXT = "OK, I'll leave it there. If you meant you'd rather not get offers from us, tap below."
NO_OFFERS_BUTTON = [{"title": "No more offers", "payload": "/opt_out_marketing"}]


def attribution(answer: Answer) -> str:
    """Say where the answer came from, so the customer can judge it (and we never pass it off as personal)."""
    return f"Our service team answered a similar question before (“{answer.record.question}”):"


def _as_int(value: Any) -> Optional[int]:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _personal_deductible_question(tracker: Tracker, intent: Optional[str]) -> bool:
    """'What's my deductible on PX-88123?' is about their own policy: the database beats past replies."""
    return intent == "ask_deductible" and bool(parsing.policy_number(tracker.get_slot("policy_number")))


# Embedding the question (MiniLM, ~10-50 ms of CPU) on the action server's event loop held up every other
# action meanwhile, the session starts and form validations of other conversations included
# (benchmarks/results/load.md). One worker thread: questions are answered one at a time as before (the
# encoder runs on one torch thread), while the loop goes on serving the rest; torch releases the GIL.
RETRIEVAL_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="past-replies")


class ActionAnswerFromPastReplies(CoverlineAction):
    def name(self) -> Text:
        return "action_answer_from_past_replies"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        text = tracker.latest_message.get("text") or ""
        answer = None
        if wants_to_stop(text):
            dispatcher.utter_message(text=STOPPED_TEXT, buttons=NO_OFFERS_BUTTON, answer_source="fallback")
            return [SlotSet(FEEDBACK_SLOT, False), SlotSet(PENDING_SLOT, None)]
        if not text.startswith("/") and not _personal_deductible_question(tracker, intent):
            try:
                product = parsing.product(next(tracker.get_latest_entity_values("product"), None))
                answer = await asyncio.get_running_loop().run_in_executor(
                    RETRIEVAL_THREAD, lambda: answerer().answer(text, product=product)
                )
            except Exception:  # the index is an aid: a broken one must not cost the customer an answer
                logger.exception("past-reply retrieval failed; falling back")
        if answer is not None and answer.confident:
            return self._answer(dispatcher, tracker, answer)
        near_miss = answer is not None and answer.probability >= NEAR_MISS_FLOOR
        return await self._fallback(dispatcher, tracker, domain, intent, near_miss)

    def _answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, answer: Answer) -> List[Dict[Text, Any]]:
        reply_id = past_reply_id(answer.record)
        meta = {
            "answer_source": "retrieval",
            "past_reply_id": reply_id,
            "retrieval_score": round(answer.probability, 4),
        }
        # one message, one line break (Markdown "  \n"): Rasa's channels split text on blank lines into
        # separate messages, which would part the attribution from the reply it introduces
        dispatcher.utter_message(text=f"{attribution(answer)}  \n{answer.record.reply}", **meta)
        # the follow-up question is part of the retrieval answer but does not carry the reply id:
        # feedback then points at the message that held the reply itself
        dispatcher.utter_message(
            text="Did that answer your question?", buttons=HELPFUL_BUTTONS, answer_source="retrieval"
        )
        return [SlotSet(FEEDBACK_SLOT, True), SlotSet(PENDING_SLOT, str(reply_id))]

    async def _fallback(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
        intent: Optional[str],
        near_miss: bool,
    ) -> List[Dict[Text, Any]]:
        events: List[Dict[Text, Any]] = [SlotSet(FEEDBACK_SLOT, False), SlotSet(PENDING_SLOT, None)]
        if intent in KNOWLEDGE_INTENTS:
            return events + await ActionAnswerProductQuestion().run(dispatcher, tracker, domain)
        if intent == FALLBACK_INTENT and consecutive_fallbacks(tracker.events) >= 2:
            dispatcher.utter_message(response="utter_offer_human", answer_source="fallback")
        elif intent == FALLBACK_INTENT:
            dispatcher.utter_message(response="utter_ask_rephrase", answer_source="fallback")
        elif near_miss:
            # sounds like an insurance question we have no sure answer to: a person, not "I can't help"
            dispatcher.utter_message(text=NEAR_MISS_TEXT, buttons=PERSON_BUTTON, answer_source="fallback")
        else:
            dispatcher.utter_message(response="utter_out_of_scope")
        return events


class ActionRecordAnswerFeedback(CoverlineAction):
    def name(self) -> Text:
        return "action_record_answer_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        helpful = (tracker.latest_message.get("intent") or {}).get("name") == "affirm"
        reply_id = _as_int(tracker.get_slot(PENDING_SLOT))
        if reply_id is not None:
            with self.conversation_session(tracker) as session:
                message_id = session.scalar(
                    select(Message.id)
                    .where(Message.conversation_id == tracker.sender_id, Message.past_reply_id == reply_id)
                    .order_by(Message.id.desc())
                    .limit(1)
                )
                feedback = AnswerFeedback(
                    conversation_id=tracker.sender_id, past_reply_id=reply_id, message_id=message_id, helpful=helpful
                )
                session.add(feedback)
        if helpful:
            dispatcher.utter_message(response="utter_answer_helped")
        else:
            dispatcher.utter_message(response="utter_answer_not_helpful")
        return [SlotSet(FEEDBACK_SLOT, False), SlotSet(PENDING_SLOT, None)]


def warm_up() -> None:
    """Load the encoder and index while the action server starts, not while the first customer waits; run by the
    server's warm-up thread (actions/server.py), never on import."""
    try:
        answerer().warm_up()
    except Exception:
        logger.exception("could not load the past-replies index at start-up")


def keep_index_fresh() -> None:
    """Approved, edited and retired past replies reach the index on a timer, not on the next question; run in a
    thread of its own by the action server after the warm-up (actions/server.py)."""
    threading.Thread(target=answerer().keep_fresh, name="past-replies-refresh-timer", daemon=True).start()
