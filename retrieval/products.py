"""Which product line a customer's message is about, from plain keywords.

Shared by the actions (slot filling), retrieval (keeping a travel question away from life replies) and the
harvest of agent replies (the product a proposed past reply is filed under). Order matters: the first product
whose word appears wins ("rental car" is auto).

Product words match whole words, with their plural and possessive: "car" must not name "cart", "card" or
"career", "auto" must not name "automatic" and "term" must not name "termite" or "terms and conditions". A
message filed under the wrong product is hidden by the product filter from the customers who need it.
"""

from __future__ import annotations

import re
from typing import Dict, Optional, Pattern, Tuple

PRODUCT_WORDS: Dict[str, Tuple[str, ...]] = {
    "auto": (
        "auto",
        "automobile",
        "car",
        "vehicle",
        "truck",
        "suv",
        "motor",
        "motorcycle",
        "motorbike",
        "motorist",
        "van",
        "driver",
    ),
    "home": ("home", "house", "household", "homeowner", "condo", "condominium", "property", "properties", "dwelling"),
    "renters": ("renter", "rental", "apartment", "tenant", "tenancy", "flat", "belongings"),
    "travel": (
        "travel",
        "traveling",
        "travelling",
        "traveler",
        "traveller",
        "trip",
        "vacation",
        "holiday",
        "flight",
        "journey",
    ),
    "life": ("life", "term"),
}

# "terms" is the small print, not term life
SINGULAR_ONLY = frozenset({"term"})
# "auto-pay", "auto-renew" and "auto-debit" are billing, not auto insurance
NOT_BEFORE_HYPHEN = frozenset({"auto"})

_INFLECTION = r"(?:['\u2019]s|s['\u2019]?|es)?"


def _form(word: str) -> str:
    inflection = "" if word in SINGULAR_ONLY else _INFLECTION
    end = r"(?![\w-])" if word in NOT_BEFORE_HYPHEN else r"\b"
    return re.escape(word) + inflection + end


def _word_pattern(words: Tuple[str, ...]) -> Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(_form(w) for w in words) + ")")


def _compile(table: Dict[str, Tuple[str, ...]]) -> Dict[str, Pattern[str]]:
    return {canonical: _word_pattern(words) for canonical, words in table.items()}


_PRODUCT_PATTERNS = _compile(PRODUCT_WORDS)


def keyword_match(text: Optional[str], table: Dict[str, Tuple[str, ...]]) -> Optional[str]:
    """Prefix match, kept for incident types and info fields where stems are the point ("vandal" → vandalised)."""
    lowered = (text or "").lower()
    for canonical, words in table.items():
        if lowered == canonical or any(re.search(rf"\b{re.escape(w)}", lowered) for w in words):
            return canonical
    return None


def detect_product(text: Optional[str]) -> Optional[str]:
    lowered = (text or "").lower().strip()
    for canonical, pattern in _PRODUCT_PATTERNS.items():
        if lowered == canonical or pattern.search(lowered):
            return canonical
    return None
