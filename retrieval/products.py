"""Which product line a customer's message is about, from plain keywords.

Shared by the actions (slot filling) and retrieval (keeping a travel question away from life replies).
Order matters: the first product whose word appears wins ("rental car" is auto).
"""

from __future__ import annotations

import re
from typing import Dict, Optional, Tuple

PRODUCT_WORDS: Dict[str, Tuple[str, ...]] = {
    "auto": ("auto", "car", "vehicle", "truck", "suv", "motor", "van", "driver"),
    "home": ("home", "house", "homeowner", "condo", "property", "dwelling"),
    "renters": ("renter", "rental", "apartment", "tenant", "flat", "belongings"),
    "travel": ("travel", "trip", "vacation", "holiday", "flight", "journey"),
    "life": ("life", "term"),
}


def keyword_match(text: Optional[str], table: Dict[str, Tuple[str, ...]]) -> Optional[str]:
    lowered = (text or "").lower()
    for canonical, words in table.items():
        if lowered == canonical or any(re.search(rf"\b{re.escape(w)}", lowered) for w in words):
            return canonical
    return None


def detect_product(text: Optional[str]) -> Optional[str]:
    return keyword_match(text, PRODUCT_WORDS)
