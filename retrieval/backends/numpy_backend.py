"""Exact search in process memory: the default, and the reference the other backends are checked against."""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import numpy as np

from retrieval.backends.base import Options
from retrieval.search import semantic_search


class NumpyBackend:
    name = "numpy"
    FILE = "vectors.npy"

    def __init__(self, dimension: int, options: Options = None) -> None:
        self.dimension = dimension
        self._vectors = np.zeros((0, dimension), dtype=np.float32)

    def add(self, vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dimension)
        self._vectors = np.concatenate([self._vectors, vectors])

    def search(self, queries: np.ndarray, top_k: int) -> List[List[Tuple[int, float]]]:
        return semantic_search(np.asarray(queries, dtype=np.float32), self._vectors, top_k)

    def save(self, directory: Path) -> None:
        """Written beside and renamed over the old file: a process stopped mid-write left a zero-byte vectors.npy
        under the old index.json, and every load after failed (seen in a CI run: the answerer's refresh raised
        "Cannot load file containing pickled data" every second)."""
        tmp = directory / (self.FILE + ".tmp")
        with open(tmp, "wb") as handle:
            np.save(handle, self._vectors)
        tmp.replace(directory / self.FILE)

    @classmethod
    def load(cls, directory: Path, dimension: int, options: Options = None) -> "NumpyBackend":
        backend = cls(dimension)
        backend._vectors = np.load(directory / cls.FILE).astype(np.float32)
        return backend

    def __len__(self) -> int:
        return len(self._vectors)
