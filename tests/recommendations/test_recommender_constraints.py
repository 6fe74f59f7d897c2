"""The recommender's constraints hold on every one of the Harbor judged set's cases, and on harder variants of
them: no marketing to an upset, complaining, non-consenting or anonymous customer; nothing dismissed comes
back; no offer of a held product; nothing outside its dates; the daily cap; one offer at most per list.

The judged set is used here only as a varied supply of realistic profiles: nothing is scored against its grades.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Dict, List, Tuple

import pytest

from benchmarks.recommendations.judged import JudgedCase, load_judged
from benchmarks.recommendations.judged_benchmark import customer_profile
from recommendations.candidates import ItemVectors
from recommendations.constraints import DAILY_CAP, variety_key
from recommendations.items import LibraryItem, from_spec
from recommendations.profile import CustomerProfile, HeldPolicy
from recommendations.recommender import Prior, Recommendation, recommend
from retrieval.encoder import Encoder

Case = Tuple[JudgedCase, CustomerProfile]


@pytest.fixture(scope="module")
def judged() -> Tuple[List[Case], List[LibraryItem]]:
    cases, specs = load_judged()
    library = [from_spec(spec, rank) for rank, spec in enumerate(specs.values())]
    return [(case, customer_profile(case.profile)) for case in cases], library


@pytest.fixture(scope="module")
def vectors() -> ItemVectors:
    return ItemVectors(Encoder())


def by_slug(library: List[LibraryItem]) -> Dict[str, LibraryItem]:
    return {item.slug: item for item in library}


def run(case: JudgedCase, profile: CustomerProfile, library, vectors, k: int = 3) -> List[Recommendation]:
    return recommend(profile, case.moment, library, k, case.day, vectors, Prior())


def test_every_case_gets_three_items_and_breaks_no_constraint(judged, vectors) -> None:
    cases, library = judged
    items = by_slug(library)
    for case, profile in cases:
        found = run(case, profile, library, vectors)
        assert len(found) == 3, case.id
        for rec in found:
            item = items[rec.slug]
            assert not (item.marketing and not profile.marketing_allowed), (case.id, rec.slug)
            assert rec.slug not in profile.dismissed, (case.id, rec.slug)
            assert item.offers_product not in profile.held_products, (case.id, rec.slug)
            assert item.valid_on(case.day), (case.id, rec.slug)
            assert rec.reasons, (case.id, rec.slug)
        assert sum(rec.marketing for rec in found) <= 1, case.id


def test_no_marketing_to_upset_complaining_or_non_consenting_customers_even_when_they_ask(judged, vectors) -> None:
    cases, library = judged
    for case, profile in cases:
        willing = dataclasses.replace(
            profile,
            anonymous=False,
            marketing_consent=True,
            open_complaint=False,
            sentiment="positive",
            recent_questions=("do you have any discounts or offers for me?", *profile.recent_questions),
        )
        variants = {
            "upset": dataclasses.replace(willing, sentiment="negative"),
            "open complaint": dataclasses.replace(willing, open_complaint=True),
            "just complained": dataclasses.replace(willing, recent_intents=("complaint",)),
            "no consent": dataclasses.replace(willing, marketing_consent=False),
            "anonymous": dataclasses.replace(willing, anonymous=True, policies=(), claims=()),
        }
        for name, variant in variants.items():
            found = run(case, variant, library, vectors)
            assert not any(rec.marketing for rec in found), (case.id, name, [r.slug for r in found])


def test_the_constraint_variants_do_get_offers_when_marketing_is_allowed(judged, vectors) -> None:
    """The test above would pass for a recommender that never markets; this one shows the variants can get offers."""
    cases, library = judged
    offered = 0
    for case, profile in cases:
        willing = dataclasses.replace(
            profile,
            anonymous=False,
            marketing_consent=True,
            open_complaint=False,
            sentiment="positive",
            recent_intents=("ask_discounts",),
            recent_questions=("do you have any discounts or offers for me?",),
        )
        offered += any(rec.marketing for rec in run(case, willing, library, vectors))
    assert offered >= len(cases) // 4


def test_a_dismissed_item_never_returns(judged, vectors) -> None:
    cases, library = judged
    for case, profile in cases:
        first = [rec.slug for rec in run(case, profile, library, vectors)]
        dismissed = dataclasses.replace(profile, dismissed=(*profile.dismissed, *first))
        second = [rec.slug for rec in run(case, dismissed, library, vectors)]
        assert not set(first) & set(second), case.id
        assert len(second) == 3, case.id


def test_no_offer_for_a_product_the_customer_holds(judged, vectors) -> None:
    cases, library = judged
    items = by_slug(library)
    for case, profile in cases:
        holds_everything = dataclasses.replace(
            profile,
            anonymous=False,
            marketing_consent=True,
            sentiment="positive",
            open_complaint=False,
            policies=tuple(
                HeldPolicy(product, 2.0, 200)
                for product in {item.offers_product for item in library if item.offers_product}
            ),
            recent_questions=("what else can I buy from you?",),
        )
        found = run(case, holds_everything, library, vectors)
        assert not any(items[rec.slug].offers_product for rec in found), case.id


def test_the_daily_cap_limits_what_is_shown(judged, vectors) -> None:
    case, profile = judged[0][0]
    library = judged[1]
    assert len(run(case, dataclasses.replace(profile, shown_today=DAILY_CAP - 1), library, vectors)) == 1
    assert run(case, dataclasses.replace(profile, shown_today=DAILY_CAP), library, vectors) == []


def test_outside_validity_dates_nothing_is_shown(judged, vectors) -> None:
    cases, library = judged
    winter_offer = next(item for item in library if item.slug == "offer-travel-winter-trip")
    assert winter_offer.valid_to is not None
    profile = CustomerProfile(
        anonymous=False,
        marketing_consent=True,
        recent_questions=("I'm planning a ski trip to Colorado, do I need travel insurance?",),
    )
    case = dataclasses.replace(cases[0][0], moment="on_request", day=winter_offer.valid_to)
    assert "offer-travel-winter-trip" in [r.slug for r in run(case, profile, library, vectors)]
    later = dataclasses.replace(case, day=winter_offer.valid_to + timedelta(days=1))
    assert "offer-travel-winter-trip" not in [r.slug for r in run(later, profile, library, vectors)]


def test_top_three_has_variety_where_the_library_allows(judged, vectors) -> None:
    cases, library = judged
    repeated = 0
    for case, profile in cases:
        keys = [
            variety_key(item) for item in library if item.slug in {r.slug for r in run(case, profile, library, vectors)}
        ]
        repeated += len(keys) != len(set(keys))
    assert repeated <= len(cases) // 10  # only when too few different items are allowed
