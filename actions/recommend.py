"""Content recommendations inside the conversation: offered after the bot has done what the customer asked,
and "not for me" taken back (issue 16, docs/recommendations-serving.md).

Offering is an extra, never a condition: the claim is filed, the quote given, whatever the recommender does.
A failure (no library, the encoder missing, the database busy) is logged and the customer simply gets no
carousel. The recommender reads; `render_recommendations` records the impressions in the same short session.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import CoverlineAction
from recommendations.events import dismissed_impression, record_dismissal
from recommendations.recommender import recommend_for_conversation
from recommendations.rendering import render_recommendations
from storage.engine import session_scope

logger = logging.getLogger(__name__)

OFFERED = 3  # a carousel or list the customer can take in at a glance


def offer_content(dispatcher: CollectingDispatcher, tracker: Tracker, moment: str) -> int:
    """Append what suits this customer at this moment in the channel's own form; returns how many items."""
    channel = tracker.get_latest_input_channel() or "rest"
    try:
        with session_scope() as session:
            found = recommend_for_conversation(session, tracker.sender_id, moment, k=OFFERED)
            chosen = [r for r in found if r.item_id is not None]
            if not chosen:
                return 0
            messages = render_recommendations(
                [r.item_id for r in chosen],
                channel,
                tracker.sender_id,
                session,
                moment=moment,
                scores=[r.score for r in chosen],
            )
    except Exception:  # the recommendation is an extra: the answer the customer asked for has been given
        logger.exception("No recommendations offered to %s at %s", tracker.sender_id, moment)
        return 0
    for message in messages:
        dispatcher.utter_message(**message)
    return len(chosen)


class ActionDismissContent(CoverlineAction):
    """The "not for me" button: the impression it names, if it belongs to this conversation, is dismissed,
    and the recommender never offers that item to this customer again."""

    def name(self) -> Text:
        return "action_dismiss_content"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        impression = dismissed_impression(tracker.latest_message.get("entities"))
        with self.conversation_session(tracker) as session:
            event = record_dismissal(session, tracker.sender_id, impression) if impression is not None else None
        if event is None:  # a forged, stale or malformed payload: nothing changes, and nothing is revealed
            dispatcher.utter_message(text="Okay. Is there anything else I can help you with?", answer_source="action")
        else:
            dispatcher.utter_message(
                text="Got it, I won't suggest that again. Anything else I can help with?", answer_source="action"
            )
        return []
