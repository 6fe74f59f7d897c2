"""Rules no score overrides: what may never be shown, how many may be shown today, and variety in what is.

Applied after ranking, so a learned or popular item cannot slip past them:
- no marketing to a customer who is anonymous, has not consented, is upset, or has an open complaint or
  escalation (or just complained);
- no offer of a product the customer already holds;
- nothing they dismissed, ever;
- nothing shown to them in the last REPEAT_DAYS (a claim's checklist once, not again after every answer that
  follows), unless they ask for content themselves (the `on_request` moment: "any tips for winter driving?"
  again gets the winter guide again);
- nothing outside its validity dates;
- a daily cap on items shown per customer (per conversation when anonymous): new items, that is; a customer who
  asks may be shown again what they were shown today (`within_cap`), which adds no item to their day;
- variety: no two items of the same kind and topic in the top k while other candidates remain, and at most one
  offer.
"""

from __future__ import annotations

from datetime import date
from typing import AbstractSet, List, Optional, Sequence, Tuple, TypeVar

import numpy as np

from recommendations.items import Library, LibraryItem
from recommendations.profile import REPEAT_DAYS, CustomerProfile

DAILY_CAP = 6  # items per customer per day: two carousels of three
COMPLAINT_INTENTS = ("complaint", "complain")
ASKED = "on_request"  # the moment the customer asked for guidance (recommendations/vocabulary.py MOMENTS)

T = TypeVar("T")


def complaining(profile: CustomerProfile) -> bool:
    return profile.open_complaint or any(i in COMPLAINT_INTENTS for i in profile.recent_intents[:3])


def marketing_allowed(profile: CustomerProfile) -> bool:
    return profile.marketing_allowed and not complaining(profile)


def repeats_allowed(moment: Optional[str]) -> bool:
    """Only when the customer asks for content may something shown in the last REPEAT_DAYS come again."""
    return moment == ASKED


def refusal(item: LibraryItem, profile: CustomerProfile, day: date, moment: Optional[str] = None) -> Optional[str]:
    """Why this item may not be shown to this customer today at this moment, or None when it may."""
    if item.slug in profile.dismissed:
        return "dismissed"
    if item.slug in profile.recently_shown and not repeats_allowed(moment):
        return f"shown in the last {REPEAT_DAYS} days"
    if not item.valid_on(day):
        return "outside its validity dates"
    if item.marketing and not marketing_allowed(profile):
        return "no marketing to this customer now"
    if item.offers_product is not None and item.offers_product in profile.held_products:
        return f"already holds {item.offers_product}"
    return None


def allowed(
    items: Sequence[LibraryItem], profile: CustomerProfile, day: date, moment: Optional[str] = None
) -> List[LibraryItem]:
    return [item for item in items if refusal(item, profile, day, moment) is None]


def permitted(library: Library, profile: CustomerProfile, day: date, moment: Optional[str] = None) -> np.ndarray:
    """`refusal(...) is None` for every item of the library at once (a boolean per item), without a Python loop
    over thousands of items."""
    ordinal = day.toordinal()
    mask = (library.valid_from <= ordinal) & (ordinal <= library.valid_to)
    if not marketing_allowed(profile):
        mask &= ~library.marketing
    for product in profile.held_products:
        mask &= library.offers != product
    refused = profile.dismissed if repeats_allowed(moment) else (*profile.dismissed, *profile.recently_shown)
    for slug in refused:
        position = library.position.get(slug)
        if position is not None:
            mask[position] = False
    return mask


def room_today(profile: CustomerProfile, k: int, cap: int = DAILY_CAP) -> int:
    """How many new items may still be shown today."""
    return max(0, min(k, cap - profile.shown_today))


def shown_again_today(profile: CustomerProfile, moment: Optional[str]) -> AbstractSet[str]:
    """Items that may be shown at this moment without counting toward the cap: today's, when the customer asks."""
    return frozenset(profile.shown_today_items) if repeats_allowed(moment) else frozenset()


def within_cap(
    ranked: Sequence[Tuple[LibraryItem, T]], room: int, again: AbstractSet[str]
) -> List[Tuple[LibraryItem, T]]:
    """`ranked` (best first) keeping every item of `again` and at most `room` others: after "is there a checklist
    for a car crash?" the checklist shown this morning comes back even on a day whose cap is reached (the
    customer was told "I don't have a guide on that yet" about a guide they had been sent)."""
    kept: List[Tuple[LibraryItem, T]] = []
    for entry in ranked:
        if entry[0].slug in again:
            kept.append(entry)
        elif room > 0:
            kept.append(entry)
            room -= 1
    return kept


def variety_key(item: LibraryItem) -> Tuple[object, ...]:
    """Kind and topic: offers are one kind whatever they sell (one sales pitch at a time); otherwise the category
    and the most specific thing the item is about (incident types, else claim stages, else product lines and
    season), so two collision checklists or two winter tips count as the same, a checklist and a guide do not."""
    if item.marketing:
        return ("offer",)
    subject = item.incident_types or item.claim_stages or (item.product_lines + tuple(item.months))
    return (item.category, tuple(sorted(map(str, subject))))


def diverse_top(ranked: Sequence[Tuple[LibraryItem, T]], k: int) -> List[Tuple[LibraryItem, T]]:
    """The best k of `ranked` (best first) with no repeated kind/topic where the list allows it."""
    chosen: List[Tuple[LibraryItem, T]] = []
    seen = set()
    skipped = []
    for entry in ranked:
        if len(chosen) == k:
            break
        key = variety_key(entry[0])
        if key in seen:
            skipped.append(entry)
            continue
        seen.add(key)
        chosen.append(entry)
    for entry in skipped:  # not enough variety: fill with the best of the rest, in rank order
        if len(chosen) == k:
            break
        if entry[0].marketing and any(c[0].marketing for c in chosen):
            continue
        chosen.append(entry)
    order = {id(entry): position for position, entry in enumerate(ranked)}
    return sorted(chosen, key=lambda entry: order[id(entry)])
