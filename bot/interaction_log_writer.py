"""The interaction log's writer process: stores the events Rasa's broker hands it, and says which are stored.

It runs as a child of the Rasa server (`bot/interaction_log_broker.py` starts it) so that projecting
events onto the log (SQLAlchemy ORM work, ~6.6 ms of CPU per reply under load) does not hold the
Rasa process's GIL, which its event loop and NLU thread need (benchmarks/load/findings.md). It imports
neither Rasa nor TensorFlow, so it starts in about a second.

Protocol, one line each way: the broker writes `<seq>\\t<event json>` to stdin; after each stored batch
this process writes the highest stored `<seq>` to stdout. The broker keeps (and journals) every event
until its seq is acknowledged, and sends them again to a new writer if this one dies, so a crash loses
nothing; the log's unique event keys make a second store of the same event a no-op.

When stdin closes (the Rasa server stopped or died) it stores what it holds, trying for at most
`--orphan-grace` seconds if the database is failing, then exits: the journal keeps whatever was not
stored for the next server to replay.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import sys
import threading
import time
from typing import IO, Any, Dict, List, Optional, Tuple

from conversations.projection import record_event
from storage.engine import session_scope

logger = logging.getLogger("bot.interaction_log_writer")

URL_ENV = "COVERLINE_INTERACTION_LOG_URL"  # the database URL travels in the environment, not in `ps`
BATCH_MAX = 100  # events stored in one transaction at most
_EOF = object()

Entry = Tuple[int, Dict[str, Any]]


def parse_line(raw: bytes) -> Optional[Entry]:
    """One `<seq>\\t<json>` line; None (logged) for a line that is not one."""
    try:
        seq_text, payload = raw.decode("utf-8").rstrip("\n").split("\t", 1)
        event = json.loads(payload)
        if not isinstance(event, dict):
            raise ValueError("event is not an object")
        return int(seq_text), event
    except ValueError:
        logger.error("Interaction log writer: skipping an unreadable line (%d bytes)", len(raw))
        return None


def read_lines(stream: IO[bytes], lines: "queue.Queue[Any]") -> None:
    for raw in stream:
        lines.put(raw)
    lines.put(_EOF)


def next_batch(lines: "queue.Queue[Any]") -> Tuple[List[Entry], bool]:
    """The next line (waiting for it) and whatever else is already queued, up to BATCH_MAX: under load one
    transaction stores many events. The order is kept. Second value: stdin has closed."""
    batch: List[Entry] = []
    raw = lines.get()
    while raw is not _EOF:
        entry = parse_line(raw)
        if entry is not None:
            batch.append(entry)
        if len(batch) >= BATCH_MAX:
            return batch, False
        try:
            raw = lines.get_nowait()
        except queue.Empty:
            return batch, False
    return batch, True


def store(url: Optional[str], events: List[Dict[str, Any]]) -> None:
    """One transaction for the batch; a retry stores it again from the start, idempotently. Each event
    reads the conversation afresh (expire_all), as in a transaction of its own, so a take-over committed
    meanwhile is seen."""
    with session_scope(url) as session:
        for event in events:
            record_event(session, event)
            session.expire_all()


def store_with_retries(
    url: Optional[str], events: List[Dict[str, Any]], first: float, longest: float, give_up_after: Optional[float]
) -> bool:
    """Keeps trying (later events wait behind these, so the log keeps each conversation's order); with
    give_up_after, stops after that many seconds and returns False."""
    pause, started = first, time.monotonic()
    while True:
        try:
            store(url, events)
            return True
        except Exception:  # any database failure: the broker still holds (and journals) these events
            if give_up_after is not None and time.monotonic() - started >= give_up_after:
                return False
            logger.exception("Interaction log unavailable; retrying in %.1f s (events are journalled)", pause)
            time.sleep(pause)
            pause = min(pause * 2, longest)


def acknowledge(out: IO[bytes], seq: int) -> None:
    out.write(f"{seq}\n".encode("ascii"))
    out.flush()


def serve(url: Optional[str], source: IO[bytes], out: IO[bytes], first: float, longest: float, grace: float) -> None:
    lines: "queue.Queue[Any]" = queue.Queue()
    threading.Thread(target=read_lines, args=(source, lines), name="stdin-reader", daemon=True).start()
    while True:
        batch, closed = next_batch(lines)
        if batch:
            stored = store_with_retries(url, [event for _, event in batch], first, longest, grace if closed else None)
            if not stored:
                logger.error(
                    "Interaction log writer: the server is gone and the database still fails; "
                    "%d events stay in the journal for the next start",
                    len(batch),
                )
                return
            try:
                acknowledge(out, batch[-1][0])
            except (BrokenPipeError, ValueError):  # nobody left to tell: the events are stored all the same
                pass
        if closed:
            return


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retry-first", type=float, default=0.5)
    parser.add_argument("--retry-max", type=float, default=30.0)
    parser.add_argument("--orphan-grace", type=float, default=10.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"), stream=sys.stderr)
    url = os.environ.get(URL_ENV) or None
    serve(url, sys.stdin.buffer, sys.stdout.buffer, args.retry_first, args.retry_max, args.orphan_grace)


if __name__ == "__main__":
    main()
