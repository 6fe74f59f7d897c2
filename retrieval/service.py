"""The answerer the bot calls: one index per process, reloaded when a rebuild or import replaces it."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from retrieval.encoder import Encoder
from retrieval.index import META_FILE, ReplyIndex, ReplyRecord
from retrieval.products import detect_product
from settings import RetrievalSettings, current

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    record: ReplyRecord
    score: float  # cosine similarity of the customer's question to the past question
    probability: float  # calibrated: how likely this reply answers the question
    confident: bool  # probability clears the calibrated threshold


class PastReplyAnswerer:
    def __init__(self, settings: Optional[RetrievalSettings] = None, encoder: Optional[Encoder] = None) -> None:
        self.settings = settings or current().retrieval
        self.encoder = encoder or Encoder()
        self._index: Optional[ReplyIndex] = None
        self._loaded_mtime: Optional[float] = None
        self._lock = threading.Lock()

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

    def answer(self, question: str, product: Optional[str] = None) -> Optional[Answer]:
        """The best past reply and how likely it answers; `product` defaults to the one the question names."""
        index = self.index()
        if index is None or not question.strip():
            return None
        hits = index.search(question, top_k=2, product=product or detect_product(question))
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
