"""Library files are written by people: every problem is reported at once, naming the file, the item and the
field, and nothing half-valid gets through."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from recommendations.library import LibraryError, load_library


def good(slug: str = "tip-good", **fields: object) -> dict:
    base = {
        "id": slug,
        "category": "safety_tip",
        "title": "A title",
        "summary": "A summary.",
        "body": "A body.",
        "image": "webchat/content/safety_tip.svg",
    }
    base.update(fields)
    return base


def problems(tmp_path: Path, *items: object, name: str = "lib.yml") -> list[str]:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"items": list(items)}, sort_keys=False))
    with pytest.raises(LibraryError) as raised:
        load_library([path])
    return [problem.replace(tmp_path.as_posix() + "/", "") for problem in raised.value.problems]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"product_lines": ["auto", "boats"]}, "field product_lines: unknown 'boats'"),
        ({"claim_stages": ["adjuster"]}, "field claim_stages: unknown 'adjuster'"),
        ({"incident_types": ["meteor"]}, "field incident_types: unknown 'meteor'"),
        ({"life_events": ["lottery_win"]}, "field life_events: unknown 'lottery_win'"),
        ({"category": "blog"}, "field category: unknown 'blog'"),
        ({"valid_from": "soon"}, "field valid_from: must be a date"),
        ({"valid_from": date(2027, 2, 1), "valid_to": date(2027, 1, 1)}, "field valid_to: 2027-01-01 is before"),
        ({"marketing": True, "category": "offer"}, "field offers_product: a marketing item must name"),
        ({"offers_product": "home"}, "field offers_product: only marketing items sell"),
        ({"category": "offer", "marketing": True, "offers_product": "yacht"}, "field offers_product: unknown 'yacht'"),
        ({"category": "offer"}, "field marketing: offers are marketing"),
        ({"body": None}, "field body: an item needs a body or a link"),
        ({"link": "http://harbormutual.example/x"}, "field link: must be an https:// address"),
        ({"image": "../secrets.svg"}, "field image: must be a path under"),
        ({"image": "webchat/content/missing.svg"}, "field image: webchat/content/missing.svg does not exist"),
        ({"months": [0, 13]}, "field months: must be a list of month numbers 1-12"),
        ({"locale": "english"}, "field locale: must look like en-US"),
        ({"claim_stage": ["reported"]}, "field claim_stage: unknown field"),
        ({"id": "Tip Good"}, "field id: 'Tip Good' must be lower-case words"),
        ({"title": ""}, "field title: is required"),
        ({"summary": "x" * 501}, "field summary: is 501 characters; at most 500"),
        ({"category": "claim_checklist"}, "field incident_types: a claim checklist must name"),
        ({"category": "claim_guide"}, "field claim_stages: a claim guide must name"),
    ],
)
def test_a_bad_field_is_named(tmp_path: Path, fields: dict, expected: str) -> None:
    found = problems(tmp_path, good(**fields))
    assert any(p.startswith("lib.yml: item ") and expected in p for p in found), found


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        good("tip-one", product_lines=["boats"]),
        good("tip-two", claim_stages=["nope"]),
        good("tip-three"),
    )
    assert len(found) == 2
    assert found[0].startswith("lib.yml: item tip-one: field product_lines")
    assert found[1].startswith("lib.yml: item tip-two: field claim_stages")


def test_an_item_without_an_id_is_named_by_position(tmp_path: Path) -> None:
    found = problems(tmp_path, good(), {"title": "no id"})
    assert any(p.startswith("lib.yml: item #2: field id: is required") for p in found)


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(yaml.safe_dump({"items": [good("tip-same")]}))
    (tmp_path / "b.yml").write_text(yaml.safe_dump({"items": [good("tip-same")]}))
    with pytest.raises(LibraryError) as raised:
        load_library([tmp_path])
    assert raised.value.problems == [
        f"{(tmp_path / 'b.yml').as_posix()}: item tip-same: field id: already used in {(tmp_path / 'a.yml').as_posix()}"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("items: [\n  {id: broken", "cannot be read"),
        ("- just a list\n", "must hold a list under `items:`"),
        ("items: [42]\n", "item #1: must be a mapping of fields"),
    ],
)
def test_unreadable_files(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "lib.yml"
    path.write_text(text)
    with pytest.raises(LibraryError) as raised:
        load_library([path])
    assert expected in str(raised.value)


def test_csv_cells_are_checked_like_yaml(tmp_path: Path) -> None:
    path = tmp_path / "lib.csv"
    path.write_text(
        "id,category,title,summary,body,image,product_lines,marketing\n"
        "tip-a,safety_tip,T,S,B,webchat/content/safety_tip.svg,auto;spaceship,maybe\n"
    )
    with pytest.raises(LibraryError) as raised:
        load_library([path])
    text = str(raised.value)
    assert "lib.csv: item tip-a: field product_lines: unknown 'spaceship'" in text
    assert "lib.csv: item tip-a: field marketing: must be true or false, not 'maybe'" in text


def test_no_files_and_wrong_suffix(tmp_path: Path) -> None:
    with pytest.raises(LibraryError, match="no library files"):
        load_library([tmp_path])
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(LibraryError, match="not a .yml, .yaml or .csv file"):
        load_library([tmp_path / "notes.txt"])
