"""Vector backends behind one protocol, chosen by configuration (RETRIEVAL_BACKEND)."""

from __future__ import annotations

from typing import Dict, Type

from retrieval.backends.base import Options, VectorBackend
from retrieval.backends.faiss_backend import FaissBackend
from retrieval.backends.numpy_backend import NumpyBackend
from retrieval.backends.pgvector_backend import PgvectorBackend

BACKENDS: Dict[str, Type[VectorBackend]] = {
    "numpy": NumpyBackend,
    "faiss": FaissBackend,
    "pgvector": PgvectorBackend,
}


def backend_class(name: str) -> Type[VectorBackend]:
    try:
        return BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown retrieval backend {name!r}; choose one of {sorted(BACKENDS)}") from None


__all__ = ["BACKENDS", "Options", "VectorBackend", "FaissBackend", "NumpyBackend", "PgvectorBackend", "backend_class"]
