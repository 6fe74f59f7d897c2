"""Content recommendations inside the conversation: offered after the bot has done what the customer asked,
when a known customer with something under way says hello, and when a customer asks for guidance; and "not
for me" taken back (issue 16, docs/recommendations-serving.md).

Moments where the customer's own words lead (a request, an answer just given) show only items close to what
they said: a carousel of whatever is popular after "any tips for sailing?" is noise, and "I have nothing on
that" is the honest answer. A greeting offers something only to a verified customer with a claim under way,
a renewal due or a payment overdue, and says which; an anonymous "hi" gets the greeting alone.

Offering is an extra, never a condition: the claim is filed, the quote given, whatever the recommender does.
A failure (no library, the encoder missing, the database busy) is logged and the customer simply gets no
carousel. The recommender reads; `render_recommendations` records the impressions in the same short session.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import CoverlineAction
from recommendations.candidates import RENEWAL_DAYS
from recommendations.constraints import room_today
from recommendations.events import dismissed_impression, record_dismissal
from recommendations.profile import CLOSED_STAGES, CustomerProfile, Said, load_profile
from recommendations.recommender import Recommendation, recommend_for_conversation, warm_up
from recommendations.rendering import INTRO, render_recommendations
from storage.engine import session_scope
from storage.verification import verified_customer_id

logger = logging.getLogger(__name__)

OFFERED = 3  # a carousel or list the customer can take in at a glance


CLOSE_TO_ASKED = "close to what you asked"  # the recommender's reason when similarity ≥ SIMILAR_REASON
NOTHING_ON_THAT = (
    "I don't have a guide on that yet. Ask me your question and I'll do my best to answer it, "
    "or I can put you through to a person."
)
# the daily cap on new items is reached (recommendations/constraints.py) and nothing shown today fits: saying "I
# don't have a guide on that" would be untrue
ENOUGH_FOR_TODAY = (
    "I've sent you quite a few guides today already, so I'll hold off on new ones until tomorrow. Ask me your "
    "question and I'll do my best to answer it, or I can put you through to a person."
)


def close_to_what_was_asked(recommendation: Recommendation) -> bool:
    """Worth showing after the customer's own words: the item reads like what they said (cosine ≥
    SIMILAR_REASON), whatever rule or popularity also backs it."""
    return CLOSE_TO_ASKED in recommendation.reasons


def latest_said(tracker: Tracker) -> Said:
    """The message being answered, as the NLU read it (intent, sentiment label)."""
    message = tracker.latest_message or {}
    sentiment = message.get("sentiment")
    return Said(
        message.get("text"),
        (message.get("intent") or {}).get("name"),
        sentiment.get("label") if isinstance(sentiment, dict) else None,
    )


def offer_content(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    moment: str,
    intro: str = INTRO,
    keep: Optional[Callable[[Recommendation], bool]] = None,
    profile: Optional[CustomerProfile] = None,
) -> int:
    """Append what suits this customer at this moment in the channel's own form; returns how many items.
    `keep` narrows what the recommender found (its constraints have already been applied); `profile`, one just
    read for this conversation, is not read again."""
    channel = tracker.get_latest_input_channel() or "rest"
    try:
        with session_scope() as session:
            found = recommend_for_conversation(
                session, tracker.sender_id, moment, k=OFFERED, latest=latest_said(tracker), profile=profile
            )
            chosen = [r for r in found if r.item_id is not None and (keep is None or keep(r))]
            if not chosen:
                return 0
            messages = render_recommendations(
                [r.item_id for r in chosen],
                channel,
                tracker.sender_id,
                session,
                moment=moment,
                scores=[r.score for r in chosen],
                intro=intro,
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


def greeting_intro(profile: CustomerProfile) -> Optional[str]:
    """Why a known customer's hello is a moment to offer something, in their terms; None: it is not."""
    if profile.anonymous:
        return None
    under_way = [c for c in profile.claims if c.stage not in CLOSED_STAGES]
    if under_way:
        return f"Your {under_way[0].product} claim is under way. These may help with what comes next:"
    if profile.payment_overdue_days > 0:
        return "A payment on your policy is overdue. This may help sort it out:"
    renewing = sorted(
        (p for p in profile.policies if 0 <= p.renewal_in_days <= RENEWAL_DAYS), key=lambda p: p.renewal_in_days
    )
    if renewing:
        days = renewing[0].renewal_in_days
        when = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
        return f"Your {renewing[0].product} policy renews {when}. Worth a look before then:"
    return None


def offer_on_greeting(dispatcher: CollectingDispatcher, tracker: Tracker) -> int:
    """The greeting moment: only for a verified customer with something under way (one indexed read decides
    that an anonymous customer gets nothing more)."""
    try:
        with session_scope(read_only=True) as session:
            if verified_customer_id(session, tracker.sender_id) is None:
                return 0
            profile = load_profile(session, tracker.sender_id, latest=latest_said(tracker))
    except Exception:
        logger.exception("No greeting offer for %s", tracker.sender_id)
        return 0
    intro = greeting_intro(profile)
    if not intro:
        return 0
    return offer_content(dispatcher, tracker, "greeting", intro=intro, keep=about_their_situation, profile=profile)


def about_their_situation(recommendation: Recommendation) -> bool:
    """What a greeting may show under "Your renters claim is under way. These may help with what comes next":
    items for their claims, bills or renewal. Once those were shown (nothing is pushed twice in a week), the
    recommender's next best were winter tips, offered under that line as if they were about the claim."""
    return recommendation.situation


class ActionGreet(CoverlineAction):
    """Hello back, and for a known customer with a claim under way, a renewal due or a payment overdue,
    what helps with it now."""

    def name(self) -> Text:
        return "action_greet"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_greet")
        offer_on_greeting(dispatcher, tracker)
        return []


class ActionRecommendContent(CoverlineAction):
    """ "Any tips for winter driving?": the library's items close to what was asked, or an honest "nothing on
    that" with a way forward."""

    def name(self) -> Text:
        return "action_recommend_content"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        profile = conversation_profile(tracker)
        shown = offer_content(
            dispatcher,
            tracker,
            "on_request",
            intro="Here's what we have on that:",
            keep=close_to_what_was_asked,
            profile=profile,
        )
        if not shown:
            capped = profile is not None and room_today(profile, OFFERED) == 0
            dispatcher.utter_message(text=ENOUGH_FOR_TODAY if capped else NOTHING_ON_THAT, answer_source="action")
        return []


def conversation_profile(tracker: Tracker) -> Optional[CustomerProfile]:
    """The profile for this turn, read once for the recommender and for what to say when it finds nothing; None
    when it cannot be read (offer_content then tries, and logs, on its own)."""
    try:
        with session_scope(read_only=True) as session:
            return load_profile(session, tracker.sender_id, latest=latest_said(tracker))
    except Exception:
        logger.exception("No profile read for %s", tracker.sender_id)
        return None


def warm_up_recommender() -> None:
    """Load the recommender's own (int8) encoder while the action server starts: a second MiniLM instance, not
    loaded by anything else; run by the server's warm-up thread (actions/server.py), never on import."""
    try:
        warm_up()
    except Exception:
        logger.exception("could not load the recommender's encoder at start-up")
