"""The conversation summary analytics reads (storage/summary.py) says what the log says: written with each
message, handoff, rating and recommendation open whatever their order, measured again when a handoff is
resolved, the same after the backfill of migrations 0018-0020 and 0024 and after `backfill`, and not lost when
two transactions write one conversation at once. On SQLite and, when it answers, PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import MetaData, Table, select, update
from sqlalchemy.orm import Session

from analytics import (
    Granularity,
    MetricFilter,
    bot_resolution,
    conversation_volume,
    intents_seen,
    message_volume,
    sentiment_share,
    units,
)
from conversations.projection import record_event
from recommendations.events import Showing, record_dismissal, record_impressions, record_open
from storage.engine import dispose_engines, get_engine, session_scope
from storage.migrate import alembic_config, upgrade
from storage.models import (
    AnswerHour,
    ContentEvent,
    ContentImpression,
    ContentItem,
    Conversation,
    ConversationIntent,
    ConversationProduct,
    Escalation,
    IntentHour,
    Message,
    MessageHour,
)
from storage.summary import backfill
from tests.support.analytics_fixtures import AS_OF, C1, C3, C4, C5, C6, C9, ZONE, write_fixture
from tests.support.databases import migrated_sqlite, postgres_answers, postgres_database

BEFORE_SUMMARY = "0017_content_items_updated_at"
LOG_TABLES = (
    "past_replies",
    "conversations",
    "messages",
    "escalations",
    "answer_feedback",
    "content_items",
    "content_impressions",
    "content_events",
)
T0 = datetime(2026, 5, 4, 14, 0)
NY = ZoneInfo(ZONE)  # a Monday afternoon, naive UTC as the log stores it


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database per module and dialect; each test writes conversations of its own."""
    if request.param == "sqlite":
        yield migrated_sqlite(tmp_path_factory.mktemp("summary") / "log.db")
        dispose_engines()
        return
    if not postgres_answers():
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    for found in postgres_database():
        upgrade(found)
        yield found


def summary_of(session: Session, conversation_id: str) -> Dict[str, Any]:
    row = session.execute(
        select(
            Conversation.last_customer_at,
            Conversation.last_bot_at,
            Conversation.first_agent_at,
            Conversation.first_handoff_at,
            Conversation.thumbs_up,
            Conversation.thumbs_down,
        ).where(Conversation.id == conversation_id)
    ).one()
    return dict(row._mapping)


def products_of(session: Session, conversation_id: str) -> Dict[str, Tuple[datetime, datetime]]:
    rows = session.execute(
        select(
            ConversationProduct.product, ConversationProduct.first_named_at, ConversationProduct.last_named_at
        ).where(ConversationProduct.conversation_id == conversation_id)
    )
    return {product: (first, last) for product, first, last in rows}


def first_responses(session: Session, conversation_id: str) -> List[Optional[datetime]]:
    query = select(Escalation.first_response_at).where(Escalation.conversation_id == conversation_id)
    return list(session.scalars(query.order_by(Escalation.id)))


def snapshot(session: Session) -> Dict[str, Any]:
    """Every summary value in the database, comparable across databases (no generated ids)."""
    conversations = session.execute(
        select(
            Conversation.id,
            Conversation.last_customer_at,
            Conversation.last_bot_at,
            Conversation.first_agent_at,
            Conversation.first_handoff_at,
            Conversation.thumbs_up,
            Conversation.thumbs_down,
        ).order_by(Conversation.id)
    )
    handoffs = session.execute(
        select(Escalation.conversation_id, Escalation.created_at, Escalation.first_response_at).order_by(
            Escalation.conversation_id, Escalation.created_at
        )
    )
    products = session.execute(select(ConversationProduct.__table__).order_by("conversation_id", "product"))
    labels = session.execute(
        select(
            Message.event_key,
            Message.sentiment_label,
            Message.first_answer_at,
            Message.answered_by_fallback,
            Message.answered_from_past_reply,
            Message.previous_agent_at,
            Message.waiting_since,
        ).order_by(Message.event_key)
    )
    intents = session.execute(select(IntentHour.__table__).order_by("hour", "channel", "intent"))
    seen = session.execute(select(ConversationIntent.__table__).order_by("conversation_id", "intent"))
    answers = session.execute(select(AnswerHour.__table__).order_by("hour", "channel", "fallback", "past_reply"))
    hours = session.execute(select(MessageHour.__table__).order_by("hour", "channel", "author", "sentiment"))
    opens = session.execute(
        select(ContentImpression.conversation_id, ContentItem.slug, ContentImpression.opened_at)
        .join(ContentItem, ContentItem.id == ContentImpression.content_item_id)
        .order_by(ContentImpression.conversation_id, ContentItem.slug)
    )
    return {
        "opens": [tuple(r) for r in opens],
        "hours": [tuple(r) for r in hours],
        "intents": [tuple(r) for r in intents],
        "conversation_intents": [tuple(r) for r in seen],
        "answers": [tuple(r) for r in answers if r.messages],
        "conversations": [tuple(r) for r in conversations],
        "handoffs": [tuple(r) for r in handoffs],
        "products": [tuple(r) for r in products],
        "labels": [tuple(r) for r in labels],
    }


def wipe(session: Session) -> None:
    """The summary as a database had it before it existed."""
    session.execute(
        update(Conversation).values(
            last_customer_at=None,
            last_bot_at=None,
            first_agent_at=None,
            first_handoff_at=None,
            thumbs_up=False,
            thumbs_down=False,
        )
    )
    session.execute(update(Escalation).values(first_response_at=None))
    session.execute(
        update(Message).values(
            sentiment_label=None,
            first_answer_at=None,
            answered_by_fallback=False,
            answered_from_past_reply=False,
            previous_agent_at=None,
            waiting_since=None,
        )
    )
    session.execute(update(ContentImpression).values(opened_at=None))
    session.execute(AnswerHour.__table__.delete())
    session.execute(ConversationProduct.__table__.delete())
    session.execute(ConversationIntent.__table__.delete())
    session.execute(MessageHour.__table__.delete())
    session.execute(IntentHour.__table__.delete())


# -- the fixture's log, written row by row --------------------------------------------------------------


@pytest.fixture(scope="module")
def fixture_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, str]]:
    """The hand-written log of tests/support/analytics_fixtures.py written through the ORM (the live path)
    into a fresh database per dialect: {dialect: url}."""
    urls = {"sqlite": migrated_sqlite(tmp_path_factory.mktemp("fixture_log") / "log.db")}
    with session_scope(urls["sqlite"]) as session:
        write_fixture(session)
    if not postgres_answers():
        yield urls
        return
    for found in postgres_database():
        upgrade(found)
        with session_scope(found) as session:
            write_fixture(session)
        yield {**urls, "postgresql": found}


def test_the_fixture_log_summary_is_the_hand_read_one(fixture_log: Dict[str, str]) -> None:
    for found in fixture_log.values():
        with Session(get_engine(found), future=True) as session:
            c3 = summary_of(session, C3)
            assert c3 == {
                "last_customer_at": datetime(2026, 3, 9, 12, 15),
                "last_bot_at": datetime(2026, 3, 8, 6, 31, 1),
                "first_agent_at": datetime(2026, 3, 9, 12, 10),
                "first_handoff_at": datetime(2026, 3, 8, 6, 31, 1),
                "thumbs_up": False,
                "thumbs_down": False,
            }
            assert first_responses(session, C3) == [datetime(2026, 3, 9, 12, 10)]
            assert first_responses(session, C4) == [datetime(2026, 3, 9, 15, 3, 2)]
            assert first_responses(session, C5) == [None]  # never answered
            assert summary_of(session, C1)["thumbs_up"] and summary_of(session, C6)["thumbs_down"]
            assert summary_of(session, C9)["last_bot_at"] is None  # no reply logged: not a bot conversation
            assert products_of(session, C1) == {"auto": (datetime(2026, 3, 7, 14), datetime(2026, 3, 7, 14))}
            # C1's tip was opened twice (its first open kept), its guide dismissed; C6's tip opened once
            opened = {(c, slug): at for c, slug, at in snapshot(session)["opens"]}
            assert opened[(C1, "tip-a")] == datetime(2026, 3, 7, 14, 5)
            assert opened[(C1, "guide-b")] is None
            assert opened[(C6, "tip-a")] == datetime(2026, 3, 10, 13, 7)
            assert opened[(C6, "guide-b")] is None


def test_backfill_computes_what_the_writes_kept(fixture_log: Dict[str, str]) -> None:
    for found in fixture_log.values():
        with Session(get_engine(found), future=True) as session:
            kept = snapshot(session)
            wipe(session)
            assert snapshot(session) != kept
            backfill(session.connection())
            assert snapshot(session) == kept
            session.rollback()


def _copy_log(source: str, target: str) -> None:
    """The log's rows, with the columns the target's (older) schema has: a database as 0017 left it."""
    with get_engine(source).connect() as reading, get_engine(target).begin() as writing:
        metadata = MetaData()
        for name in LOG_TABLES:
            table = Table(name, metadata, autoload_with=writing)
            columns = [c.name for c in table.columns]
            stored = Table(name, MetaData(), autoload_with=reading)
            query = select(*[stored.c[c] for c in columns]).order_by(*stored.primary_key.columns)
            rows = [dict(r._mapping) for r in reading.execute(query)]
            if rows:
                writing.execute(table.insert(), rows)


def _older_database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    if not postgres_answers():
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    yield from postgres_database()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migration_0018_fills_the_summary_of_an_existing_log(
    kind: str, fixture_log: Dict[str, str], tmp_path: Path
) -> None:
    for old in _older_database(kind, tmp_path):
        command.upgrade(alembic_config(old), BEFORE_SUMMARY)
        _copy_log(fixture_log[kind], old)
        command.upgrade(alembic_config(old), "head")
        with Session(get_engine(old), future=True) as migrated, Session(get_engine(fixture_log[kind])) as live:
            assert snapshot(migrated) == snapshot(live)
            # and the metrics that read the summary give the hand-computed values of tests/analytics
            days = MetricFilter(
                datetime(2026, 3, 7, tzinfo=NY), datetime(2026, 3, 11, tzinfo=NY), Granularity.DAY, ZONE
            )
            assert [p.value.numerator for p in bot_resolution(migrated, days, as_of=AS_OF)] == [2, 0, 0, 0]
            by_product = conversation_volume(migrated, days, by="product")
            assert {k: [p.value for p in v] for k, v in by_product.items()}["auto"] == [1, 0, 1, 0]
            assert [p.value.numerator for p in sentiment_share(migrated, days)["unknown"]] == [0, 0, 0, 1]
        dispose_engines()


# -- the live path: the projection, the handoff, the rating ---------------------------------------------


def _ts(moment: datetime) -> float:
    return moment.replace(tzinfo=timezone.utc).timestamp()


def customer_said(sender: str, moment: datetime, key: str, product: Optional[str] = None) -> Dict[str, Any]:
    entities = [{"entity": "product", "value": product}] if product else []
    return {
        "sender_id": sender,
        "event": "user",
        "timestamp": _ts(moment),
        "text": f"customer {key}",
        "input_channel": "telegram",
        "message_id": f"{sender}|{key}",
        "parse_data": {
            "intent": {"name": "ask_coverage", "confidence": 0.9},
            "entities": entities,
            "sentiment": {"label": "negative", "confidence": 0.8},
        },
    }


def reply(sender: str, moment: datetime, key: str, author: str = "bot") -> Dict[str, Any]:
    metadata = {"author": "agent"} if author == "agent" else {}
    return {"sender_id": sender, "event": "bot", "timestamp": _ts(moment), "text": f"{author} {key}",
            "metadata": metadata, "data": {}}  # fmt: skip


def test_messages_logged_out_of_order_leave_the_summary_of_the_log(url: str) -> None:
    sender = "telegram:out-of-order"
    late_first = [
        customer_said(sender, T0 + timedelta(minutes=5), "c2", product="home"),
        reply(sender, T0 + timedelta(minutes=5, seconds=1), "b2"),
        reply(sender, T0 + timedelta(minutes=9), "a2", author="agent"),
        customer_said(sender, T0, "c1", product="home"),  # the first words arrive last
        reply(sender, T0 + timedelta(seconds=1), "b1"),
        reply(sender, T0 + timedelta(minutes=7), "a1", author="agent"),
    ]
    with session_scope(url) as session:
        for event in late_first:
            assert record_event(session, event) is not None
        assert record_event(session, late_first[0]) is None  # a re-published event is not logged twice
    with Session(get_engine(url), future=True) as session:
        assert summary_of(session, sender) == {
            "last_customer_at": T0 + timedelta(minutes=5),
            "last_bot_at": T0 + timedelta(minutes=5, seconds=1),
            "first_agent_at": T0 + timedelta(minutes=7),
            "first_handoff_at": None,
            "thumbs_up": False,
            "thumbs_down": False,
        }
        assert products_of(session, sender) == {"home": (T0, T0 + timedelta(minutes=5))}
        labels = session.scalars(
            select(Message.sentiment_label).where(Message.conversation_id == sender, Message.author == "customer")
        )
        assert list(labels) == ["negative", "negative"]


def test_product_rows_keep_the_conversations_start_and_follow_its_channel(url: str) -> None:
    """Conversations by product read the product rows alone: each carries its conversation's created_at and
    channel, and a channel filled in after the product was named (the row created from a message without
    one) reaches the product rows, so the channel filter counts the conversation."""
    sender = "late-channel"
    unnamed_channel = {**customer_said(sender, T0, "c1", product="auto"), "input_channel": None}
    with session_scope(url) as session:
        session.add(
            Conversation(id=sender, channel="unknown", customer_identity=sender, created_at=T0, last_message_at=T0)
        )
    with session_scope(url) as session:
        record_event(session, unnamed_channel)
        record_event(session, customer_said(sender, T0 + timedelta(minutes=1), "c2", product="home"))
    with Session(get_engine(url), future=True) as session:
        created_at = T0
        kept = session.execute(
            select(
                ConversationProduct.product, ConversationProduct.conversation_created_at, ConversationProduct.channel
            ).where(ConversationProduct.conversation_id == sender)
        )
        assert sorted(tuple(r) for r in kept) == [("auto", created_at, "telegram"), ("home", created_at, "telegram")]
        start = created_at.replace(tzinfo=timezone.utc)
        around = MetricFilter(
            start - timedelta(hours=1), start + timedelta(hours=1), Granularity.HOUR, "UTC", channel="telegram"
        )
        rows = session.execute(units.conversation_rows(around, session.bind.dialect.name, around.window_utc, "product"))
        assert sorted(r.category for r in rows if r.conversation_id == sender) == ["auto", "home"]


def _fill_in_channel(session: Session, sender: str) -> None:
    session.get(Conversation, sender).channel = "telegram"


def _name_product(session: Session, sender: str) -> None:
    record_event(session, {**customer_said(sender, T0, "c1", product="auto"), "input_channel": None})


@pytest.mark.parametrize("channel_first", [True, False])
def test_a_product_named_while_the_channel_is_filled_in_gets_the_channel(url: str, channel_first: bool) -> None:
    """The conversation's channel filled in by one transaction while another names a product: whichever
    takes the conversation's row lock second reads (or updates) the other's row, so the product row ends
    with the channel."""
    sender = f"late-channel-race-{channel_first}"
    with session_scope(url) as session:
        session.add(
            Conversation(id=sender, channel="unknown", customer_identity=sender, created_at=T0, last_message_at=T0)
        )
    first, second = (_fill_in_channel, _name_product) if channel_first else (_name_product, _fill_in_channel)
    written = threading.Event()
    errors: List[BaseException] = []

    def hold() -> None:
        try:
            with session_scope(url) as session:
                first(session, sender)
                session.flush()
                written.set()
                time.sleep(HOLD_SECONDS)
        except BaseException as error:  # reported by the test below
            errors.append(error)
            written.set()

    holder = threading.Thread(target=hold)
    holder.start()
    written.wait(10)
    with session_scope(url) as session:
        second(session, sender)
    holder.join(10)
    assert not errors
    with Session(get_engine(url), future=True) as session:
        kept = session.execute(
            select(ConversationProduct.product, ConversationProduct.channel).where(
                ConversationProduct.conversation_id == sender
            )
        )
        assert [tuple(r) for r in kept] == [("auto", "telegram")]


def test_a_handoff_resolved_stops_counting_agent_messages_after_it(url: str) -> None:
    sender = "telegram:resolved"
    with session_scope(url) as session:
        record_event(session, customer_said(sender, T0, "c1"))
        session.add(
            Escalation(
                conversation_id=sender, reason="complaint", priority=2, note="", created_at=T0 + timedelta(seconds=2)
            )
        )
        session.flush()
        # logged after the handoff: an agent message 10 minutes in, then one at 4 minutes that arrives late
        record_event(session, reply(sender, T0 + timedelta(minutes=10), "a2", author="agent"))
        assert first_responses(session, sender) == [T0 + timedelta(minutes=10)]
        record_event(session, reply(sender, T0 + timedelta(minutes=4), "a1", author="agent"))
        assert first_responses(session, sender) == [T0 + timedelta(minutes=4)]
    with session_scope(url) as session:
        # resolved at 3 minutes (the agent's clock): neither message answered it before it closed
        escalation = session.scalars(select(Escalation).where(Escalation.conversation_id == sender)).one()
        escalation.open, escalation.resolved_at, escalation.outcome = False, T0 + timedelta(minutes=3), "resolved"
        session.flush()
        assert first_responses(session, sender) == [None]
        # one from before the resolution, logged late, is its first response; one after it never is
        record_event(session, reply(sender, T0 + timedelta(minutes=20), "a3", author="agent"))
        record_event(session, reply(sender, T0 + timedelta(minutes=2), "a0", author="agent"))
        assert first_responses(session, sender) == [T0 + timedelta(minutes=2)]
        assert summary_of(session, sender)["first_handoff_at"] == T0 + timedelta(seconds=2)
        assert summary_of(session, sender)["first_agent_at"] == T0 + timedelta(minutes=2)


# -- two writers at once --------------------------------------------------------------------------------

HOLD_SECONDS = 0.4  # how long the first writer keeps its transaction open after writing


def _conversation(url: str, sender: str) -> None:
    with session_scope(url) as session:
        session.add(
            Conversation(id=sender, channel="telegram", customer_identity=sender, created_at=T0, last_message_at=T0)
        )


def _agent_message(sender: str, moment: datetime, key: str) -> Message:
    return Message(conversation_id=sender, event_key=key, direction="outbound", author="agent", channel="telegram",
                   text="agent", sent_at=moment, created_at=moment)  # fmt: skip


def _handoff(sender: str, moment: datetime) -> Escalation:
    return Escalation(conversation_id=sender, reason="complaint", priority=1, note="", created_at=moment)


def _write_both(url: str, first: Any, second: Any) -> None:
    """`first` is flushed and its transaction held open while `second` is written and committed from
    another thread (which must wait for it), then `first` commits."""
    written = threading.Event()
    errors: List[BaseException] = []

    def hold() -> None:
        try:
            with session_scope(url) as session:
                session.add(first)
                session.flush()
                written.set()
                time.sleep(HOLD_SECONDS)
        except BaseException as error:  # reported by the test below
            errors.append(error)
            written.set()

    holder = threading.Thread(target=hold)
    holder.start()
    written.wait(10)
    with session_scope(url) as session:
        session.add(second)
    holder.join(10)
    assert not errors


@pytest.mark.parametrize("handoff_first", [True, False])
def test_a_handoff_and_its_answer_written_at_once_are_both_in_the_summary(url: str, handoff_first: bool) -> None:
    sender = f"telegram:race-{handoff_first}"
    _conversation(url, sender)
    handoff, answer = (
        _handoff(sender, T0 + timedelta(minutes=1)),
        _agent_message(sender, T0 + timedelta(minutes=3), sender),
    )
    _write_both(url, *((handoff, answer) if handoff_first else (answer, handoff)))
    with Session(get_engine(url), future=True) as session:
        assert first_responses(session, sender) == [T0 + timedelta(minutes=3)]
        assert summary_of(session, sender)["first_handoff_at"] == T0 + timedelta(minutes=1)
        assert summary_of(session, sender)["first_agent_at"] == T0 + timedelta(minutes=3)


def test_concurrent_writers_of_one_conversation_lose_no_update(url: str) -> None:
    sender = "telegram:crowd"
    _conversation(url, sender)
    writers, each = 4, 15
    moments = {w: [T0 + timedelta(seconds=(i * writers + w) * 7 % 997) for i in range(each)] for w in range(writers)}

    errors: List[BaseException] = []

    def write(w: int) -> None:
        for i, moment in enumerate(moments[w]):
            key = f"crowd-{w}-{i}"
            event = customer_said(sender, moment, key) if i % 2 else reply(sender, moment, key)
            try:
                with session_scope(url) as session:
                    record_event(session, event)
            except BaseException as error:  # a deadlock or a lost write: the test fails below
                errors.append(error)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    customers = [m for w in range(writers) for i, m in enumerate(moments[w]) if i % 2]
    bots = [m for w in range(writers) for i, m in enumerate(moments[w]) if not i % 2]
    with Session(get_engine(url), future=True) as session:
        found = summary_of(session, sender)
        assert (found["last_customer_at"], found["last_bot_at"]) == (max(customers), max(bots))
        assert hours_kept(session) == hours_from_the_log(session)  # every message counted once in its hour
        assert answers_kept(session) == answers_from_the_log(session)


# -- messages per hour ----------------------------------------------------------------------------------


def hours_from_the_log(session: Session) -> Dict[Tuple[datetime, str, str, str], int]:
    """MessageHour's rows as they should be: the log's messages counted here, in Python."""
    found: Dict[Tuple[datetime, str, str, str], int] = {}
    for sent_at, channel, author, label in session.execute(
        select(Message.sent_at, Message.channel, Message.author, Message.sentiment_label)
    ):
        key = (sent_at.replace(minute=0, second=0, microsecond=0), channel, author, label or "unknown")
        found[key] = found.get(key, 0) + 1
    return found


def hours_kept(session: Session) -> Dict[Tuple[datetime, str, str, str], int]:
    hour = MessageHour
    rows = session.execute(select(hour.hour, hour.channel, hour.author, hour.sentiment, hour.messages))
    return {(at, channel, author, label): n for at, channel, author, label, n in rows}


@pytest.mark.parametrize(
    "zone, granularity, channel",
    [
        (ZONE, Granularity.DAY, None),
        (ZONE, Granularity.HOUR, "facebook"),
        ("UTC", Granularity.WEEK, "whatsapp"),
        ("Asia/Kolkata", Granularity.DAY, None),  # +5:30: its local hours are not UTC hours, the rows are read
    ],
)
def test_message_volume_and_sentiment_from_the_hours_are_the_rows_counted(
    fixture_log: Dict[str, str], zone: str, granularity: Granularity, channel: Optional[str]
) -> None:
    local = ZoneInfo(zone)
    filt = MetricFilter(
        datetime(2026, 3, 7, tzinfo=local), datetime(2026, 3, 11, tzinfo=local), granularity, zone, channel=channel
    )
    assert units.hourly_totals_serve(filt) == units.intent_totals_serve(filt, "intent") == (zone != "Asia/Kolkata")
    logged = select(Message.sent_at, Message.channel, Message.author, Message.sentiment_label, Message.intent)
    for found in fixture_log.values():
        with Session(get_engine(found), future=True) as session:
            mine = [m for m in session.execute(logged) if channel is None or m.channel == channel]
            customers = [m for m in mine if m.author == "customer"]

            def inside(bucket: Any, rows: List[Any]) -> List[Any]:
                return [m for m in rows if bucket.start_utc <= m.sent_at < bucket.end_utc]

            volume = [p.value for p in message_volume(session, filt)["all"]]
            assert volume == [len(inside(b, mine)) for b in filt.buckets]
            by_intent = {k: [p.value for p in v] for k, v in message_volume(session, filt, by="intent").items()}
            intents = {m.intent for m in customers if m.intent}
            assert by_intent == {
                intent: [len([m for m in inside(b, customers) if m.intent == intent]) for b in filt.buckets]
                for intent in intents
            }
            seen = [(i, sum(n for n in by_intent[i])) for i in by_intent]
            assert intents_seen(session, filt) == sorted(seen, key=lambda pair: (-pair[1], pair[0]))
            complaints = MetricFilter(filt.start, filt.end, granularity, zone, channel, intent="complain")
            of_one = message_volume(session, complaints)
            assert [p.value for p in of_one["all"]] == by_intent.get("complain", [0] * len(filt.buckets))
            negative = [p.value for p in sentiment_share(session, filt)["negative"]]
            assert [(r.numerator, r.denominator) for r in negative] == [
                (len([m for m in inside(b, customers) if m.sentiment_label == "negative"]), len(inside(b, customers)))
                for b in filt.buckets
            ]


def answers_from_the_log(session: Session) -> Dict[Tuple[datetime, str, bool, bool], int]:
    """AnswerHour's totals as they should be: every answered message's replies read here, in Python."""
    replies: Dict[int, List[Any]] = {}
    for question, sent_at, source in session.execute(
        select(Message.in_reply_to_id, Message.sent_at, Message.answer_source).where(
            Message.author == "bot", Message.in_reply_to_id.isnot(None)
        )
    ):
        replies.setdefault(question, []).append((sent_at, source))
    channels = dict(session.execute(select(Message.id, Message.channel)).all())
    found: Dict[Tuple[datetime, str, bool, bool], int] = {}
    for question, answers in replies.items():
        first = min(sent_at for sent_at, _ in answers).replace(minute=0, second=0, microsecond=0)
        sources = {source for _, source in answers}
        key = (first, channels[question], "fallback" in sources, "retrieval" in sources)
        found[key] = found.get(key, 0) + 1
    return found


def answers_kept(session: Session) -> Dict[Tuple[datetime, str, bool, bool], int]:
    hour = AnswerHour
    rows = session.execute(select(hour.hour, hour.channel, hour.fallback, hour.past_reply, hour.messages))
    return {(at, channel, fallback, past): n for at, channel, fallback, past, n in rows if n}


def test_replies_logged_out_of_order_move_their_message_to_the_first_reply_and_its_kind(url: str) -> None:
    sender = "telegram:answers"
    question_at = T0 + timedelta(minutes=59)
    with session_scope(url) as session:
        record_event(session, customer_said(sender, question_at, "q"))
        question = session.scalars(select(Message.id).where(Message.conversation_id == sender)).one()
        # a template reply at 15:10 is logged first; the fallback the bot sent at 14:59:30 arrives after it
        late, early = (
            reply(sender, T0 + timedelta(minutes=70), "r2"),
            reply(sender, question_at + timedelta(seconds=30), "r1"),
        )
        late["metadata"], early["metadata"] = {"answer_source": "template"}, {"answer_source": "fallback"}
        for event in (late, early):
            assert record_event(session, event) is not None
        answered = session.execute(
            select(Message.first_answer_at, Message.answered_by_fallback, Message.answered_from_past_reply).where(
                Message.id == question
            )
        ).one()
        assert tuple(answered) == (question_at + timedelta(seconds=30), True, False)
        assert answers_kept(session) == answers_from_the_log(session)  # moved from 15:00 to 14:00, and to fallback


def _bot_reply(sender: str, question: int, moment: datetime, key: str, source: str) -> Message:
    said = {"author": "bot", "channel": "telegram", "text": "bot", "sent_at": moment, "created_at": moment}
    return Message(conversation_id=sender, event_key=key, direction="outbound", answer_source=source,
                   in_reply_to_id=question, **said)  # fmt: skip


def test_two_replies_to_one_message_written_at_once_both_count(url: str) -> None:
    sender = "telegram:two-replies"
    with session_scope(url) as session:
        record_event(session, customer_said(sender, T0, "q"))
        question = session.scalars(select(Message.id).where(Message.conversation_id == sender)).one()
    earlier = _bot_reply(sender, question, T0 + timedelta(seconds=1), f"{sender}|r1", "retrieval")
    later = _bot_reply(sender, question, T0 + timedelta(hours=1, seconds=2), f"{sender}|r2", "fallback")
    _write_both(url, earlier, later)
    with Session(get_engine(url), future=True) as session:
        answered = select(Message.first_answer_at, Message.answered_by_fallback, Message.answered_from_past_reply)
        assert tuple(session.execute(answered.where(Message.id == question)).one()) == (earlier.sent_at, True, True)
        assert answers_kept(session) == answers_from_the_log(session)


# -- reply time's waits ---------------------------------------------------------------------------------

# One conversation's timeline: (key, author, minutes after T0). a1 answers c1 (no agent before it: not a
# reply-time row), a2 answers the wait that c2 began (c3 joins it), a3 follows a2 with no customer between,
# a4 answers c4.
TIMELINE = [
    ("c1", "customer", 0),
    ("a1", "agent", 2),
    ("c2", "customer", 5),
    ("c3", "customer", 6),
    ("a2", "agent", 9),
    ("a3", "agent", 10),
    ("c4", "customer", 12),
    ("a4", "agent", 15),
]
WAITS = {
    "a1": (None, T0),
    "a2": (T0 + timedelta(minutes=2), T0 + timedelta(minutes=5)),
    "a3": (T0 + timedelta(minutes=9), None),
    "a4": (T0 + timedelta(minutes=10), T0 + timedelta(minutes=12)),
}


def _customer_message(sender: str, moment: datetime, key: str) -> Message:
    return Message(conversation_id=sender, event_key=key, direction="inbound", author="customer", channel="telegram",
                   text="customer", sent_at=moment, created_at=moment)  # fmt: skip


def _timeline_message(sender: str, key: str, author: str, minutes: int) -> Message:
    moment = T0 + timedelta(minutes=minutes)
    build = _agent_message if author == "agent" else _customer_message
    return build(sender, moment, f"{sender}|{key}")


def waits_of(session: Session, sender: str) -> Dict[str, Tuple[Optional[datetime], Optional[datetime]]]:
    rows = session.execute(
        select(Message.event_key, Message.previous_agent_at, Message.waiting_since).where(
            Message.conversation_id == sender, Message.author == "agent"
        )
    )
    return {key.split("|")[-1]: (previous, since) for key, previous, since in rows}


@pytest.mark.parametrize(
    "order",
    [
        ["c1", "a1", "c2", "c3", "a2", "a3", "c4", "a4"],  # as it happened
        ["a4", "c4", "a3", "a2", "c3", "c2", "a1", "c1"],  # backwards
        ["a4", "a1", "c3", "a3", "c1", "a2", "c4", "c2"],  # shuffled
    ],
    ids=["in-order", "backwards", "shuffled"],
)
def test_agent_messages_keep_the_wait_they_answer_whatever_the_order(url: str, order: List[str]) -> None:
    """A late customer message joins the wait of the first agent message after it; a late agent message
    takes the customers since the previous agent message, and the next agent message's wait starts after it."""
    sender = f"waits-{'-'.join(order[:3])}"
    _conversation(url, sender)
    by_key = {key: (author, minutes) for key, author, minutes in TIMELINE}
    for key in order:
        with session_scope(url) as session:
            session.add(_timeline_message(sender, key, *by_key[key]))
    with Session(get_engine(url), future=True) as session:
        assert waits_of(session, sender) == WAITS


def test_agent_messages_sent_in_the_same_second_are_ordered_by_id(url: str) -> None:
    """Two agent messages with one sent_at (a1 stored first): the timeline orders them by id, so the second
    answers nobody and the customer after both waits for a3. (The window functions reply time used before
    put the second in the next wait, a wait that ended before it began.)"""
    sender = "waits-same-second"
    _conversation(url, sender)
    moment = T0 + timedelta(minutes=1)
    for message in (
        _agent_message(sender, T0 + timedelta(minutes=3), f"{sender}|a3"),
        _customer_message(sender, T0 + timedelta(minutes=2), f"{sender}|c2"),
        _agent_message(sender, moment, f"{sender}|a1"),
        _agent_message(sender, moment, f"{sender}|a2"),
    ):
        with session_scope(url) as session:
            session.add(message)
    with Session(get_engine(url), future=True) as session:
        waits = waits_of(session, sender)
        assert waits["a2"] == (moment, None)
        assert waits["a3"] == (moment, T0 + timedelta(minutes=2))


def test_reply_time_rows_are_the_agent_messages_answering_a_wait(url: str) -> None:
    """reply_rows reads the waits: a2 and a4, not a1 (no agent before it) nor a3 (no customer between); a
    handoff between a3 and a4 makes a4 the first reply of the handoff (first response time), not a reply."""
    sender = "waits-rows"
    _conversation(url, sender)
    with session_scope(url) as session:
        session.add_all([_timeline_message(sender, key, author, minutes) for key, author, minutes in TIMELINE])
    start = T0.replace(tzinfo=timezone.utc)
    around = MetricFilter(start, start + timedelta(hours=1), Granularity.HOUR, "UTC", channel="telegram")
    with Session(get_engine(url), future=True) as session:
        query = units.reply_rows(around, session.bind.dialect.name, around.window_utc)
        rows = {(r.start, r.stop) for r in session.execute(query) if r.conversation_id == sender}
        assert rows == {(WAITS["a2"][1], T0 + timedelta(minutes=9)), (WAITS["a4"][1], T0 + timedelta(minutes=15))}
    with session_scope(url) as session:
        session.add(_handoff(sender, T0 + timedelta(minutes=11)))
    with Session(get_engine(url), future=True) as session:
        query = units.reply_rows(around, session.bind.dialect.name, around.window_utc)
        assert [r.stop for r in session.execute(query) if r.conversation_id == sender] == [T0 + timedelta(minutes=9)]


@pytest.mark.parametrize("agent_first", [True, False])
def test_a_customer_message_and_the_agent_reply_written_at_once_make_one_wait(url: str, agent_first: bool) -> None:
    """The agent's reply and the customer message it answers, written by two transactions at once: whichever
    takes the conversation's row lock second reads the other's message, so the wait begins at the customer's."""
    sender = f"waits-race-{agent_first}"
    _conversation(url, sender)
    with session_scope(url) as session:
        session.add(_agent_message(sender, T0 + timedelta(minutes=1), f"{sender}|a1"))
    customer = _customer_message(sender, T0 + timedelta(minutes=2), f"{sender}|c1")
    answer = _agent_message(sender, T0 + timedelta(minutes=3), f"{sender}|a2")
    _write_both(url, *((answer, customer) if agent_first else (customer, answer)))
    with Session(get_engine(url), future=True) as session:
        assert waits_of(session, sender)["a2"] == (T0 + timedelta(minutes=1), T0 + timedelta(minutes=2))


def test_two_agent_messages_written_at_once_split_the_wait(url: str) -> None:
    """Two agent replies written at once around a customer message: the later one's wait begins after the
    earlier one, whichever transaction commits first."""
    sender = "waits-race-agents"
    _conversation(url, sender)
    with session_scope(url) as session:
        session.add(_customer_message(sender, T0, f"{sender}|c1"))
        session.add(_agent_message(sender, T0 + timedelta(minutes=1), f"{sender}|a1"))
        session.add(_customer_message(sender, T0 + timedelta(minutes=2), f"{sender}|c2"))
        session.add(_customer_message(sender, T0 + timedelta(minutes=4), f"{sender}|c3"))
    late, early = (
        _agent_message(sender, T0 + timedelta(minutes=5), f"{sender}|a3"),
        _agent_message(sender, T0 + timedelta(minutes=3), f"{sender}|a2"),
    )
    _write_both(url, late, early)
    with Session(get_engine(url), future=True) as session:
        waits = waits_of(session, sender)
        assert waits["a2"] == (T0 + timedelta(minutes=1), T0 + timedelta(minutes=2))
        assert waits["a3"] == (T0 + timedelta(minutes=3), T0 + timedelta(minutes=4))


def test_backfill_computes_the_waits_the_writes_kept(url: str) -> None:
    """Every conversation this module wrote (in every order, and by concurrent writers): `backfill` of the
    whole log gives the summary the writes kept, waits included."""
    with Session(get_engine(url), future=True) as session:
        kept = snapshot(session)
        assert any(since for *_, since in kept["labels"])
        wipe(session)
        assert snapshot(session) != kept
        backfill(session.connection())
        assert snapshot(session) == kept
        session.rollback()


def test_a_recommendation_keeps_its_first_open_whatever_the_order(url: str) -> None:
    """What the open rate reads: the tracked link's first open, not a later one, not a dismissal, and an open
    whose transaction rolls back leaves nothing."""
    conversation = "whatsapp:15550001111"
    with session_scope(url) as session:
        items = [ContentItem(slug=f"open-order-{n}", category="safety_tip", title="t", summary="s", body="b",
                             content_hash=f"open-order-{n}") for n in range(3)]  # fmt: skip
        session.add_all(items)
        session.flush()
        showings = [Showing(item.id, position) for position, item in enumerate(items)]
        shown = record_impressions(
            session, showings, conversation_id=conversation, channel="whatsapp", moment="answer_given", now=T0
        )
        ids = [impression.id for impression in shown]
        record_open(session, shown[0], now=T0 + timedelta(minutes=10))
        record_open(session, shown[0], now=T0 + timedelta(minutes=20))  # followed again: not a new open
        record_dismissal(session, conversation, ids[1], now=T0 + timedelta(minutes=3))
        # an open that reached the log late (a replay) but happened earlier
        late = ContentEvent(kind="open", content_item_id=items[0].id, impression_id=ids[0],
                            conversation_id=conversation, channel="whatsapp", at=T0 + timedelta(minutes=4))  # fmt: skip
        session.add(late)
    with pytest.raises(RuntimeError), session_scope(url) as session:
        record_open(session, session.get(ContentImpression, ids[2]), now=T0 + timedelta(minutes=6))
        raise RuntimeError("the redirect failed before its commit")
    with Session(get_engine(url), future=True) as session:
        opened = [session.get(ContentImpression, i).opened_at for i in ids]
    assert opened == [T0 + timedelta(minutes=4), None, None]
