"""Keyword tables matched as whole words, for the few places a plain word list is the right tool (which product a
message names, what kind of incident, which contact detail to change).

A word matches itself with its plural and possessive, and, where the table asks for it, its -ed and -ing
forms. Prefix matching was the old rule and it misread customers: "card" and "carpet" named auto, "tell me" named
the phone field, a chipmunk was a glass claim. A word that really is a stem ("vandal" for vandalism, vandalised)
is declared as one.
"""

from __future__ import annotations

import re
from typing import Collection, Dict, Mapping, Optional, Pattern, Tuple

WordTable = Dict[str, Tuple[str, ...]]
# word -> the words that, right before (or after) it, make it mean something else: "back home", "home address"
Contexts = Mapping[str, Tuple[str, ...]]

PLURAL = r"(?:['\u2019]s|s['\u2019]?|es)?"
PLURAL_AND_VERB = r"(?:['\u2019]s|s['\u2019]?|es|ed|ing)?"


def compile_table(
    table: WordTable,
    inflection: str = PLURAL,
    stems: Collection[str] = (),
    exact: Collection[str] = (),
    not_before_hyphen: Collection[str] = (),
    not_after: Optional[Contexts] = None,
    not_before: Optional[Contexts] = None,
) -> Dict[str, Pattern[str]]:
    """One pattern per entry. `stems` match as prefixes, `exact` words take no inflection, and the words in
    `not_before_hyphen` do not match as the first half of a hyphenated word ("auto-pay" is not auto). A word in
    `not_after` does not match right after one of its listed words, nor one in `not_before` right before one
    ("back home" and "home address" say nothing about home insurance, a "flat tire" is not a flat)."""

    not_after, not_before = not_after or {}, not_before or {}

    def form(word: str) -> str:
        if word in stems:
            return re.escape(word)
        ending = r"(?![\w-])" if word in not_before_hyphen else r"\b"
        before = "".join(rf"(?<!\b{re.escape(w)} )" for w in not_after.get(word, ()))
        after = "".join(rf"(?! {re.escape(w)}\b)" for w in not_before.get(word, ()))
        return before + re.escape(word) + ("" if word in exact else inflection) + ending + after

    return {key: re.compile(r"\b(?:" + "|".join(form(w) for w in words) + ")") for key, words in table.items()}


def first_match(text: Optional[str], patterns: Dict[str, Pattern[str]]) -> Optional[str]:
    """The first entry (in table order) that the text names, or the entry the text is exactly."""
    lowered = (text or "").lower().strip()
    for key, pattern in patterns.items():
        if lowered == key or pattern.search(lowered):
            return key
    return None
