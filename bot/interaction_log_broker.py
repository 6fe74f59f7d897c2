"""A Rasa event broker that writes every customer message and bot reply to the interaction log.

Rasa publishes each new tracker event after a turn is processed, including turns whose custom action
failed, so this is the one place that sees every message.

Rasa calls `publish` on its event loop, so nothing here may wait for the database there: `publish` only
appends the event to a local journal (a few microseconds) and queues it for a sender thread, which
passes it to the writer process (`bot/interaction_log_writer.py`). The writer stores events in the
interaction log and acknowledges them; once everything journalled is acknowledged the journal is
emptied. The storing happens in another process because, under load, projecting events onto the log
took ~6.6 ms of this process's GIL per reply, which Rasa's event loop was waiting for
(benchmarks/load/findings.md).

Nothing is lost: if the database is unreachable the writer keeps the events (in order) and retries with
a growing pause; if the writer dies, a new one is started and sent every unacknowledged event again;
if this process dies first, the journal is replayed when the broker next starts. The log's unique
event key makes every replay idempotent, so each message is stored exactly once.

The schema is not migrated here: the runner (or `python -m storage.migrate`) does that at start-up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import IO, Any, Dict, List, Optional, Text

from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from bot.interaction_log_writer import URL_ENV
from conversations.projection import LOGGED_EVENTS
from storage.migrate import require_current
from storage.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)

DEFAULT_SPOOL = PROJECT_ROOT / "var" / "interaction_log.spool.jsonl"
RETRY_FIRST_SECONDS, RETRY_MAX_SECONDS = 0.5, 30.0  # the writer's pauses while the database fails
ORPHAN_GRACE_SECONDS = 10.0  # how long a writer whose server died keeps trying before leaving it to the journal
RESTART_PAUSE_SECONDS = 1.0  # between starts of a writer that keeps dying
_STOP, _RESTART = object(), object()


class InteractionLogBroker(EventBroker):
    """Event broker for endpoints.yml: `event_broker: {type: bot.interaction_log_broker.InteractionLogBroker}`."""

    def __init__(self, url: Optional[str] = None, spool_path: Optional[Path] = None) -> None:
        self.url = url
        self.spool_path = Path(spool_path or DEFAULT_SPOOL)
        self._lock = threading.Lock()
        self._pending: "OrderedDict[int, str]" = OrderedDict()  # seq → event json, journalled, not yet stored
        self._seq = 0
        self._outbox: "queue.Queue[Any]" = queue.Queue()  # seqs for the sender thread, or _RESTART / _STOP
        self._closing = False
        self._writer: Optional[subprocess.Popen] = None
        for event in self._read_spool():  # what a previous process journalled and did not store
            self._enqueue(json.dumps(event), journal=False)
        self._sender = threading.Thread(target=self._send_forever, name="interaction-log-sender", daemon=True)
        self._sender.start()

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
        self._enqueue(json.dumps(event), journal=True)

    def _enqueue(self, line: str, journal: bool) -> None:
        with self._lock:
            if journal:
                self._append_to_spool(line)
            self._seq += 1
            self._pending[self._seq] = line
            seq = self._seq
        self._outbox.put(seq)

    # -- the sender thread: starts the writer, hands it events, restarts it if it dies -----------------

    def _send_forever(self) -> None:
        sent_upto, last_start = 0, 0.0
        while True:
            item = self._outbox.get()
            if item is _STOP:
                self._stop_writer()
                return
            if self._writer is None or self._writer.poll() is not None:
                pause = RESTART_PAUSE_SECONDS - (time.monotonic() - last_start)
                if pause > 0:
                    time.sleep(pause)  # a writer that dies at once must not spin
                last_start = time.monotonic()
                try:
                    sent_upto = self._start_writer_with_backlog()
                except OSError:  # cannot start a process now (no memory, no pids): the events stay journalled
                    logger.exception("Could not start the interaction log writer; trying again")
                    self._writer = None
                    self._outbox.put(_RESTART)
                continue  # the backlog covers this item
            if item is _RESTART or item <= sent_upto:
                continue
            with self._lock:
                line = self._pending.get(item)
            if line is not None and not self._send(item, line):
                self._outbox.put(_RESTART)
            sent_upto = item

    def _start_writer_with_backlog(self) -> int:
        """A new writer, sent every event not yet acknowledged (in order); returns the last seq sent."""
        self._writer = self._start_writer()
        threading.Thread(target=self._read_acks, args=(self._writer,), name="interaction-log-acks", daemon=True).start()
        with self._lock:
            backlog = list(self._pending.items())
            last = self._seq
        for seq, line in backlog:
            if not self._send(seq, line):
                self._outbox.put(_RESTART)
                break
        return last

    def _start_writer(self) -> subprocess.Popen:
        env = dict(os.environ)
        env[URL_ENV] = self.url or ""
        command = [
            sys.executable, "-m", "bot.interaction_log_writer",
            "--retry-first", str(RETRY_FIRST_SECONDS),
            "--retry-max", str(RETRY_MAX_SECONDS),
            "--orphan-grace", str(ORPHAN_GRACE_SECONDS),
        ]  # fmt: skip
        return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)

    def _send(self, seq: int, line: str) -> bool:
        writer = self._writer
        try:
            assert writer is not None and writer.stdin is not None
            writer.stdin.write(f"{seq}\t{line}\n".encode("utf-8"))
            writer.stdin.flush()
            return True
        except (BrokenPipeError, OSError, ValueError):  # the writer died: it is restarted and sent the backlog
            return False

    def _read_acks(self, writer: subprocess.Popen) -> None:
        """The writer's acknowledgements: everything up to the seq is stored."""
        stdout: IO[bytes] = writer.stdout  # type: ignore[assignment]
        for raw in stdout:
            try:
                stored = int(raw)
            except ValueError:
                continue
            with self._lock:
                while self._pending and next(iter(self._pending)) <= stored:
                    self._pending.popitem(last=False)
                if not self._pending:
                    self.spool_path.unlink(missing_ok=True)  # everything journalled is in the database
        writer.wait()
        if not self._closing and writer is self._writer:
            logger.error("The interaction log writer exited (code %s); starting another", writer.returncode)
            self._outbox.put(_RESTART)

    def _stop_writer(self) -> None:
        writer = self._writer
        if writer is None:
            return
        try:
            assert writer.stdin is not None
            writer.stdin.close()  # the writer stores what it holds and exits
        except OSError:
            pass
        try:
            writer.wait(timeout=ORPHAN_GRACE_SECONDS + 5)
        except subprocess.TimeoutExpired:
            writer.kill()

    @property
    def writer_pid(self) -> Optional[int]:
        """The writer process (for operators and tests): None before it started."""
        writer = self._writer
        return writer.pid if writer is not None else None

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every published event is stored (tests, shutdown); False if that took too long."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending:
                    return True
            time.sleep(0.01)
        return False

    # -- the journal ------------------------------------------------------------------------------------

    def _append_to_spool(self, line: str) -> None:
        """Owner-only (0600): the journal holds customers' messages until they are in the database."""
        self.spool_path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.spool_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as spool:
            spool.write(line + "\n")

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
        return self._sender.is_alive()

    async def close(self) -> None:
        """Rasa's shutdown: store what is queued (the journal keeps anything that cannot be stored)."""
        await asyncio.get_running_loop().run_in_executor(None, self.flush, 10.0)
        self._closing = True
        self._outbox.put(_STOP)
        await asyncio.get_running_loop().run_in_executor(None, self._sender.join, ORPHAN_GRACE_SECONDS + 10)
