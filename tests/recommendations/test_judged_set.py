"""The Harbor judged set loads, is big and varied enough, and its loader refuses a case that names a missing
item or grades one the recommender's constraints forbid (the set must be satisfiable by an obedient ranker)."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import date
from typing import Any, Dict

import pytest

from benchmarks.recommendations.judged import JUDGED_FILE, JudgedSetError, load_judged, parse_cases
from recommendations.library import DEMO_LIBRARY, load_library
from recommendations.vocabulary import MOMENTS


@pytest.fixture(scope="module")
def items() -> Dict[str, Any]:
    return {spec.slug: spec for spec in load_library([DEMO_LIBRARY])}


def test_the_set_has_100_varied_cases() -> None:
    cases, items = load_judged()
    assert len(cases) >= 100
    assert set(Counter(case.moment for case in cases)) == set(MOMENTS)
    assert min(Counter(case.moment for case in cases).values()) >= 15
    assert sum(case.profile.anonymous for case in cases) >= 10
    assert sum(not case.profile.marketing_allowed for case in cases) >= 30  # the constraints get exercised
    assert sum(any(items[s].marketing for s in case.relevant) for case in cases) >= 20
    assert len({case.profile.channel for case in cases}) >= 6
    assert len({slug for case in cases for slug in case.relevant}) >= 0.9 * len(items)


def test_the_header_keeps_it_out_of_tuning() -> None:
    header = JUDGED_FILE.read_text().split("cases:")[0]
    assert "KEPT OUT OF ANY TUNING" in header


def case(**changes: Any) -> Dict[str, Any]:
    base = {
        "id": "c1",
        "moment": "claim_filed",
        "profile": {
            "customer": "known",
            "policies": [{"product": "auto", "tenure_years": 2, "renewal_in_days": 100}],
            "claims": [{"product": "auto", "incident_type": "glass", "stage": "reported"}],
            "sentiment": "neutral",
            "channel": "webchat",
            "marketing_consent": True,
        },
        "relevant": {"checklist-auto-glass": 3},
    }
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        if key in base["profile"] or key in ("dismissed", "open_complaint", "customer"):
            merged["profile"][key] = value
        else:
            merged[key] = value
    return merged


def parse(items: Dict[str, Any], *cases: Dict[str, Any]) -> Any:
    return parse_cases({"defaults": {"day": date(2026, 12, 10)}, "cases": list(cases)}, items, source="set")


def test_a_good_case_parses(items: Dict[str, Any]) -> None:
    (parsed,) = parse(items, case())
    assert parsed.profile.held_products == ("auto",) and parsed.relevant == {"checklist-auto-glass": 3}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"relevant": {"checklist-auto-sunroof": 3}}, "relevant.checklist-auto-sunroof: no such item"),
        ({"relevant": {"checklist-auto-glass": 5}}, "grade must be 1, 2 or 3"),
        ({"relevant": {}}, "relevant: needs at least one graded item"),
        ({"moment": "birthday"}, "moment: unknown 'birthday'"),
        ({"claims": [{"product": "auto", "incident_type": "glass", "stage": "adjuster"}]}, "claims.stage: unknown"),
        ({"sentiment": "furious"}, "profile.sentiment: unknown 'furious'"),
        ({"dismissed": ["checklist-auto-glass"]}, "the customer dismissed it"),
        (
            {"relevant": {"offer-drivewell": 2}, "sentiment": "negative"},
            "a marketing item for a customer who must not get marketing",
        ),
        (
            {"relevant": {"offer-drivewell": 2}, "open_complaint": True},
            "a marketing item for a customer who must not get marketing",
        ),
        (
            {"relevant": {"offer-drivewell": 2}, "marketing_consent": False},
            "a marketing item for a customer who must not get marketing",
        ),
        ({"relevant": {"offer-safe-driver-switch": 2}}, "offers auto, which the customer already holds"),
        ({"relevant": {"offer-travel-summer-trip": 2}}, "not valid on 2026-12-10"),
        ({"customer": "anonymous"}, "an anonymous customer has no known policies or claims"),
        ({"weather": "rain"}, "weather: unknown field"),
    ],
)
def test_a_bad_case_is_refused_by_name(items: Dict[str, Any], changes: Dict[str, Any], expected: str) -> None:
    with pytest.raises(JudgedSetError) as raised:
        parse(items, case(**changes))
    assert any(p.startswith("set: case c1: ") and expected in p for p in raised.value.problems), raised.value


def test_duplicate_case_ids(items: Dict[str, Any]) -> None:
    with pytest.raises(JudgedSetError, match="id: is used by an earlier case"):
        parse(items, case(), case())


def test_a_retired_item_breaks_the_set() -> None:
    """If an item leaves the library, the judged set says which cases still grade it."""
    library = [spec for spec in load_library([DEMO_LIBRARY]) if spec.slug != "checklist-auto-glass"]
    with pytest.raises(JudgedSetError) as raised:
        load_judged(library=library)
    assert any("relevant.checklist-auto-glass: no such item" in p for p in raised.value.problems)
