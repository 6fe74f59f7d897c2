"""The past-replies index: records + vectors + the model version that made them, saved as one folder."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from retrieval.backends import Options, VectorBackend, backend_class
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


class ReplyIndex:
    def __init__(self, encoder: Optional[Encoder] = None, backend: str = "numpy", options: Options = None) -> None:
        self.encoder = encoder or Encoder()
        self.backend_name = backend
        self.options = dict(options or {})
        backend_class(backend)  # an unknown backend name fails here, not at the first add
        self.records: List[ReplyRecord] = []
        self._backend: Optional[VectorBackend] = None

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
        """Incremental: only the new records are encoded."""
        if not records:
            return
        vectors = self.encoder.encode([r.question for r in records], show_progress=show_progress)
        if self._backend is None:
            self._backend = backend_class(self.backend_name)(vectors.shape[1], self.options)
        self._backend.add(vectors)
        self.records.extend(records)

    def search(self, question: str, top_k: int = 3) -> List[SearchHit]:
        if self._backend is None or not self.records:
            return []
        hits = self._backend.search(self.encoder.encode([question]), top_k)[0]
        return [SearchHit(self.records[row], score) for row, score in hits]

    def stats(self) -> Dict[str, Any]:
        return {
            "replies": len(self.records),
            "backend": self.backend_name,
            "model_version": self.encoder.version,
            "products": sorted({r.product for r in self.records if r.product}),
        }

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if self._backend is not None:
            self._backend.save(directory)
        meta = {
            "backend": self.backend_name,
            "model_version": self.encoder.version,
            "dimension": getattr(self._backend, "dimension", None),
            "replies": len(self.records),
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=2))
        with open(directory / RECORDS_FILE, "w", encoding="utf-8") as f:
            for record in self.records:
                f.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, directory: Path, encoder: Optional[Encoder] = None, options: Options = None) -> "ReplyIndex":
        meta = json.loads((directory / META_FILE).read_text())
        index = cls(encoder, meta["backend"], options)
        if meta["model_version"] != index.encoder.version:
            raise StaleIndexError(
                f"index at {directory} was built with {meta['model_version']}, encoder is {index.encoder.version}"
            )
        lines = (directory / RECORDS_FILE).read_text(encoding="utf-8").splitlines()
        index.records = [ReplyRecord(**json.loads(line)) for line in lines if line.strip()]
        if meta["dimension"] is not None:
            index._backend = backend_class(meta["backend"]).load(directory, meta["dimension"], index.options)
        return index
