"""The ranking systems the retrieval benchmark compares: BM25, MiniLM cosine (off the shelf or fine-tuned
here with MultipleNegativesRankingLoss), and a BM25 + dense hybrid.

Every system turns (corpus texts, query texts) into a score matrix, one row per query, so the sections
score them all with the same metric code. The dense systems use retrieval.encoder.Encoder, the encoder
the product answers with; torch and sentence-transformers are imported only where a system needs them.
"""

from __future__ import annotations

import random
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import numpy as np
from tqdm import tqdm

from retrieval.encoder import Encoder, packaged_model_path

TTY = sys.stderr.isatty()
RRF_K = 60
FUSION_METHODS = ("zscore", "rrf")
MNRL_SCALE = 20.0

# Function words of ordinary and of lemmatised English ("what be the cost of ..."): they carry no topic.
STOPWORDS = frozenset(
    "a an the be is are was were been being am do does did have has had i me my we our you your it its "
    "he she they them their this that these those of to in on at for from by with about as into and or "
    "but if so not no can will would should could may might what how when where which who whom why "
    "there here than then just any some".split()
)


def progress(iterable: Iterable[Any], desc: str, total: Optional[int] = None) -> Iterable[Any]:
    """A bar on a terminal; in a log file an update every 30 s, so a background run can be followed."""
    return tqdm(iterable, desc=desc, total=total, mininterval=0.5 if TTY else 30.0, file=sys.stderr)


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ------------------------------------------------------------------------------------------------ BM25


def tokenize(text: str) -> List[str]:
    """Lowercase alphanumeric tokens without stopwords (BM25)."""
    return [t for t in re.findall(r"[a-z0-9]+", text.lower()) if t not in STOPWORDS]


def bm25_scores(corpus: Sequence[str], queries: Sequence[str], k1: float, b: float, desc: str) -> np.ndarray:
    from rank_bm25 import BM25Okapi

    bm25 = BM25Okapi([tokenize(text) for text in corpus], k1=k1, b=b)
    out = np.zeros((len(queries), len(corpus)), dtype=np.float32)
    for i, query in enumerate(progress(queries, desc)):
        out[i] = bm25.get_scores(tokenize(query))
    return out


# ----------------------------------------------------------------------------------------------- dense


def dense_scores(encoder: Encoder, corpus: Sequence[str], queries: Sequence[str]) -> np.ndarray:
    """Cosine of every query with every corpus text (the encoder's vectors are L2-normalised)."""
    corpus_vectors = encoder.encode(corpus, show_progress=TTY)
    query_vectors = encoder.encode(queries, show_progress=TTY)
    return query_vectors @ corpus_vectors.T


# ---------------------------------------------------------------------------------------------- hybrid


def zscore_rows(matrix: np.ndarray) -> np.ndarray:
    return (matrix - matrix.mean(axis=1, keepdims=True)) / (matrix.std(axis=1, keepdims=True) + 1e-9)


def rank_rows(matrix: np.ndarray) -> np.ndarray:
    """1-based rank of every column within its row (1 = best)."""
    order = np.argsort(-matrix, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.broadcast_to(np.arange(1, matrix.shape[1] + 1), order.shape), axis=1)
    return ranks


def fuse(method: str, weight: float, dense: np.ndarray, sparse: np.ndarray) -> np.ndarray:
    """weight on the dense scores; "zscore" mixes per-question standardised scores, "rrf" reciprocal ranks."""
    if method == "zscore":
        return weight * zscore_rows(dense) + (1 - weight) * zscore_rows(sparse)
    if method == "rrf":
        return weight / (RRF_K + rank_rows(dense)) + (1 - weight) / (RRF_K + rank_rows(sparse))
    raise ValueError(f"unknown fusion method {method!r}")


# ----------------------------------------------------------------------------------------- fine-tuning


@dataclass(frozen=True)
class FineTuneSettings:
    epochs: int
    batch_size: int
    learning_rate: float
    max_seq_length: int
    budget_minutes: float
    seed: int


def length_bucketed_batches(
    pairs: Sequence[Tuple[str, str]], batch_size: int, rng: random.Random
) -> List[List[Tuple[str, str]]]:
    """Shuffled batches of similar answer length (padding to 256 tokens would double the CPU time), in which
    no question or answer text repeats: a repeat would be a false in-batch negative."""
    shuffled = list(pairs)
    rng.shuffle(shuffled)
    batches: List[List[Tuple[str, str]]] = []
    pool = batch_size * 8
    for start in range(0, len(shuffled), pool):
        pending = sorted(shuffled[start : start + pool], key=lambda pair: len(pair[1]))
        while pending:
            batch: List[Tuple[str, str]] = []
            seen: Set[str] = set()
            deferred: List[Tuple[str, str]] = []
            for pair in pending:
                if len(batch) < batch_size and pair[0] not in seen and pair[1] not in seen:
                    batch.append(pair)
                    seen.update(pair)
                else:
                    deferred.append(pair)
            if len(batch) < 2:  # a lone pair has no in-batch negative to learn from
                break
            batches.append(batch)
            pending = deferred
    rng.shuffle(batches)
    return batches


def fine_tune(
    pairs: Sequence[Tuple[str, str]],
    out_dir: Path,
    settings: FineTuneSettings,
    evaluate: Callable[[Path], Dict[str, float]],
    log: Callable[[str], None] = print,
) -> Dict[str, Any]:
    """MultipleNegativesRankingLoss with in-batch negatives; keeps the epoch whose saved model `evaluate`
    gives the best "mrr_at_10" (the caller scores it on its hold-out, so no test figure chooses).

    A plain torch loop: sentence-transformers' `fit` needs the `datasets` and `accelerate` packages,
    which the venv does not carry.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import get_linear_schedule_with_warmup

    seed_everything(settings.seed)
    model = SentenceTransformer(str(packaged_model_path()), device="cpu")
    model.max_seq_length = settings.max_seq_length
    loss_fn = MultipleNegativesRankingLoss(model, scale=MNRL_SCALE)
    rng = random.Random(settings.seed)
    steps_per_epoch = len(length_bucketed_batches(pairs, settings.batch_size, random.Random(settings.seed)))
    total_steps = steps_per_epoch * settings.epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=0.01)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(0.1 * total_steps), total_steps)
    budget = settings.budget_minutes * 60
    epochs: List[Dict[str, Any]] = []
    train_seconds = 0.0
    best: Optional[Dict[str, Any]] = None
    tmp_dir = out_dir.with_name(out_dir.name + ".epoch")
    for epoch in range(1, settings.epochs + 1):
        if epochs and train_seconds / len(epochs) * (len(epochs) + 1) > budget:
            log(
                f"stopping before epoch {epoch}: one epoch takes {train_seconds / len(epochs):.0f} s, budget {budget} s"
            )
            break
        model.train()
        started = time.perf_counter()
        losses = []
        for batch in progress(length_bucketed_batches(pairs, settings.batch_size, rng), f"fine-tune epoch {epoch}"):
            features = [model.preprocess([q for q, _ in batch]), model.preprocess([a for _, a in batch])]
            loss = loss_fn(features, None)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(float(loss.detach()))
        seconds = time.perf_counter() - started
        train_seconds += seconds
        model.eval()
        model.save(str(tmp_dir))
        metrics = evaluate(tmp_dir)
        epochs.append(
            {"epoch": epoch, "seconds": round(seconds, 1), "mean_loss": round(float(np.mean(losses)), 4), **metrics}
        )
        log(f"epoch {epoch}: {seconds:.0f} s, loss {np.mean(losses):.3f}, hold-out MRR@10 {metrics['mrr_at_10']:.4f}")
        if best is None or metrics["mrr_at_10"] > best["mrr_at_10"]:
            best = epochs[-1]
            model.save(str(out_dir))
    shutil.rmtree(tmp_dir, ignore_errors=True)
    if best is None:
        raise RuntimeError("fine-tuning ran no epoch (epochs must be at least 1)")
    return {
        "train_pairs": len(pairs),
        "steps_per_epoch": steps_per_epoch,
        "epochs_run": len(epochs),
        "best_epoch": best["epoch"],
        "train_seconds": round(train_seconds, 1),
        "epochs": epochs,
    }
