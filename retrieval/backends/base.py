"""What every vector backend offers the index."""

from __future__ import annotations

from pathlib import Path
from typing import List, Protocol, Tuple

import numpy as np


class VectorBackend(Protocol):
    name: str

    def add(self, vectors: np.ndarray) -> None:
        """Append rows; row n of all adds so far is item n of the index."""

    def search(self, queries: np.ndarray, top_k: int) -> List[List[Tuple[int, float]]]:
        """Best (row, cosine score) pairs per query, best first."""

    def save(self, directory: Path) -> None: ...

    @classmethod
    def load(cls, directory: Path, dimension: int) -> "VectorBackend": ...

    def __len__(self) -> int: ...
