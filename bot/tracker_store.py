"""Rasa's SQL tracker store, saving a turn without reading the whole conversation back first.

Rasa 3.6's `SQLTrackerStore.save` first calls `stream_events`, which rebuilds the stored tracker
(`retrieve`: every event of the session read, parsed from JSON and replayed) only to learn how many
events are already stored, then counts the same rows again to know which events to insert. Under load
that rebuild was most of the tracker store's cost per reply (benchmarks/results/load.md). Here the
number of stored events answers both questions: the events past it are published to the event broker
(the interaction log) and inserted, exactly the events Rasa would publish and insert. That number is
remembered on the tracker when this store retrieves or saves it (the whole turn then costs no count
query); a tracker from anywhere else is counted in the database.

The insert and its commit run in a worker thread, not on Rasa's event loop: a commit waits for the disk
(SQLite in WAL mode with synchronous=FULL fsyncs on every commit, about 2 ms here; PostgreSQL flushes its
WAL), and on the event loop that wait held up every other conversation. Rasa's lock store keeps one turn
per conversation at a time, so nothing else touches this tracker meanwhile; the events are published to
the broker first, on the loop, as Rasa does.

Configured in bot/endpoints.yml as `tracker_store: {type: bot.tracker_store.SQLTrackerStore, url: ...}`;
everything else (retrieval, the schema, the URL and its options) is Rasa's own.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any, Dict, List, Optional

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore as RasaSQLTrackerStore
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

from storage.engine import begin_immediate

# how many of a tracker object's events are stored, set when it is retrieved or saved here
STORED = "_coverline_stored_events"


class SQLTrackerStore(RasaSQLTrackerStore):
    """`type: SQL`, with a save that knows what is stored instead of rebuilding the tracker."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite" and (self.engine.url.database or ":memory:") != ":memory:":
            # Rasa's engine opens (and closes) a SQLite connection per session (SQLAlchemy 1.4's NullPool
            # for files); keep them, shared with the insert's worker thread (storage/engine.py does the same)
            self.engine.dispose()
            self.engine = sa.create_engine(
                self.engine.url, poolclass=QueuePool, connect_args={"check_same_thread": False, "timeout": 30}
            )
            self.sessionmaker = sessionmaker(bind=self.engine)

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The latest session, as Rasa's retrieve gives it, read in a worker thread with one Core query
        (Rasa's builds an ORM object per event, on the event loop), and remembering on the tracker how
        many of its events are stored: all it holds."""
        events = await asyncio.get_running_loop().run_in_executor(None, self._latest_session_events, sender_id)
        if not events or not self.domain:
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        setattr(tracker, STORED, len(tracker.events))
        return tracker

    def _latest_session_events(self, sender_id: str) -> List[Dict[str, Any]]:
        """The events since the latest SessionStarted (all of them if there is none), in the order stored:
        Rasa's `_event_query` with fetch_events_from_all_sessions=False, as one statement."""
        table = self.SQLEvent.__table__
        session_start = (
            sa.select(sa.func.max(table.c.timestamp))
            .where(table.c.sender_id == sender_id, table.c.type_name == SessionStarted.type_name)
            .scalar_subquery()
        )
        query = (
            sa.select(table.c.data)
            .where(table.c.sender_id == sender_id)
            .where(sa.or_(table.c.timestamp >= session_start, session_start.is_(None)))
            .order_by(table.c.id)
        )
        with self.engine.connect() as connection:
            return [json.loads(data) for data in connection.execute(query).scalars()]

    def new_events(self, session: Any, tracker: DialogueStateTracker) -> List[Event]:
        """The tracker's events not stored yet: those past the stored ones of the latest session (the
        tracker Rasa saves was retrieved from that session, plus this turn's events). Known without a
        query for a tracker this store retrieved or saved (Rasa's lock store keeps anyone else from
        adding events to the conversation meanwhile); counted in the database for any other."""
        stored = getattr(tracker, STORED, None)
        if stored is None or stored > len(tracker.events):
            stored = self._event_query(session, tracker.sender_id, fetch_events_from_all_sessions=False).count()
        return list(itertools.islice(tracker.events, stored, len(tracker.events)))

    def _row(self, sender_id: str, event: Event) -> Any:
        data = event.as_dict()
        return self.SQLEvent(
            sender_id=sender_id,
            type_name=event.type_name,
            timestamp=data.get("timestamp"),
            intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            action_name=data.get("name"),
            data=json.dumps(data),
        )

    async def save(self, tracker: DialogueStateTracker) -> None:
        with self.session_scope() as session:  # opens no connection unless new_events has to count
            events = self.new_events(session, tracker)
        if self.event_broker is not None:  # published first, as Rasa does
            await self._stream_new_events(self.event_broker, events, tracker.sender_id)
        if events:
            rows = [self._row(tracker.sender_id, event) for event in events]
            await asyncio.get_running_loop().run_in_executor(None, self._insert, rows)
        setattr(tracker, STORED, len(tracker.events))

    def _insert(self, rows: List[Any]) -> None:
        with self.session_scope() as session:
            if self.engine.dialect.name == "sqlite":  # the write lock the moment it is free (storage/engine.py)
                begin_immediate(session.connection().connection)
            session.add_all(rows)
            session.commit()
