"""The library cache's change check, on SQLite and PostgreSQL: the same fingerprint as the three aggregates in one
SELECT, a re-read after every add, edit and retirement (and only then), and an index behind each aggregate (the
check runs in every recommendation; one SELECT of the three read every row with its body)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Iterator, List, Optional

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from recommendations.items import LibraryCache, _fingerprint, fingerprint_query
from storage.engine import get_engine, session_scope
from storage.migrate import upgrade
from storage.models import ContentItem

STAMP = datetime(2026, 12, 1, 9, 0)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cache.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    upgrade(url)
    yield url


def add(session: Session, slug: str, at: datetime, retired_at: Optional[datetime] = None) -> ContentItem:
    row = ContentItem(
        slug=slug,
        category="safety_tip",
        title=f"Title of {slug}",
        summary="A short summary.",
        body="Some useful text.",
        content_hash=slug,
        created_at=at,
        updated_at=at,
        retired_at=retired_at,
    )
    session.add(row)
    session.flush()
    return row


def one_select(session: Session) -> tuple:
    """The check as it was written before 0017: what the fingerprint must still equal."""
    return tuple(
        session.execute(
            select(func.count(ContentItem.id), func.max(ContentItem.updated_at), func.max(ContentItem.retired_at))
        ).one()
    )


def slugs(cache: LibraryCache, url: str) -> List[str]:
    with session_scope(url) as session:
        return [item.slug for item in cache.library(session).items]


def test_fingerprint_equals_the_three_aggregates(db_url: str) -> None:
    with session_scope(db_url) as session:
        assert _fingerprint(session) == one_select(session) == (0, None, None)
        add(session, "tip-a", STAMP)
        add(session, "tip-b", STAMP.replace(hour=10), retired_at=STAMP.replace(hour=11))
        assert _fingerprint(session) == one_select(session) == (2, STAMP.replace(hour=10), STAMP.replace(hour=11))


def test_the_cache_rereads_after_an_add_an_edit_and_a_retirement_only(db_url: str) -> None:
    cache = LibraryCache()
    with session_scope(db_url) as session:
        add(session, "tip-a", STAMP)
    assert slugs(cache, db_url) == ["tip-a"]
    with session_scope(db_url) as session:
        first = cache.library(session)
        assert cache.library(session) is first  # nothing changed: the same snapshot
        add(session, "tip-b", STAMP.replace(hour=10))
    assert slugs(cache, db_url) == ["tip-a", "tip-b"]
    with session_scope(db_url) as session:
        row = session.scalar(select(ContentItem).where(ContentItem.slug == "tip-a"))
        row.title, row.updated_at = "A new title", STAMP.replace(hour=12)
    with session_scope(db_url) as session:
        assert [item.title for item in cache.library(session).items][0] == "A new title"
    with session_scope(db_url) as session:
        row = session.scalar(select(ContentItem).where(ContentItem.slug == "tip-b"))
        row.retired_at = STAMP.replace(hour=13)
    assert slugs(cache, db_url) == ["tip-a"]


def plan(url: str) -> List[str]:
    """The fingerprint's plan lines that read content_items. On PostgreSQL after VACUUM (autovacuum's job on a
    live table: it marks the pages all-visible, which an index-only count needs) and with sequential scans priced
    out, so the plan shows whether an index *can* serve each aggregate, whatever the planner prefers for a few
    rows."""
    engine = get_engine(url)
    sql = str(fingerprint_query().compile(engine))
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            rows = connection.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
            return [row[3] for row in rows if "content_items" in row[3]]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE content_items"))
        connection.execute(text("SET enable_seqscan = off"))
        lines = [row[0] for row in connection.execute(text(f"EXPLAIN {sql}"))]
        connection.execute(text("RESET enable_seqscan"))  # the connection goes back to the pool
    return [line for line in lines if "content_items" in line]


def test_each_aggregate_reads_an_index_not_the_table(db_url: str) -> None:
    with session_scope(db_url) as session:
        for n in range(20):
            add(session, f"tip-{n}", STAMP.replace(minute=n))
    lines = plan(db_url)
    assert len(lines) == 3, lines
    if db_url.startswith("sqlite"):
        assert all("USING COVERING INDEX" in line for line in lines), lines
        assert any("ix_content_items_updated_at" in line for line in lines), lines
    else:
        assert all("Index Only Scan" in line for line in lines), lines
        assert any("Backward using ix_content_items_updated_at" in line for line in lines), lines
        assert any("Backward using ix_content_items_retired_category" in line for line in lines), lines
