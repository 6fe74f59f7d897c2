"""Retrieval deployment choices, read from the environment (configuration over code)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict

from storage.settings import PROJECT_ROOT, database_url

DEFAULT_INDEX_DIR = PROJECT_ROOT / "models" / "past_replies"  # beside the Rasa model archive


@dataclass(frozen=True)
class RetrievalSettings:
    backend: str = "numpy"
    index_dir: Path = DEFAULT_INDEX_DIR
    options: Dict[str, Any] = field(default_factory=dict)


def retrieval_settings() -> RetrievalSettings:
    """RETRIEVAL_BACKEND (numpy | faiss | pgvector), RETRIEVAL_INDEX_DIR, and per-backend options."""
    backend = os.environ.get("RETRIEVAL_BACKEND", "numpy").strip() or "numpy"
    index_dir = Path(os.environ.get("RETRIEVAL_INDEX_DIR", "") or DEFAULT_INDEX_DIR)
    options: Dict[str, Any] = {
        "faiss_factory": os.environ.get("RETRIEVAL_FAISS_FACTORY", "HNSW32"),
        "faiss_ef_search": int(os.environ.get("RETRIEVAL_FAISS_EF_SEARCH", "128")),
        "pgvector_url": os.environ.get("RETRIEVAL_PGVECTOR_URL", "") or database_url(),
        "pgvector_table": os.environ.get("RETRIEVAL_PGVECTOR_TABLE", "reply_vectors"),
        "pgvector_ef_search": int(os.environ.get("RETRIEVAL_PGVECTOR_EF_SEARCH", "100")),
    }
    return RetrievalSettings(backend=backend, index_dir=index_dir, options=options)
