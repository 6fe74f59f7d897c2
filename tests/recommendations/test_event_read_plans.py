"""A customer's own content events are read through the customer's, conversation's and impression's indexes, never
through the period indexes the analytics use (migration 0022: every open of every customer, every impression of a
day), which SQLite without statistics (nothing runs ANALYZE on the embedded default) chose for them: the profile a
recommendation reads took 45 ms and recording a tracked open 38 ms at 60,000 events, growing with the table
(benchmarks/results/recommendations_latency.md). Checked on the plans of the statements really issued, on a
migrated SQLite file, and on PostgreSQL for the one lookup an index now serves (sequential scans priced out, as
tests/recommendations/test_library_cache.py does: whether an index *can* serve it, whatever the planner prefers
for a few rows)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, List, Tuple

from sqlalchemy import event as event_api
from sqlalchemy import select, text

from recommendations.events import Showing, record_dismissal, record_impressions, record_open
from recommendations.library import DEMO_LIBRARY, import_library
from recommendations.profile import load_profile
from storage.engine import get_engine, session_scope
from storage.migrate import upgrade
from storage.models import ContentImpression, ContentItem, Conversation, Customer, Policy, utcnow
from storage.seed import seed
from storage.verification import record_verification
from tests.support.databases import migrated_sqlite

WHATSAPP = "whatsapp:15550004444"
PERIOD_INDEXES = ("ix_content_events_kind_at", "ix_content_impressions_shown_at")


def book(url: str) -> Tuple[int, int]:
    """The demo library, a verified WhatsApp customer shown three items, and other customers' events beside them.
    Returns (an impression of the customer's, another one)."""
    now = utcnow()
    with session_scope(url) as session:
        import_library(session, [DEMO_LIBRARY])
        customer = session.scalars(select(Customer).join(Policy).where(Policy.number == "PX-88123")).one()
        items = session.scalars(select(ContentItem.id).order_by(ContentItem.id).limit(12)).all()
        for n in range(3):  # others' impressions and opens
            other = f"telegram:55500010{n}"
            session.add(Conversation(id=other, channel="telegram"))
            session.flush()
            shown = record_impressions(
                session,
                [Showing(i, p) for p, i in enumerate(items[3:])],
                conversation_id=other,
                channel="telegram",
                moment="on_request",
                now=now - timedelta(hours=n),
            )
            for impression in shown[:4]:
                record_open(session, impression, now=now)
        session.add(Conversation(id=WHATSAPP, channel="whatsapp"))
        session.flush()
        record_verification(session, WHATSAPP, customer.id, "policy_dob", "PX-88123", now=now - timedelta(minutes=3))
        mine = record_impressions(
            session,
            [Showing(i, p) for p, i in enumerate(items[:3])],
            conversation_id=WHATSAPP,
            channel="whatsapp",
            moment="claim_filed",
            customer_id=customer.id,
            now=now,
        )
        return mine[0].id, mine[1].id


def statements_of(url: str, work: Callable[[Any], Any]) -> List[Tuple[str, Any]]:
    """The SELECTs `work(session)` sends, with their parameters."""
    engine = get_engine(url)
    seen: List[Tuple[str, Any]] = []

    def note(connection, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event_api.listen(engine, "before_cursor_execute", note)
    try:
        with session_scope(url) as session:
            work(session)
    finally:
        event_api.remove(engine, "before_cursor_execute", note)
    return seen


def sqlite_plan(url: str, statement: str, parameters: Any) -> List[str]:
    with get_engine(url).connect() as connection:
        return [row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]


def event_lines(url: str, statements: List[Tuple[str, Any]]) -> List[str]:
    lines = [line for statement, parameters in statements for line in sqlite_plan(url, statement, parameters)]
    return [line for line in lines if "content_events" in line or "content_impressions" in line]


def test_the_profile_reads_the_customers_own_events_by_their_indexes(tmp_path: Path) -> None:
    url = migrated_sqlite(tmp_path / "coverline.db")
    book(url)
    lines = event_lines(url, statements_of(url, lambda session: load_profile(session, WHATSAPP)))
    assert lines and any("ix_content_events_customer_kind" in line for line in lines), lines
    assert not [line for line in lines if any(index in line for index in PERIOD_INDEXES)], lines
    assert not [line for line in lines if line.startswith("SCAN")], lines


def test_an_open_and_a_dismissal_look_up_the_impressions_own_events(tmp_path: Path) -> None:
    url = migrated_sqlite(tmp_path / "coverline.db")
    opened, dismissed = book(url)

    def follow_and_dismiss(session) -> None:  # type: ignore[no-untyped-def]
        record_open(session, session.get(ContentImpression, opened))
        assert record_dismissal(session, WHATSAPP, dismissed) is not None

    lines = event_lines(url, statements_of(url, follow_and_dismiss))
    lookups = [line for line in lines if "ix_content_events_impression_kind" in line]
    assert len(lookups) == 2, lines
    assert not [line for line in lines if any(index in line for index in PERIOD_INDEXES)], lines


def test_on_postgresql_the_impressions_events_have_an_index_of_their_own(fresh_postgres_url: str) -> None:
    url = fresh_postgres_url
    upgrade(url)
    with session_scope(url) as session:
        seed(session)
    opened, _ = book(url)
    statements = statements_of(url, lambda session: record_open(session, session.get(ContentImpression, opened)))
    lookup = next(s for s, _ in statements if "FROM content_events" in s)
    parameters = next(p for s, p in statements if s == lookup)
    with get_engine(url).connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE content_events"))
        connection.execute(text("SET enable_seqscan = off"))
        plan = [row[0] for row in connection.exec_driver_sql(f"EXPLAIN {lookup}", parameters)]
        connection.execute(text("RESET enable_seqscan"))
    assert any("ix_content_events_impression_kind" in line for line in plan), plan
