"""What every vector backend offers the index.

Vectors are L2-normalised, so inner product is cosine similarity. Row n of all `add` calls so far is
item n of the index; the index maps rows back to reply records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Protocol, Tuple

import numpy as np

Options = Optional[Dict[str, Any]]


class VectorBackend(Protocol):
    name: str
    dimension: int

    def __init__(self, dimension: int, options: Options = None) -> None: ...

    def add(self, vectors: np.ndarray) -> None:
        """Append rows without rebuilding what is already indexed."""

    def search(self, queries: np.ndarray, top_k: int) -> List[List[Tuple[int, float]]]:
        """Best (row, cosine score) pairs per query, best first."""

    def save(self, directory: Path) -> None: ...

    @classmethod
    def load(cls, directory: Path, dimension: int, options: Options = None) -> "VectorBackend": ...

    def __len__(self) -> int: ...
