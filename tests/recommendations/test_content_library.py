"""The demo library itself: enough items, every category, a guide for every claim stage, a checklist for every
incident type, offers that name what they sell, and facts that agree with Harbor Mutual's fact sheet."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from pathlib import Path
from typing import List

import pytest
import yaml

from recommendations.library import DEMO_LIBRARY, ContentSpec, load_library
from recommendations.vocabulary import CATEGORIES, CLAIM_STAGES, CLAIM_STATUS_STAGE, INCIDENT_TYPES, PRODUCT_LINES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def library() -> List[ContentSpec]:
    return load_library([DEMO_LIBRARY])


def test_at_least_80_items_in_every_category(library: List[ContentSpec]) -> None:
    assert len(library) >= 80
    per_category = Counter(item.category for item in library)
    assert set(per_category) == set(CATEGORIES)
    assert min(per_category.values()) >= 10, per_category


def test_every_claim_stage_has_a_guide(library: List[ContentSpec]) -> None:
    guided = {stage for item in library if item.category == "claim_guide" for stage in item.claim_stages}
    assert guided == set(CLAIM_STAGES)
    assert set(CLAIM_STATUS_STAGE.values()) <= guided  # every status a claim row can have


def test_every_incident_type_has_a_checklist(library: List[ContentSpec]) -> None:
    covered = {kind for item in library if item.category == "claim_checklist" for kind in item.incident_types}
    assert covered == set(INCIDENT_TYPES)


def test_the_claim_forms_incident_types_are_in_the_vocabulary() -> None:
    from actions.claims import INCIDENT_LABELS

    assert set(INCIDENT_LABELS) - {"other"} <= set(INCIDENT_TYPES)


def test_every_product_line_has_an_explainer(library: List[ContentSpec]) -> None:
    explained = {line for item in library if item.category == "product_explainer" for line in item.product_lines}
    assert explained == set(PRODUCT_LINES)


def test_marketing_items_are_offers_that_name_what_they_sell(library: List[ContentSpec]) -> None:
    offers = [item for item in library if item.marketing]
    assert len(offers) >= 10
    assert all(item.category == "offer" and item.offers_product for item in offers)
    assert not [item.slug for item in library if not item.marketing and item.category == "offer"]
    assert {item.offers_product for item in offers} >= set(PRODUCT_LINES)


def test_items_are_distinct_and_substantial(library: List[ContentSpec]) -> None:
    assert len({item.title for item in library}) == len(library)
    assert len({item.body for item in library}) == len(library)
    for item in library:
        words = len((item.body or "").split())
        assert words >= 40, f"{item.slug} has a {words}-word body"
        assert not re.search(r"\{\{|\}\}|TODO|lorem|XXX", item.body or "", re.IGNORECASE), item.slug
        assert item.image and (ROOT / item.image).is_file()


def test_phone_numbers_and_addresses_match_the_fact_sheet(library: List[ContentSpec]) -> None:
    sheet = yaml.safe_load((ROOT / "demo_data" / "insurer.yml").read_text())
    phones = set(sheet["phone"].values())
    emails = set(sheet["email"].values())
    for item in library:
        text = f"{item.summary} {item.body}"
        for phone in re.findall(r"1-800-555-\d{4}", text):
            assert phone in phones, f"{item.slug} gives {phone}, not on the fact sheet"
        for email in re.findall(r"[a-z]+@harbormutual\.example", text):
            assert email in emails, f"{item.slug} gives {email}, not on the fact sheet"


def test_most_of_the_library_is_valid_today_and_offers_have_windows(library: List[ContentSpec]) -> None:
    today = date(2026, 12, 10)
    valid = [i for i in library if (i.valid_from or today) <= today <= (i.valid_to or today)]
    assert len(valid) >= 80
    assert any(i.valid_to for i in library if i.marketing)  # time-limited campaigns exist
