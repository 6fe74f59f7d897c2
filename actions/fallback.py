"""Low NLU confidence: ask to rephrase once; on a second miss in a row, hand over to a person.

The first miss is answered by action_answer_from_past_replies (a past reply, "please rephrase", or for
an insurance question it has no sure answer to, the offer of a person). The second is a handoff:
`bot_fell_back_last_turn` tells the dialogue (through the `handoff_signal` slot, see actions/handoff.py)
that the bot already failed once, so the customer is not asked again.
"""

from __future__ import annotations

from typing import Any, Dict, List

from conversations.handoff_signal import (  # noqa: F401  (re-exported)
    FALLBACK_INTENT,
    UNCLEAR_INTENTS,
    bot_fell_back_last_turn,
)


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
