"""When a conversation needs people although the customer did not ask: the handoff signal of a message.

Pure functions of the newest message's parse data and the tracker's events (as event dicts), read by
both processes: the Rasa server computes the `handoff_signal` slot in-process on every customer message
(bot/in_process_slot_mappings.py; the action server's `action_read_handoff_signal` does the same for a
plain `rasa run`), and `action_escalate` records which signal fired. One module, so the two can never
disagree. docs/handoff.md explains the signals and how the thresholds were chosen.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional

from conversations.answers import is_fallback
from settings import current

HANDOFF_SIGNAL_SLOT = "handoff_signal"
NEGATIVE_SENTIMENT = "negative_sentiment"
REPEATED_FALLBACK = "repeated_fallback"
# Conversation-level signals: no single message crosses the threshold, the conversation does. Both set
# the slot to NEGATIVE_SENTIMENT (the same rules hand over) and are recorded as the escalation's reason.
FRUSTRATION_RISING = "frustration_rising"  # two upset messages in a row, the second no calmer
UPSET_AFTER_FAILURE = "upset_after_failure"  # an upset message right after the bot failed to understand
SENTIMENT_SIGNALS = frozenset({NEGATIVE_SENTIMENT, FRUSTRATION_RISING, UPSET_AFTER_FAILURE})

FALLBACK_INTENT = "nlu_fallback"
# messages the bot has no intent for: the NLU's out-of-scope floor sends most unclear messages to
# out_of_scope rather than nlu_fallback, so both count as a second miss after a fallback reply
UNCLEAR_INTENTS = frozenset({FALLBACK_INTENT, "out_of_scope"})

# The thresholds (docs/handoff.md: chosen on tests/fixtures/nlu_heldout.yml with the model the shipped
# config trains) are settings (docs/settings.md): COVERLINE_HANDOFF_NEGATIVE_THRESHOLD (0.75: the lowest
# 0.05 step with at most 2 % of calm messages above it; 41 of 44 negative caught, where 0.9 caught 36) and
# COVERLINE_HANDOFF_CONVERSATION_FLOOR (0.7: it takes two such messages, or one after a bot failure).


# A message that arrived as `/intent{...}` but was not a button the bot offered (bot/channels/untrusted.py,
# webhooks.py) is read as words, its leading slash gone, and its original kept in the trusted metadata
# `original_text`. Such text is machine-shaped, not the customer's feelings: the sentiment head took a stale
# card's `dismiss_content{"content_impression": 7}` for an upset customer and paged a person. Its intent still
# counts; its sentiment does not. Only the bare payload shape: "/ this is ridiculous!!" is words and counts.
_PAYLOAD_SHAPE = re.compile(r"/+[A-Za-z_][\w.-]*(\{.*\})?", re.DOTALL)


def typed_payload(message: Optional[Mapping[str, Any]]) -> bool:
    """Whether the message was an unoffered `/intent{...}` payload read as words."""
    metadata = (message or {}).get("metadata")
    original = metadata.get("original_text") if isinstance(metadata, Mapping) else None
    return isinstance(original, str) and _PAYLOAD_SHAPE.fullmatch(original.strip()) is not None


def message_sentiment(message: Optional[Mapping[str, Any]]) -> Optional[Mapping[str, Any]]:
    """The sentiment the handoff reads: none for a typed payload."""
    return None if typed_payload(message) else (message or {}).get("sentiment")


def negative_threshold() -> float:
    """One message this negative hands over; infinite ('off') when sentiment alone should never hand off."""
    return current().handoff.negative_threshold


def conversation_floor() -> float:
    """A message this negative counts as upset for the conversation-level signals."""
    return current().handoff.conversation_floor


def strongly_negative(sentiment: Optional[Mapping[str, Any]], threshold: Optional[float] = None) -> bool:
    """A message the sentiment head calls negative with at least the threshold's calibrated confidence."""
    if not sentiment or sentiment.get("label") != "negative":
        return False
    try:
        confidence = float(sentiment.get("confidence") or 0.0)
    except (TypeError, ValueError):
        return False
    return confidence >= (negative_threshold() if threshold is None else threshold)


def negative_score(sentiment: Optional[Mapping[str, Any]]) -> float:
    """How likely the message is negative: the sentiment head's probability for the label, or (from a
    model that reports only its top label) the top label's confidence when that label is negative."""
    if not sentiment:
        return 0.0
    scores = sentiment.get("scores")
    try:
        if isinstance(scores, Mapping) and "negative" in scores:
            return float(scores["negative"])
        return float(sentiment.get("confidence") or 0.0) if sentiment.get("label") == "negative" else 0.0
    except (TypeError, ValueError):
        return 0.0


def earlier_negative_scores(events: List[Dict[str, Any]]) -> List[float]:
    """Negative scores of the customer's messages before the newest one, oldest first, since the bot last
    handed over or was handed back (a person has dealt with what came before)."""
    scores: List[float] = []
    seen_latest = False
    for event in reversed(events):
        kind = event.get("event")
        if kind == "user":
            if seen_latest:
                parse_data = dict(event.get("parse_data") or {}, metadata=event.get("metadata"))
                scores.append(negative_score(message_sentiment(parse_data)))
            seen_latest = True
        elif kind == "resume" or (kind == "action" and event.get("name") == "action_escalate"):
            break
    return scores[::-1]


def _last_bot_reply_before_latest_message(events: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The bot's (or an agent's) last message before the customer's newest one, if any."""
    seen_latest_user = False
    for event in reversed(events):
        kind = event.get("event")
        if kind == "user":
            if seen_latest_user:
                return None  # two customer messages without a reply between them (e.g. while paused)
            seen_latest_user = True
        elif kind == "bot" and seen_latest_user:
            return event
    return None


def bot_fell_back_last_turn(events: List[Dict[str, Any]]) -> bool:
    """Whether the reply to the customer's previous message was itself a fallback ("please rephrase").

    The interaction log and this rule read a reply's source the same way (conversations/answers.py).
    Counting the bot's fallback replies, not low-confidence messages, means a message the past replies
    answered well does not count as a miss; and after a handoff the last reply is the handoff message or
    an agent's, so a hand back starts the count afresh.
    """
    reply = _last_bot_reply_before_latest_message(events)
    if reply is None:
        return False
    return is_fallback(reply.get("metadata"))


def intent_name(message: Optional[Mapping[str, Any]]) -> str:
    return str(((message or {}).get("intent") or {}).get("name") or "")


def handoff_signal(
    latest_message: Optional[Mapping[str, Any]],
    events: List[Dict[str, Any]],
    threshold: Optional[float] = None,
    floor: Optional[float] = None,
) -> Optional[str]:
    """Which handoff signal the customer's newest message fires, if any (docs/handoff.md).

    Computed afresh for every message, so nothing stale survives a hand back. One strongly negative
    message; an upset one right after the bot failed to understand; a second upset message in a row that
    is no calmer than the first; then a second message the bot cannot understand. Anger wins over a
    misunderstanding (it is the more urgent).
    """
    sentiment = message_sentiment(latest_message)
    if strongly_negative(sentiment, threshold):
        return NEGATIVE_SENTIMENT
    floor = conversation_floor() if floor is None else floor
    score = negative_score(sentiment)
    if score >= floor:
        if bot_fell_back_last_turn(events):
            return UPSET_AFTER_FAILURE
        earlier = earlier_negative_scores(events)
        if earlier and floor <= earlier[-1] <= score:
            return FRUSTRATION_RISING
    if intent_name(latest_message) in UNCLEAR_INTENTS and bot_fell_back_last_turn(events):
        return REPEATED_FALLBACK
    return None


def signal_slot_value(signal: Optional[str]) -> Optional[str]:
    """The `handoff_signal` slot's value: the rules need only know that sentiment asks for a person."""
    return NEGATIVE_SENTIMENT if signal in SENTIMENT_SIGNALS else signal
