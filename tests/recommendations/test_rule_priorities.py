"""The recommender scores the rules as arrays over the whole library (`rule_priorities`); the rules as written
go item by item (`rule_candidates`). They must give every item the same priority, or a customer would be shown
something else than the rules say: checked over the Harbor judged set's profiles (only as a varied supply of
realistic customers), at every moment and in every month, and over harder variants (claims at every stage and
incident, overdue bills, renewals, quotes for every product, anonymous customers, items not permitted)."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Iterator, List, Tuple

import numpy as np
import pytest

from benchmarks.recommendations.judged import load_judged
from benchmarks.recommendations.judged_benchmark import customer_profile
from recommendations.candidates import rule_candidates, rule_priorities
from recommendations.constraints import permitted
from recommendations.items import Library, from_spec
from recommendations.profile import ClaimState, CustomerProfile, HeldPolicy, QuoteGiven
from recommendations.vocabulary import CLAIM_STAGES, INCIDENT_TYPES, MOMENTS, PRODUCT_LINES


@pytest.fixture(scope="module")
def library_and_profiles() -> Tuple[Library, List[CustomerProfile]]:
    cases, specs = load_judged()
    library = Library([from_spec(spec, rank) for rank, spec in enumerate(specs.values())])
    return library, [customer_profile(case.profile) for case in cases]


def variants(profile: CustomerProfile, n: int) -> Iterator[CustomerProfile]:
    yield profile
    yield dataclasses.replace(profile, anonymous=True, policies=(), claims=())
    product = PRODUCT_LINES[n % len(PRODUCT_LINES)]
    claim = ClaimState(product, INCIDENT_TYPES[n % len(INCIDENT_TYPES)], CLAIM_STAGES[n % len(CLAIM_STAGES)])
    yield dataclasses.replace(
        profile,
        anonymous=False,
        claims=(*profile.claims, claim),
        quotes=(QuoteGiven(PRODUCT_LINES[(n + 2) % len(PRODUCT_LINES)], 3),),
        policies=(*profile.policies, HeldPolicy(product, 2.0, n % 40)),
        payment_overdue_days=n % 3,
        marketing_consent=True,
    )


def rules_as_written(profile, moment, library, day, allowed) -> np.ndarray:
    expected = np.zeros(len(library))
    for position, candidate in rule_candidates(profile, moment, library, day, allowed).items():
        expected[position] = candidate.priority
    return expected


def test_array_rules_give_every_item_the_priority_the_written_rules_give(library_and_profiles) -> None:
    library, profiles = library_and_profiles
    checked = asked = 0
    for n, base in enumerate(profiles):
        day = date(2026, n % 12 + 1, 15)
        for profile in variants(base, n):
            allowed = permitted(library, profile, day)
            if n % 4 == 0:  # some items not permitted: no rule may bring them back
                allowed = allowed & (np.arange(len(library)) % 3 != 0)
            for moment in MOMENTS:
                expected = rules_as_written(profile, moment, library, day, allowed)
                assert rule_priorities(profile, moment, library, day, allowed).tolist() == expected.tolist(), (
                    f"{moment} on {day} for {profile}"
                )
                checked += 1
                asked += int((expected > 0).sum())
    assert checked == len(profiles) * 3 * len(MOMENTS)
    assert asked > 1000  # the rules did ask for items: the comparison was not of empty arrays
