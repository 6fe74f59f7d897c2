"""Importing the content library into SQL, on SQLite and PostgreSQL: idempotent, retire on removal (never
delete), nothing written from a bad file, validity dates, the query helpers, and the event tables' guards."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path
from typing import Iterator

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from recommendations.__main__ import main as recommendations_cli
from recommendations.library import (
    DEMO_LIBRARY,
    LibraryError,
    import_library,
    item_by_slug,
    items_for_claim_stage,
    items_for_incident_type,
    items_for_product_line,
    load_library,
    valid_items,
)
from storage.engine import session_scope
from storage.migrate import upgrade
from storage.models import ContentEvent, ContentImpression, ContentItem

IMAGE = "webchat/content/safety_tip.svg"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated database of each kind (PostgreSQL skipped only when no server answers)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'content.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    upgrade(url)
    yield url


def item(slug: str, **fields: object) -> dict:
    base = {
        "id": slug,
        "category": "safety_tip",
        "title": f"Title of {slug}",
        "summary": "A short summary.",
        "body": "Some useful text.",
        "image": IMAGE,
        "product_lines": ["home"],
    }
    base.update(fields)
    return base


def write(path: Path, *items: dict) -> Path:
    path.write_text(yaml.safe_dump({"items": list(items)}, sort_keys=False))
    return path


def count(url: str, retired: bool | None = None) -> int:
    with session_scope(url) as session:
        query = select(func.count()).select_from(ContentItem)
        if retired is not None:
            query = query.where(ContentItem.retired_at.isnot(None) if retired else ContentItem.retired_at.is_(None))
        return session.scalar(query)


def test_demo_library_imports_once_then_changes_nothing(db_url: str) -> None:
    expected = len(load_library([DEMO_LIBRARY]))
    with session_scope(db_url) as session:
        first = import_library(session, [DEMO_LIBRARY])
    assert (first.added, first.updated, first.retired) == (expected, 0, 0)
    with session_scope(db_url) as session:
        stamp = item_by_slug(session, "checklist-auto-collision").updated_at
    with session_scope(db_url) as session:
        again = import_library(session, [DEMO_LIBRARY])
    assert (again.added, again.updated, again.unchanged, again.retired) == (0, 0, expected, 0)
    assert count(db_url) == expected
    with session_scope(db_url) as session:
        row = item_by_slug(session, "checklist-auto-collision")
        assert row.updated_at == stamp  # an unchanged item is not rewritten
        assert row.incident_types == ["collision"] and row.product_lines == ["auto"]
        assert row.source == "demo_data/content/claim_checklists.yml"


def test_edit_retire_and_restore(db_url: str, tmp_path: Path) -> None:
    library = tmp_path / "lib"
    library.mkdir()
    a, b = item("tip-a"), item("tip-b")
    write(library / "tips.yml", a, b)
    with session_scope(db_url) as session:
        assert import_library(session, [library], now=datetime(2027, 1, 1)).added == 2
    write(library / "tips.yml", {**a, "title": "A better title"})
    with session_scope(db_url) as session:
        result = import_library(session, [library], now=datetime(2027, 1, 2))
    assert (result.updated, result.retired, result.unchanged) == (1, 1, 0)
    with session_scope(db_url) as session:
        assert item_by_slug(session, "tip-a").title == "A better title"
        retired = item_by_slug(session, "tip-b")
        assert retired is not None and retired.retired_at == datetime(2027, 1, 2)  # kept, not deleted
        assert [i.slug for i in valid_items(session, date(2027, 1, 3))] == ["tip-a"]
    write(library / "tips.yml", {**a, "title": "A better title"}, b)
    with session_scope(db_url) as session:
        assert import_library(session, [library], now=datetime(2027, 1, 4)).restored == 1
        assert item_by_slug(session, "tip-b").updated_at == datetime(2027, 1, 4)
    assert count(db_url, retired=True) == 0


def test_a_deleted_file_retires_its_items_but_another_import_leaves_them(db_url: str, tmp_path: Path) -> None:
    library = tmp_path / "lib"
    library.mkdir()
    tips = write(library / "tips.yml", item("tip-a"))
    other = write(tmp_path / "other.yml", item("tip-b"))
    with session_scope(db_url) as session:
        import_library(session, [library])
        assert import_library(session, [other]).retired == 0  # importing other.yml does not touch lib/
    assert count(db_url, retired=False) == 2
    tips.unlink()
    write(library / "more.yml", item("tip-c"))
    with session_scope(db_url) as session:
        result = import_library(session, [library])
    assert (result.added, result.retired) == (1, 1)
    with session_scope(db_url) as session:
        assert item_by_slug(session, "tip-a").retired_at is not None
        assert item_by_slug(session, "tip-b").retired_at is None


def test_a_bad_file_writes_nothing(db_url: str, tmp_path: Path) -> None:
    library = tmp_path / "lib"
    library.mkdir()
    write(library / "good.yml", item("tip-a"))
    write(library / "bad.yml", item("tip-b", product_lines=["boat"]))
    with session_scope(db_url) as session, pytest.raises(LibraryError) as raised:
        import_library(session, [library])
    assert "bad.yml: item tip-b: field product_lines: unknown 'boat'" in str(raised.value)
    assert count(db_url) == 0


def test_csv_import(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "offers.csv"
    path.write_text(
        "id,category,title,summary,body,image,product_lines,life_events,marketing,offers_product,valid_from,valid_to\n"
        "offer-x,offer,Save on home,15% off,Bundle and save.,webchat/content/offer.svg,auto; renters,moving,yes,home,"
        "2027-01-01,2027-06-30\n"
    )
    with session_scope(db_url) as session:
        assert import_library(session, [path]).added == 1
        row = item_by_slug(session, "offer-x")
        assert row.marketing is True and row.offers_product == "home"
        assert row.product_lines == ["auto", "renters"] and row.life_events == ["moving"]
        assert (row.valid_from, row.valid_to) == (date(2027, 1, 1), date(2027, 6, 30))


def test_validity_window_is_inclusive(db_url: str, tmp_path: Path) -> None:
    path = write(
        tmp_path / "lib.yml",
        item("tip-always"),
        item("tip-window", valid_from=date(2027, 1, 1), valid_to=date(2027, 1, 31)),
        item("tip-from", valid_from=date(2027, 2, 1)),
        item("tip-until", valid_to=date(2026, 12, 31)),
    )
    with session_scope(db_url) as session:
        import_library(session, [path])
        on = {day: [i.slug for i in valid_items(session, day)] for day in (date(2026, 12, 31), date(2027, 1, 1))}
        on[date(2027, 1, 31)] = [i.slug for i in valid_items(session, date(2027, 1, 31))]
        on[date(2027, 2, 1)] = [i.slug for i in valid_items(session, date(2027, 2, 1))]
    assert on[date(2026, 12, 31)] == ["tip-always", "tip-until"]
    assert on[date(2027, 1, 1)] == ["tip-always", "tip-window"]
    assert on[date(2027, 1, 31)] == ["tip-always", "tip-window"]
    assert on[date(2027, 2, 1)] == ["tip-always", "tip-from"]


def test_query_helpers_on_the_demo_library(db_url: str) -> None:
    with session_scope(db_url) as session:
        import_library(session, [DEMO_LIBRARY])
        day = date(2026, 12, 10)
        glass = {i.slug for i in items_for_incident_type(session, "glass", day)}
        appeal = {i.slug for i in items_for_claim_stage(session, "appeal", day)}
        travel = items_for_product_line(session, "travel", day)
        summer_offer = item_by_slug(session, "offer-travel-summer-trip")
    assert "checklist-auto-glass" in glass and "checklist-home-fire" not in glass
    assert appeal == {"guide-claim-appeal"}
    assert all(not i.product_lines or "travel" in i.product_lines for i in travel)
    assert "checklist-travel-lost-luggage" in {i.slug for i in travel}
    assert summer_offer.slug not in {i.slug for i in travel}  # valid from May 2027 only


def test_event_tables_accept_the_four_kinds_only(db_url: str) -> None:
    with session_scope(db_url) as session:
        import_library(session, [DEMO_LIBRARY])
        content = item_by_slug(session, "tip-winter-driving")
        shown = ContentImpression(
            content_item_id=content.id, conversation_id="rest:abc", channel="rest", moment="on_request"
        )
        session.add(shown)
        session.flush()
        for kind in ("impression", "open", "dismiss", "conversion"):
            session.add(
                ContentEvent(
                    kind=kind,
                    content_item_id=content.id,
                    impression_id=shown.id,
                    conversation_id="rest:abc",
                    channel="rest",
                )
            )
    with session_scope(db_url) as session:
        assert session.scalar(select(func.count()).select_from(ContentEvent)) == 4
    with pytest.raises(IntegrityError), session_scope(db_url) as session:
        session.add(ContentEvent(kind="like", content_item_id=content.id, conversation_id="rest:abc", channel="rest"))


def test_cli_check_and_import(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    library = tmp_path / "lib"
    shutil.copytree(DEMO_LIBRARY, library)
    assert recommendations_cli(["check", str(library)]) == 0
    assert recommendations_cli(["import", str(library)]) == 0
    assert "0 restored, 0 retired" in capsys.readouterr().out
    write(library / "broken.yml", item("tip-x", claim_stages=["adjuster"]))
    assert recommendations_cli(["import", str(library)]) == 2
    assert "broken.yml: item tip-x: field claim_stages: unknown 'adjuster'" in capsys.readouterr().err
    assert recommendations_cli(["import", str(tmp_path / "missing")]) == 2
