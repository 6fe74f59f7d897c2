"""Low NLU confidence: ask to rephrase once; on a second miss in a row, hand over to a person.

The first miss is answered by action_answer_from_past_replies (a past reply, "please rephrase", or for
an insurance question it has no sure answer to, the offer of a person). The second is a handoff:
`bot_fell_back_last_turn` tells the dialogue (through the `handoff_signal` slot, see actions/handoff.py)
that the bot already failed once, so the customer is not asked again.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from conversations.answers import is_fallback

FALLBACK_INTENT = "nlu_fallback"
# messages the bot has no intent for: the NLU's out-of-scope floor sends most unclear messages to
# out_of_scope rather than nlu_fallback, so both count as a second miss after a fallback reply
UNCLEAR_INTENTS = frozenset({FALLBACK_INTENT, "out_of_scope"})


def consecutive_fallbacks(events: List[Dict[str, Any]]) -> int:
    """How many of the latest customer messages in a row the NLU could not understand."""
    count = 0
    for event in reversed(events):
        if event.get("event") != "user":
            continue
        intent = (event.get("parse_data") or {}).get("intent") or {}
        if intent.get("name") != FALLBACK_INTENT:
            break
        count += 1
    return count


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
