"""A Rasa event broker that writes every customer message and bot reply to the interaction log.

Rasa publishes each new tracker event after a turn is processed, including turns whose custom action
failed, so this is the one place that sees every message.

Rasa calls `publish` on its event loop, so nothing here may wait for the database there: `publish` only
appends the event to a local journal (a few microseconds) and hands it to a writer thread, which stores
it in the interaction log and, once everything journalled is stored, empties the journal. If the
database is unreachable the writer keeps the events (in order) and retries with a growing pause; if the
process dies first, the journal is replayed when the broker next starts. The log's unique event key makes
every replay idempotent, so each message is stored exactly once.

The schema is not migrated here: the runner (or `python -m storage.migrate`) does that at start-up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from conversations.projection import LOGGED_EVENTS, record_event
from storage.engine import session_scope
from storage.migrate import require_current
from storage.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)

DEFAULT_SPOOL = PROJECT_ROOT / "var" / "interaction_log.spool.jsonl"
RETRY_FIRST_SECONDS, RETRY_MAX_SECONDS = 0.5, 30.0
BATCH_MAX = 100  # events stored in one transaction at most
_STOP = object()


class InteractionLogBroker(EventBroker):
    """Event broker for endpoints.yml: `event_broker: {type: bot.interaction_log_broker.InteractionLogBroker}`."""

    def __init__(self, url: Optional[str] = None, spool_path: Optional[Path] = None) -> None:
        self.url = url
        self.spool_path = Path(spool_path or DEFAULT_SPOOL)
        self._journal_lock = threading.Lock()
        self._queue: "queue.Queue[Any]" = queue.Queue()
        self._unstored = 0  # journalled events the writer has not stored yet (guarded by _journal_lock)
        for event in self._read_spool():  # what a previous process journalled and did not store
            self._enqueue(event, journal=False)
        self._writer = threading.Thread(target=self._write_forever, name="interaction-log-writer", daemon=True)
        self._writer.start()

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig, event_loop: Optional[asyncio.AbstractEventLoop] = None
    ) -> "InteractionLogBroker":
        kwargs = broker_config.kwargs or {}
        url = broker_config.url or None
        require_current(url)  # a server never migrates: it stops here, saying which command does
        return cls(url=url, spool_path=kwargs.get("spool_path"))

    # -- Rasa's side (the event loop): journal and hand over, never wait for the database ------------

    def publish(self, event: Dict[Text, Any]) -> None:
        if event.get("event") not in LOGGED_EVENTS:
            return
        self._enqueue(event, journal=True)

    def _enqueue(self, event: Dict[str, Any], journal: bool) -> None:
        with self._journal_lock:
            if journal:
                self._append_to_spool(event)
            self._unstored += 1
        self._queue.put(event)

    # -- the writer thread ------------------------------------------------------------------------------

    def _write_forever(self) -> None:
        while True:
            batch, stop = self._next_batch()
            if batch:
                self._store_with_retries(batch)
                with self._journal_lock:
                    self._unstored -= len(batch)
                    if self._unstored == 0:
                        self.spool_path.unlink(missing_ok=True)  # everything journalled is in the database
                for _ in batch:
                    self._queue.task_done()
            if stop:
                return

    def _next_batch(self) -> Tuple[List[Dict[str, Any]], bool]:
        """The next event (waiting for it) and whatever else is already queued, up to BATCH_MAX: under
        load one transaction stores many events, so the writer spends less of the GIL Rasa's event loop
        needs on commits (benchmarks/results/load.md). The order is kept."""
        batch: List[Dict[str, Any]] = []
        item = self._queue.get()
        while item is not _STOP:
            batch.append(item)
            if len(batch) >= BATCH_MAX:
                return batch, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, False
        self._queue.task_done()
        return batch, True

    def _store_with_retries(self, events: List[Dict[str, Any]]) -> None:
        """Keeps trying: later events wait behind these, so the log keeps the conversation's order."""
        pause = RETRY_FIRST_SECONDS
        while True:
            try:
                self._write(events)
                return
            except Exception:  # any database failure: the events stay journalled; never lose one
                logger.exception("Interaction log unavailable; retrying in %.1f s (events are journalled)", pause)
                time.sleep(pause)
                pause = min(pause * 2, RETRY_MAX_SECONDS)

    def _write(self, events: List[Dict[str, Any]]) -> None:
        """One transaction for the batch; a retry after a failure stores it again from the start, and the
        event keys make that idempotent. Each event reads the conversation afresh (expire_all), as it
        would in a transaction of its own, so a take-over committed meanwhile is seen."""
        with session_scope(self.url) as session:
            for event in events:
                record_event(session, event)
                session.expire_all()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every published event is stored (tests, shutdown); False if that took too long."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._journal_lock:
                if self._unstored == 0:
                    return True
            time.sleep(0.01)
        return False

    # -- the journal ------------------------------------------------------------------------------------

    def _append_to_spool(self, event: Dict[str, Any]) -> None:
        """Owner-only (0600): the journal holds customers' messages until they are in the database."""
        self.spool_path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.spool_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as spool:
            spool.write(json.dumps(event) + "\n")

    def _read_spool(self) -> List[Dict[str, Any]]:
        if not self.spool_path.exists():
            return []
        lines = self.spool_path.read_text(encoding="utf-8").splitlines()
        events = []
        for line in lines:
            try:
                events.append(json.loads(line))
            except ValueError:  # a line cut short by a crash mid-write: the event it held never finished
                logger.warning("Skipping an unreadable line in %s", self.spool_path)
        return events

    def is_ready(self) -> bool:
        return self._writer.is_alive()

    async def close(self) -> None:
        """Rasa's shutdown: store what is queued (the journal keeps anything that cannot be stored)."""
        await asyncio.get_running_loop().run_in_executor(None, self.flush, 10.0)
        self._queue.put(_STOP)
