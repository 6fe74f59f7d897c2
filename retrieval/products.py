"""Which product line a customer's message is about, from plain keywords.

Shared by the actions (slot filling), retrieval (keeping a travel question away from life replies) and the
harvest of agent replies (the product a proposed past reply is filed under). Order matters: the first product
whose word appears wins ("rental car" is auto), and a word in a phrase that means something else is skipped
("back home", "home address", "flat tire").

Product words match whole words, with their plural and possessive (retrieval/keywords.py): "car" must not name
"cart", "card" or "career", "auto" must not name "automatic" and "term" must not name "termite" or "terms and
conditions". A message filed under the wrong product is hidden by the product filter from the customers who need
it.
"""

from __future__ import annotations

from typing import Optional

from retrieval.keywords import WordTable, compile_table, first_match

PRODUCT_WORDS: WordTable = {
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
        "tire",
        "tyre",
        "windshield",
        "windscreen",
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
    "life": ("life", "term", "death benefit", "beneficiary"),
}

# "home" as a place one goes, comes back to or works from, not the insured building: "my apartment back home" is
# renters, "I work from home" says nothing, "when I get home I'll send the photos of the car" is auto
_WAYS_HOME = (
    "back", "at", "from", "get", "gets", "got", "go", "goes", "going", "went", "come", "comes", "came", "coming",
    "way", "drive", "drove", "driving", "walk", "walked", "walking", "head", "heading", "headed", "fly", "flew",
    "flying", "return", "returned", "returning", "arrive", "arrived", "arriving", "stay", "stayed", "staying",
    "sent", "send", "ride", "rode", "travel", "travelled", "traveled",
    "travelling", "traveling", "work", "working", "worked",
)  # fmt: skip

_PRODUCT_PATTERNS = compile_table(
    PRODUCT_WORDS,
    exact={"term"},  # "terms" is the small print, not term life
    not_before_hyphen={"auto"},  # "auto-pay", "auto-renew" and "auto-debit" are billing, not auto insurance
    not_after={"home": _WAYS_HOME},
    not_before={
        "home": ("address", "phone", "number", "page", "screen", "town", "country"),  # contact details, the app
        "flat": ("tire", "tires", "tyre", "tyres", "fee", "fees", "rate", "rates", "out"),  # a puncture, a price
    },
)


def detect_product(text: Optional[str]) -> Optional[str]:
    return first_match(text, _PRODUCT_PATTERNS)
