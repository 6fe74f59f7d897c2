"""Coverline's SQL tracker store saves exactly what Rasa's would, and the endpoints files select it.

Two stores on two SQLite files, Rasa's `SQLTrackerStore` and ours, each with a broker that records what it
is given, go through the same conversation turn by turn (retrieve, add the turn's events, save), across a
session restart. After every save both have published the same events and stored the same rows, and
the trackers they give back are equal.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore as RasaSQLTrackerStore
from rasa.core.tracker_store import create_tracker_store
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from sqlalchemy import create_engine, text

from bot.tracker_store import SQLTrackerStore
from storage.settings import PROJECT_ROOT
from tests.support.databases import postgres_answers, postgres_database

SENDER = "whatsapp:15550001111"


class RecordingBroker(EventBroker):
    def __init__(self) -> None:
        self.published: List[Dict[str, Any]] = []

    def publish(self, event: Dict[str, Any]) -> None:
        self.published.append(event)


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "bot" / "domain"))


def turn(n: int, now: float) -> List[Event]:
    parse = {"intent": {"name": "ask_coverage", "confidence": 0.9}, "entities": [], "text": f"question {n}"}
    return [
        UserUttered(f"question {n}", parse_data=parse, timestamp=now, input_channel="whatsapp"),
        SlotSet("handoff_signal", None, timestamp=now + 0.01),
        ActionExecuted("utter_coverage", timestamp=now + 0.02),
        BotUttered(f"answer {n}", metadata={"utter_action": "utter_coverage"}, timestamp=now + 0.03),
        ActionExecuted("action_listen", timestamp=now + 0.04),
    ]


def session_restart(now: float) -> List[Event]:
    return [ActionExecuted("action_session_start", timestamp=now), SessionStarted(timestamp=now + 0.001)]


def untimed(event: Dict[str, Any]) -> Dict[str, Any]:
    """An event without its time: the stores each stamp the conversation's opening action_listen."""
    return {key: value for key, value in event.items() if key != "timestamp"}


def rows(url: str) -> List[tuple]:
    with create_engine(url).connect() as connection:
        found = connection.execute(
            text("SELECT sender_id, type_name, intent_name, action_name, data FROM events ORDER BY id")
        )
        return [(*row[:4], untimed(json.loads(row[4]))) for row in found]


def published(store: Any) -> List[Dict[str, Any]]:
    return [untimed(event) for event in store.event_broker.published]


async def retrieved(store: Any) -> List[Dict[str, Any]]:
    return [untimed(event.as_dict()) for event in (await store.retrieve(SENDER)).events]


@pytest.fixture(params=["sqlite", "postgresql"])
def two_databases(request, tmp_path: Path) -> Iterator[Dict[str, str]]:  # type: ignore[no-untyped-def]
    """One database for Rasa's store and one for ours."""
    if request.param == "sqlite":
        yield {name: f"sqlite:///{tmp_path / name}.db" for name in ("rasa", "ours")}
        return
    if not postgres_answers():
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    databases = {name: postgres_database() for name in ("rasa", "ours")}
    yield {name: next(database) for name, database in databases.items()}
    for database in databases.values():
        database.close()


def test_saves_publish_and_store_what_rasas_would(two_databases: Dict[str, str], domain: Domain) -> None:
    """Also what the trackers read back: ours reads the latest session with its own query."""
    stores = {}
    for name, cls in (("rasa", RasaSQLTrackerStore), ("ours", SQLTrackerStore)):
        url = two_databases[name]
        stores[name] = (cls(domain=domain, host=url, event_broker=RecordingBroker()), url)

    async def conversation() -> None:
        now = time.time()
        plan = [turn(1, now), turn(2, now + 1), session_restart(now + 2) + turn(3, now + 3), turn(4, now + 4)]
        for turn_events in plan:
            for store, _ in stores.values():
                tracker = await store.get_or_create_tracker(SENDER)
                for event in turn_events:
                    tracker.update(event)
                await store.save(tracker)
            (rasa, rasa_url), (ours, our_url) = stores["rasa"], stores["ours"]
            assert published(ours) == published(rasa)
            assert rows(our_url) == rows(rasa_url)
            assert await retrieved(ours) == await retrieved(rasa)

    asyncio.run(conversation())
    kinds = [event["event"] for event in published(stores["ours"][0])]
    assert kinds.count("user") == 4 and kinds.count("bot") == 4  # every message published once


def test_saving_an_unchanged_tracker_adds_nothing(tmp_path: Path, domain: Domain) -> None:
    url = f"sqlite:///{tmp_path / 'ours.db'}"
    store = SQLTrackerStore(domain=domain, host=url, event_broker=RecordingBroker())

    async def twice() -> None:
        tracker = await store.get_or_create_tracker(SENDER)
        for event in turn(1, time.time()):
            tracker.update(event)
        await store.save(tracker)
        before = (len(rows(url)), len(store.event_broker.published))
        await store.save(await store.retrieve(SENDER))
        assert (len(rows(url)), len(store.event_broker.published)) == before

    asyncio.run(twice())


@pytest.mark.parametrize("endpoints", ["endpoints.yml", "endpoints.scale.yml"])
def test_the_endpoints_files_select_it(
    endpoints: str, tmp_path: Path, domain: Domain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rasa falls back to an in-memory store, with only a warning, when a custom type cannot be imported:
    every conversation would be lost on restart. This catches a typo or a moved module."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'rasa.db'}")
    for name in ("ACTION_SERVER_URL", "ACTION_SERVER_TOKEN", "REDIS_HOST", "REDIS_PORT"):
        monkeypatch.setenv(name, "6379" if name == "REDIS_PORT" else "x")
    config = AvailableEndpoints.read_endpoints(str(PROJECT_ROOT / "bot" / endpoints)).tracker_store
    store = create_tracker_store(config, domain)
    assert type(getattr(store, "_tracker_store", store)) is SQLTrackerStore


def test_the_commit_does_not_hold_up_other_conversations(tmp_path: Path, domain: Domain) -> None:
    """A commit waits for the disk; while it does, Rasa's event loop must keep serving other customers."""
    store = SQLTrackerStore(domain=domain, host=f"sqlite:///{tmp_path / 'ours.db'}", event_broker=RecordingBroker())
    insert = store._insert

    def slow_disk(rows):  # type: ignore[no-untyped-def]
        insert(rows)
        time.sleep(0.3)  # an fsync on a busy disk

    store._insert = slow_disk  # type: ignore[method-assign]

    async def save_while_others_run() -> int:
        tracker = await store.get_or_create_tracker(SENDER)
        for event in turn(1, time.time()):
            tracker.update(event)
        ticks = 0
        saving = asyncio.ensure_future(store.save(tracker))
        while not saving.done():
            await asyncio.sleep(0.01)  # another conversation's work on the same loop
            ticks += 1
        await saving
        return ticks

    assert asyncio.run(save_while_others_run()) >= 10
    assert len(rows(f"sqlite:///{tmp_path / 'ours.db'}")) == 6  # the opening action_listen and the turn


def test_a_turn_on_a_retrieved_tracker_costs_no_count_query(tmp_path: Path, domain: Domain) -> None:
    """The store knows how many events a tracker it retrieved has stored; a tracker from elsewhere (built
    from the stored events, as an API client might) is counted, and saving it adds nothing twice."""
    from rasa.shared.core.trackers import DialogueStateTracker
    from sqlalchemy import event as sa_event

    url = f"sqlite:///{tmp_path / 'ours.db'}"
    store = SQLTrackerStore(domain=domain, host=url, event_broker=RecordingBroker())
    statements: List[str] = []
    sa_event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    async def turns() -> None:
        tracker = await store.get_or_create_tracker(SENDER)
        for event in turn(1, time.time()):
            tracker.update(event)
        await store.save(tracker)
        tracker = await store.retrieve(SENDER)
        statements.clear()
        for event in turn(2, time.time() + 1):
            tracker.update(event)
        await store.save(tracker)
        assert not [sql for sql in statements if "count(" in sql.lower()]
        assert [sql.split()[0].upper() for sql in statements] == ["INSERT"] * len(turn(2, 0.0))
        stored = len(rows(url))
        elsewhere = DialogueStateTracker.from_dict(SENDER, [e.as_dict() for e in tracker.events], domain.slots)
        await store.save(elsewhere)  # nothing new: counted, and nothing stored or published again
        assert len(rows(url)) == stored

    asyncio.run(turns())
    kinds = [event["event"] for event in published(store)]
    assert kinds.count("user") == 2 and kinds.count("bot") == 2
