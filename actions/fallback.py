"""Low NLU confidence: ask to rephrase once; on a second miss in a row, offer a person (see past_replies)."""

from __future__ import annotations

from typing import Any, Dict, List

FALLBACK_INTENT = "nlu_fallback"


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
