"""The past-replies index: records + vectors + the model version that made them, saved as one folder."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set

from retrieval.backends import Options, VectorBackend, backend_class
from retrieval.calibration import Calibration
from retrieval.encoder import Encoder

META_FILE, RECORDS_FILE = "index.json", "records.jsonl"


class StaleIndexError(RuntimeError):
    """The saved vectors were made by other weights than the encoder in use: rebuild the index."""


@dataclass(frozen=True)
class ReplyRecord:
    """One past answer: what the customer asked and what the agent replied."""

    question: str
    reply: str
    reply_id: str
    product: Optional[str] = None
    source: str = "import"
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchHit:
    record: ReplyRecord
    score: float


INDEX_TEXTS = {
    # what a past reply is embedded as; the customer's new question is matched against it
    "question": lambda r: r.question,
    "question_reply": lambda r: f"{r.question} {r.reply}",
}
PRODUCT_CANDIDATES = 30  # how far down the ranking a product-matching reply is looked for
DEFAULT_INDEX_TEXT = "question_reply"  # best P@1 on our held-out paraphrases (see benchmarks/results/retrieval.md)


class ReplyIndex:
    """New customer questions are matched against past question + reply text.

    Rows are append-only: a reply that changed or was withdrawn is *retired* (skipped by search) and,
    if changed, added again, so no update ever needs a full rebuild.
    """

    def __init__(self, encoder: Optional[Encoder] = None, backend: str = "numpy", options: Options = None) -> None:
        self.encoder = encoder or Encoder()
        self.backend_name = backend
        self.options = dict(options or {})
        self.index_text = self.options.get("index_text") or DEFAULT_INDEX_TEXT
        if self.index_text not in INDEX_TEXTS:
            raise ValueError(f"unknown index_text {self.index_text!r}; choose one of {sorted(INDEX_TEXTS)}")
        self.records: List[ReplyRecord] = []
        self.retired: Set[int] = set()
        self.calibration = Calibration.default()
        self._backend: Optional[VectorBackend] = None
        backend_class(backend)  # an unknown backend name fails here, not at the first add

    @classmethod
    def build(
        cls,
        records: Sequence[ReplyRecord],
        encoder: Optional[Encoder] = None,
        backend: str = "numpy",
        show_progress: bool = False,
        options: Options = None,
    ) -> "ReplyIndex":
        index = cls(encoder, backend, options)
        index.add(records, show_progress=show_progress)
        return index

    def add(self, records: Sequence[ReplyRecord], show_progress: bool = False) -> None:
        """Incremental: only the new records are encoded; an id already present is replaced."""
        if not records:
            return
        self.retire(r.reply_id for r in records)
        text_of = INDEX_TEXTS[self.index_text]
        vectors = self.encoder.encode([text_of(r) for r in records], show_progress=show_progress)
        if self._backend is None:
            self._backend = backend_class(self.backend_name)(vectors.shape[1], self.options)
        self._backend.add(vectors)
        self.records.extend(records)

    def retire(self, reply_ids: Iterable[str]) -> int:
        """Stop answering with these replies (withdrawn or about to be re-added with new text)."""
        wanted = set(reply_ids)
        rows = {row for row, record in enumerate(self.records) if record.reply_id in wanted} - self.retired
        self.retired |= rows
        return len(rows)

    def live_ids(self) -> Set[str]:
        return {r.reply_id for row, r in enumerate(self.records) if row not in self.retired}

    def search(self, question: str, top_k: int = 3, product: Optional[str] = None) -> List[SearchHit]:
        """Best live replies; with a product, replies for other product lines are passed over.

        A customer asking about travel cover should not get a life-insurance reply that happens to be
        worded alike (general replies stay eligible). If nothing of that product is near, the product
        filter is dropped rather than answering from nothing.
        """
        if self._backend is None or not self.records:
            return []
        extra = PRODUCT_CANDIDATES if product else 0
        rows = self._backend.search(self.encoder.encode([question]), top_k + extra + len(self.retired))[0]
        hits = [SearchHit(self.records[row], score) for row, score in rows if row not in self.retired]
        if product:
            matching = [h for h in hits if h.record.product in (product, "general", None)]
            hits = matching or hits
        return hits[:top_k]

    def stats(self) -> Dict[str, Any]:
        live = [r for row, r in enumerate(self.records) if row not in self.retired]
        return {
            "replies": len(live),
            "retired_rows": len(self.retired),
            "backend": self.backend_name,
            "index_text": self.index_text,
            "model_version": self.encoder.version,
            "products": sorted({r.product for r in live if r.product}),
            "calibration": self.calibration.describe(),
        }

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if self._backend is not None:
            self._backend.save(directory)
        # renamed over the old file, as the backend's vectors are: never a half-written file under index.json
        records = directory / (RECORDS_FILE + ".tmp")
        with open(records, "w", encoding="utf-8") as f:
            for record in self.records:
                f.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")
        records.replace(directory / RECORDS_FILE)
        meta = {
            "backend": self.backend_name,
            "model_version": self.encoder.version,
            "index_text": self.index_text,
            "dimension": getattr(self._backend, "dimension", None),
            "rows": len(self.records),
            "retired_rows": sorted(self.retired),
            "calibration": self.calibration.to_dict(),
        }
        # index.json last and atomically: readers watch it to know a complete new index is there
        tmp = directory / (META_FILE + ".tmp")
        tmp.write_text(json.dumps(meta, indent=2))
        tmp.replace(directory / META_FILE)

    @classmethod
    def load(cls, directory: Path, encoder: Optional[Encoder] = None, options: Options = None) -> "ReplyIndex":
        meta_path = directory / META_FILE
        if not meta_path.exists():
            raise FileNotFoundError(f"no past-replies index at {directory}: run `python -m retrieval rebuild`")
        meta = json.loads(meta_path.read_text())
        index = cls(encoder, meta["backend"], {**(options or {}), "index_text": meta.get("index_text", "question")})
        if meta["model_version"] != index.encoder.version:
            raise StaleIndexError(
                f"index at {directory} was built with {meta['model_version']}, encoder is {index.encoder.version}"
            )
        lines = (directory / RECORDS_FILE).read_text(encoding="utf-8").splitlines()
        index.records = [ReplyRecord(**json.loads(line)) for line in lines if line.strip()]
        index.retired = set(meta.get("retired_rows", []))
        index.calibration = Calibration.from_dict(meta.get("calibration"))
        if meta["dimension"] is not None:
            index._backend = backend_class(meta["backend"]).load(directory, meta["dimension"], index.options)
        return index
