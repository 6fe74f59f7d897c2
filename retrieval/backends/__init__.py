"""Vector backends behind one protocol, chosen by configuration (RETRIEVAL_BACKEND)."""

from __future__ import annotations

from typing import Dict, Type

from retrieval.backends.base import VectorBackend
from retrieval.backends.numpy_backend import NumpyBackend

BACKENDS: Dict[str, Type[VectorBackend]] = {"numpy": NumpyBackend}


def backend_class(name: str) -> Type[VectorBackend]:
    try:
        return BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown retrieval backend {name!r}; choose one of {sorted(BACKENDS)}") from None


__all__ = ["BACKENDS", "VectorBackend", "NumpyBackend", "backend_class"]
