"""The answerer the bot calls: one index per process, reloaded when a rebuild or import replaces it, and
refreshed in place from the database (approved agents' replies in, retired replies out) without a rebuild.

Refresh (`PastReplyAnswerer.refresh`, every `RETRIEVAL_REFRESH_SECONDS` in the action server's own background
thread (`keep_fresh`), and also started by a question when one is overdue; never in the question's own thread):
1. apply the customers' 👎 (retrieval/feedback.py): demote or retire replies that keep failing;
2. under a file lock in the index folder (replicas sharing the folder refresh one at a time), read the
   database: active replies missing from the index or not yet embedded with their current text are
   encoded and added, replies whose row is marked inactive are retired (replies the database does not
   know at all are left alone);
3. if anything changed: a copy of the index is changed and saved (index.json last, atomically), the
   rows are marked indexed, and the copy replaces the one answering. Other processes watching the same
   folder reload it through the meta file as after `python -m retrieval import`.
A failed refresh is logged and answering goes on with the index it has.
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import FrozenSet, Iterator, List, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from retrieval.corpus import mark_indexed, record
from retrieval.encoder import Encoder
from retrieval.feedback import DEMOTION_PENALTY, apply_feedback, demoted_external_ids
from retrieval.index import META_FILE, ReplyIndex, ReplyRecord, SearchHit
from retrieval.products import detect_product
from settings import RetrievalSettings, current
from storage.engine import session_scope
from storage.models import PastReply

logger = logging.getLogger(__name__)
LOCK_FILE = ".refresh.lock"


@dataclass(frozen=True)
class Answer:
    record: ReplyRecord
    score: float  # cosine similarity of the customer's question to the past question
    probability: float  # calibrated: how likely this reply answers the question
    confident: bool  # probability clears the calibrated threshold


@dataclass(frozen=True)
class RefreshReport:
    added: int
    retired: int
    demoted: int  # replies demoted by this refresh's feedback pass


class PastReplyAnswerer:
    def __init__(
        self,
        settings: Optional[RetrievalSettings] = None,
        encoder: Optional[Encoder] = None,
        database_url: Optional[str] = None,
    ) -> None:
        self.settings = settings or current().retrieval
        self.encoder = encoder or Encoder(threads=1)  # one question at a time (retrieval/encoder.py)
        self.database_url = database_url  # None: DATABASE_URL
        self._index: Optional[ReplyIndex] = None
        self._loaded_mtime: Optional[float] = None
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._refreshed_at: Optional[float] = None
        self._demoted: FrozenSet[str] = frozenset()

    @property
    def meta_path(self) -> Path:
        return self.settings.index_dir / META_FILE

    def index(self) -> Optional[ReplyIndex]:
        """The current index; None (and a warning) when none has been built, so the bot falls back politely."""
        try:
            mtime = self.meta_path.stat().st_mtime
        except FileNotFoundError:
            if self._index is None:
                logger.warning(
                    "no past-replies index at %s; run `python -m retrieval rebuild`", self.settings.index_dir
                )
            return self._index
        if self._index is None or mtime != self._loaded_mtime:
            with self._lock:
                if self._index is None or mtime != self._loaded_mtime:
                    self._index = ReplyIndex.load(self.settings.index_dir, self.encoder, self.settings.options)
                    self._loaded_mtime = mtime
                    logger.info("past-replies index loaded: %s", self._index.stats())
        return self._index

    def warm_up(self) -> None:
        """Load weights and index before the first customer waits for them."""
        index = self.index()
        if index is not None:
            index.search("warm up", top_k=1)

    # -- refresh from the database --------------------------------------------------------------------

    def refresh_due(self) -> bool:
        return self._refreshed_at is None or time.monotonic() - self._refreshed_at >= self.settings.refresh_seconds

    def maybe_refresh(self) -> None:
        """Refresh if due; never raises (the customer still gets an answer from the index we have)."""
        if not self.refresh_due():
            return
        try:
            self.refresh()
        except Exception:
            self._refreshed_at = time.monotonic()  # try again after the interval, not on every question
            logger.exception("could not refresh the past-replies index from the database")

    def refresh_in_background(self) -> None:
        """Start a refresh when one is due, in a thread of its own: a customer's question never waits for
        one (on a fresh deployment the first refresh embeds every reply the database has and the index
        lacks: seconds, during which every question queued behind it)."""
        if self.refresh_due() and not self._refresh_lock.locked():
            threading.Thread(target=self.maybe_refresh, name="past-replies-refresh", daemon=True).start()

    def keep_fresh(self, stop: Optional[threading.Event] = None) -> None:
        """Refresh every `RETRIEVAL_REFRESH_SECONDS` until `stop` is set. Run by the action server so an approved
        reply is in the index before the next customer asks: a refresh started by a question came too late for
        that question (the first customer after an approval got the old index: tests/integration/
        test_harvest_live.py)."""
        stop = stop or threading.Event()
        while not stop.is_set():
            self.maybe_refresh()
            stop.wait(self._seconds_to_next_refresh())

    def _seconds_to_next_refresh(self) -> float:
        if self._refreshed_at is None:
            return self.settings.refresh_seconds
        elapsed = time.monotonic() - self._refreshed_at
        return max(0.05, self.settings.refresh_seconds - elapsed)

    def refresh(self) -> Optional[RefreshReport]:
        """Apply feedback, then add what is new and retire what is withdrawn (module docstring). None when
        another thread of this process is refreshing already."""
        if not self._refresh_lock.acquire(blocking=False):
            return None
        try:
            with session_scope(self.database_url) as session:
                changes = apply_feedback(session)
            added, retired = self._sync()
            with session_scope(self.database_url, read_only=True) as session:
                self._demoted = frozenset(demoted_external_ids(session))
            self._refreshed_at = time.monotonic()
            report = RefreshReport(added, retired, len(changes.demoted))
            if added or retired or changes.demoted:
                logger.info("past-replies index refreshed: %s", report)
            return report
        finally:
            self._refresh_lock.release()

    @contextmanager
    def _folder_lock(self) -> Iterator[None]:
        """Replicas sharing the index folder refresh one after another, so a reply is embedded once."""
        self.settings.index_dir.mkdir(parents=True, exist_ok=True)
        with open(self.settings.index_dir / LOCK_FILE, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _sync(self) -> tuple:
        """(added, retired) after bringing the index in line with the active past replies.

        The replies are read in a read-only transaction and embedded with none open: embedding can take
        a minute (a fresh deployment's first refresh embeds every reply), and a write transaction held
        meanwhile would stall every writer on SQLite (the tracker store, the interaction log) past its
        busy timeout. Only marking the replies as indexed writes, afterwards."""
        with self._folder_lock():
            current_index = self.index()  # reloads if another replica saved meanwhile
            if current_index is None:
                return 0, 0  # nothing built yet: `python -m retrieval rebuild` first
            with session_scope(self.database_url, read_only=True) as session:
                return self._sync_from(session, current_index)

    def _sync_from(self, session: Session, current_index: ReplyIndex) -> tuple:
        rows = session.execute(select(PastReply.external_id, PastReply.embedding_model, PastReply.active)).all()
        active = {external_id for external_id, _, is_active in rows if is_active}
        live = current_index.live_ids()
        stale = {external_id for external_id, model, is_active in rows if is_active and model is None}
        wanted = sorted((active - live) | stale)
        # retire only what the database says is withdrawn: a reply the index holds and this database
        # does not know (an index built from files, another deployment's database, a fresh test
        # database) is left alone; reading "missing" as "withdrawn" once retired every reply
        withdrawn = live & {external_id for external_id, _, is_active in rows if not is_active}
        if not wanted and not withdrawn:
            return 0, 0
        records = self._records(session, wanted)
        session.rollback()  # the read is over: nothing stays open while the replies are embedded
        changed = ReplyIndex.load(self.settings.index_dir, self.encoder, self.settings.options)
        changed.retire(withdrawn)
        changed.add(records)
        changed.save(self.settings.index_dir)
        with session_scope(self.database_url) as writing:
            mark_indexed(writing, [r.reply_id for r in records], self.encoder.version)
        with self._lock:
            self._index = changed
            self._loaded_mtime = self.meta_path.stat().st_mtime
        return len(records), len(withdrawn)

    @staticmethod
    def _records(session: Session, external_ids: List[str]) -> List[ReplyRecord]:
        found: List[ReplyRecord] = []
        for start in range(0, len(external_ids), 500):
            chunk = external_ids[start : start + 500]
            query = select(PastReply).where(PastReply.external_id.in_(chunk)).order_by(PastReply.id)
            found.extend(record(reply) for reply in session.scalars(query))
        return found

    def _demote(self, hits: List[SearchHit]) -> List[SearchHit]:
        """A demoted reply's similarity lowered by the penalty, then the hits ranked again."""
        if not self._demoted:
            return hits
        scored = [
            SearchHit(hit.record, hit.score - DEMOTION_PENALTY) if hit.record.reply_id in self._demoted else hit
            for hit in hits
        ]
        return sorted(scored, key=lambda hit: hit.score, reverse=True)

    # -- answering -------------------------------------------------------------------------------------

    def answer(self, question: str, product: Optional[str] = None) -> Optional[Answer]:
        """The best past reply and how likely it answers; `product` defaults to the one the question names."""
        self.refresh_in_background()
        index = self.index()
        if index is None or not question.strip():
            return None
        hits = self._demote(index.search(question, top_k=4, product=product or detect_product(question)))[:2]
        if not hits:
            return None
        top2 = hits[1].score if len(hits) > 1 else None
        probability = index.calibration.probability(hits[0].score, top2)
        return Answer(hits[0].record, hits[0].score, probability, index.calibration.confident(probability))


_answerer: Optional[PastReplyAnswerer] = None
_answerer_lock = threading.Lock()


def answerer() -> PastReplyAnswerer:
    global _answerer
    with _answerer_lock:
        if _answerer is None:
            _answerer = PastReplyAnswerer()
        return _answerer
