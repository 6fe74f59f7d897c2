"""FAISS in process: an HNSW graph by default, so one query costs well under a millisecond at a million replies.

HNSW needs no training and takes incremental adds, which suits a corpus that grows one agent reply at a
time. The factory string is configurable (RETRIEVAL_FAISS_FACTORY), e.g. "Flat" for exact search or
"IVF1024,Flat" for a cheaper build (IVF indexes are trained on the first batch added).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Tuple

import numpy as np

from retrieval.backends.base import Options

DEFAULT_FACTORY = "HNSW32"


def _threads(count: int) -> None:
    """FAISS parallelises with OpenMP. One query at a time (a chat server) is fastest on one thread:
    with 2 threads a single HNSW search measured 12 ms p50 against 0.4 ms (benchmarks/results/retrieval.md),
    spent waking and syncing the pool. Bulk adds still use every core."""
    import faiss

    faiss.omp_set_num_threads(max(1, count))


class FaissBackend:
    name = "faiss"
    FILE = "vectors.faiss"

    def __init__(self, dimension: int, options: Options = None) -> None:
        import faiss

        options = options or {}
        self.dimension = dimension
        self.factory = options.get("faiss_factory") or DEFAULT_FACTORY
        self.ef_search = int(options.get("faiss_ef_search") or 128)
        self.nprobe = int(options.get("faiss_nprobe") or 16)
        self.search_threads = int(options.get("faiss_search_threads") or 1)
        _threads(self.search_threads)
        self._index = faiss.index_factory(dimension, self.factory, faiss.METRIC_INNER_PRODUCT)
        self._configure()

    def _configure(self) -> None:
        import faiss

        hnsw = getattr(faiss.downcast_index(self._index), "hnsw", None)
        if hnsw is not None:
            hnsw.efSearch = self.ef_search
            if self._index.ntotal == 0:
                hnsw.efConstruction = 80
        if hasattr(faiss.downcast_index(self._index), "nprobe"):
            faiss.downcast_index(self._index).nprobe = self.nprobe

    def add(self, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(-1, self.dimension))
        _threads(os.cpu_count() or 1)
        try:
            if not self._index.is_trained:
                self._index.train(vectors)
            self._index.add(vectors)
        finally:
            _threads(self.search_threads)

    def search(self, queries: np.ndarray, top_k: int) -> List[List[Tuple[int, float]]]:
        queries = np.ascontiguousarray(np.asarray(queries, dtype=np.float32).reshape(-1, self.dimension))
        k = min(top_k, self._index.ntotal)
        if k == 0:
            return [[] for _ in range(len(queries))]
        scores, rows = self._index.search(queries, k)
        return [
            [(int(r), float(s)) for r, s in zip(row_ids, row_scores, strict=True) if r >= 0]
            for row_ids, row_scores in zip(rows, scores, strict=True)
        ]

    def save(self, directory: Path) -> None:
        import faiss

        tmp = directory / (self.FILE + ".tmp")  # renamed over the old file, as numpy_backend.py's vectors are
        faiss.write_index(self._index, str(tmp))
        os.replace(tmp, directory / self.FILE)

    @classmethod
    def load(cls, directory: Path, dimension: int, options: Options = None) -> "FaissBackend":
        import faiss

        backend = cls(dimension, options)
        backend._index = faiss.read_index(str(directory / cls.FILE))
        backend._configure()
        return backend

    def __len__(self) -> int:
        return int(self._index.ntotal)
