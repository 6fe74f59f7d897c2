"""Retrieval benchmark: which model, text representation and vector backend the past-replies bot should use.

Three sections in one run (seeds fixed):

1. InsuranceQA ranking quality (test split): every test question ranks ALL distinct test answers.
   BM25, off-the-shelf MiniLM, MiniLM fine-tuned on the validation split (MultipleNegativesRankingLoss,
   10 % of validation questions held out for epoch/model selection) and a BM25 + dense hybrid. The best
   configuration is named by hold-out MRR@10, never by test figures.
2. Harbor Mutual held-out questions (demo_data/past_replies/heldout/*.csv) against the past-replies corpus:
   match the new question against past questions, question + reply, or replies; BM25 beside; top-1 cosine
   separation of answerable and unanswerable questions.
3. Search latency and scale on synthetic clustered 384-d vectors at 10k / 100k / 1M: numpy (exact),
   FAISS HNSW32 and pgvector, through the retrieval.backends API.

Writes benchmarks/results/retrieval.{json,md,png} (with --quick: benchmarks/.cache/quick/, a smoke run).

    .venv/bin/python benchmarks/retrieval_benchmark.py            # full run, about an hour on 2 cores
    .venv/bin/python benchmarks/retrieval_benchmark.py --quick    # minutes
    .venv/bin/python benchmarks/retrieval_benchmark.py --sections harbor --reuse-finetuned
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import functools
import gc
import io
import json
import math
import os
import platform
import random
import re
import shlex
import shutil
import struct
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

os.environ.setdefault("USE_TF", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from retrieval.backends import FaissBackend, NumpyBackend, PgvectorBackend  # noqa: E402
from retrieval.encoder import Encoder, packaged_model_path  # noqa: E402
from retrieval.search import semantic_search  # noqa: E402

INSURANCEQA = Path("/work/shared/data/insuranceqa_pairs")
PAST_REPLIES = ROOT / "demo_data" / "past_replies"
RESULTS = ROOT / "benchmarks" / "results"
CACHE = ROOT / "benchmarks" / ".cache"
FINETUNED_NAME = "minilm_insuranceqa"
SECTIONS = ("insuranceqa", "harbor", "scale")
TTY = sys.stderr.isatty()
TOP_K = 10
RRF_K = 60
DIMENSION = 384

# Function words of ordinary and of lemmatised English ("what be the cost of ..."): they carry no topic.
STOPWORDS = frozenset(
    "a an the be is are was were been being am do does did have has had i me my we our you your it its "
    "he she they them their this that these those of to in on at for from by with about as into and or "
    "but if so not no can will would should could may might what how when where which who whom why "
    "there here than then just any some".split()
)


# --------------------------------------------------------------------------------------------- helpers


def step(message: str) -> None:
    print(f"\n==> [{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def note(message: str) -> None:
    print(f"    {message}", flush=True)


def progress(iterable: Iterable[Any], desc: str, total: Optional[int] = None) -> Iterable[Any]:
    """A bar on a terminal; in a log file an update every 30 s, so a background run can be followed."""
    return tqdm(iterable, desc=desc, total=total, mininterval=0.5 if TTY else 30.0, file=sys.stderr)


def release_freed_memory() -> None:
    """gc, then hand freed heap pages back to the OS, so RSS before/after a build compares like with like."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def tokenize(text: str) -> List[str]:
    """Lowercase alphanumeric tokens without stopwords (BM25)."""
    return [t for t in re.findall(r"[a-z0-9]+", text.lower()) if t not in STOPWORDS]


def ranking_metrics(scores: np.ndarray, gold: Sequence[Set[int]], k: int = TOP_K) -> Dict[str, float]:
    """P@1, MRR@k and Recall@k of score rows (one per question) against gold candidate columns."""
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    p1 = mrr = recall = 0.0
    for row, relevant in zip(top, gold, strict=True):
        hits = [rank for rank, column in enumerate(row) if int(column) in relevant]
        p1 += 1.0 if hits and hits[0] == 0 else 0.0
        mrr += 1.0 / (hits[0] + 1) if hits else 0.0
        recall += len(hits) / len(relevant)
    n = max(len(gold), 1)
    return {
        "p_at_1": p1 / n,
        "mrr_at_10": mrr / n,
        "recall_at_10": recall / n,
        "questions": len(gold),
        "candidates": int(scores.shape[1]),
    }


def roc_auc(scores: Sequence[float], positive: Sequence[bool]) -> Optional[float]:
    """Probability that a random positive outscores a random negative (ties count half)."""
    pos = np.asarray([s for s, p in zip(scores, positive, strict=True) if p], dtype=np.float64)
    neg = np.asarray([s for s, p in zip(scores, positive, strict=True) if not p], dtype=np.float64)
    if len(pos) == 0 or len(neg) == 0:
        return None
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


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


def bm25_scores(corpus: Sequence[str], queries: Sequence[str], k1: float, b: float, desc: str) -> np.ndarray:
    from rank_bm25 import BM25Okapi

    bm25 = BM25Okapi([tokenize(text) for text in corpus], k1=k1, b=b)
    out = np.zeros((len(queries), len(corpus)), dtype=np.float32)
    for i, query in enumerate(progress(queries, desc)):
        out[i] = bm25.get_scores(tokenize(query))
    return out


def dense_scores(encoder: Encoder, corpus: Sequence[str], queries: Sequence[str]) -> np.ndarray:
    corpus_vectors = encoder.encode(corpus, show_progress=TTY)
    query_vectors = encoder.encode(queries, show_progress=TTY)
    return query_vectors @ corpus_vectors.T


def machine_info() -> Dict[str, Any]:
    import faiss
    import sentence_transformers
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    mem = next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gb": round(int(mem) / 1024**2, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "faiss": faiss.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "numpy": np.__version__,
        "rank_bm25": metadata.version("rank-bm25"),
        "load_average_at_start": list(os.getloadavg()),
    }


# ------------------------------------------------------------------------------- 1. InsuranceQA ranking


@dataclass
class RankingTask:
    """Questions with at least one positive answer, ranked against every distinct candidate answer."""

    questions: List[str]
    candidates: List[str]
    gold: List[Set[int]]


def read_pairs(path: Path) -> List[Dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def ranking_task(rows: Sequence[Dict[str, str]]) -> RankingTask:
    candidates = list(dict.fromkeys(row["answer"] for row in rows))
    column = {answer: i for i, answer in enumerate(candidates)}
    gold: Dict[str, Set[int]] = {}
    for row in rows:
        if row["label"] == "1":
            gold.setdefault(row["question"], set()).add(column[row["answer"]])
    return RankingTask(list(gold), candidates, list(gold.values()))


def shrink_task(task: RankingTask, questions: int, candidates: int, rng: random.Random) -> RankingTask:
    """--quick: a sample of questions, their gold answers and random other candidates."""
    picked = sorted(rng.sample(range(len(task.questions)), min(questions, len(task.questions))))
    keep = sorted(set().union(*(task.gold[i] for i in picked)))
    others = [c for c in range(len(task.candidates)) if c not in set(keep)]
    keep = sorted(set(keep) | set(rng.sample(others, max(0, min(len(others), candidates - len(keep))))))
    new_column = {old: new for new, old in enumerate(keep)}
    return RankingTask(
        [task.questions[i] for i in picked],
        [task.candidates[c] for c in keep],
        [{new_column[c] for c in task.gold[i]} for i in picked],
    )


def split_validation(
    rows: Sequence[Dict[str, str]], fraction: float, seed: int
) -> Tuple[List[Dict[str, str]], List[Dict[str, str]]]:
    """Hold out a fraction of the distinct validation questions (with all their rows)."""
    questions = sorted({row["question"] for row in rows})
    random.Random(seed).shuffle(questions)
    held = set(questions[: max(1, round(fraction * len(questions)))])
    return [r for r in rows if r["question"] not in held], [r for r in rows if r["question"] in held]


def training_pairs(
    train_rows: Sequence[Dict[str, str]], excluded_answers: Set[str], excluded_pairs: Set[Tuple[str, str]]
) -> Tuple[List[Tuple[str, str]], int]:
    """(question, positive answer) pairs, minus any whose answer is a gold answer of test or hold-out."""
    pairs, dropped = [], 0
    for row in train_rows:
        if row["label"] != "1":
            continue
        pair = (row["question"], row["answer"])
        if row["answer"] in excluded_answers or pair in excluded_pairs:
            dropped += 1
            continue
        pairs.append(pair)
    return list(dict.fromkeys(pairs)), dropped


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


def holdout_mrr(encoder_path: Path, task: RankingTask) -> Dict[str, float]:
    return ranking_metrics(dense_scores(Encoder(encoder_path), task.candidates, task.questions), task.gold)


def fine_tune(
    pairs: Sequence[Tuple[str, str]],
    holdout: RankingTask,
    out_dir: Path,
    args: argparse.Namespace,
) -> Dict[str, Any]:
    """MultipleNegativesRankingLoss with in-batch negatives; keeps the epoch with the best hold-out MRR@10.

    A plain torch loop: sentence-transformers' `fit` needs the `datasets` and `accelerate` packages,
    which the venv does not carry.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import get_linear_schedule_with_warmup

    seed_everything(args.seed)
    model = SentenceTransformer(str(packaged_model_path()), device="cpu")
    model.max_seq_length = args.max_seq_length
    loss_fn = MultipleNegativesRankingLoss(model, scale=20.0)
    rng = random.Random(args.seed)
    steps_per_epoch = len(length_bucketed_batches(pairs, args.batch_size, random.Random(args.seed)))
    total_steps = steps_per_epoch * args.epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(0.1 * total_steps), total_steps)
    budget = args.train_budget_minutes * 60
    epochs: List[Dict[str, Any]] = []
    train_seconds = 0.0
    best: Optional[Dict[str, Any]] = None
    tmp_dir = out_dir.with_name(out_dir.name + ".epoch")
    for epoch in range(1, args.epochs + 1):
        if epochs and train_seconds / len(epochs) * (len(epochs) + 1) > budget:
            note(
                f"stopping before epoch {epoch}: one epoch takes {train_seconds / len(epochs):.0f} s, budget {budget} s"
            )
            break
        model.train()
        started = time.perf_counter()
        losses = []
        for batch in progress(length_bucketed_batches(pairs, args.batch_size, rng), f"fine-tune epoch {epoch}"):
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
        metrics = holdout_mrr(tmp_dir, holdout)
        epochs.append(
            {"epoch": epoch, "seconds": round(seconds, 1), "mean_loss": round(float(np.mean(losses)), 4), **metrics}
        )
        note(f"epoch {epoch}: {seconds:.0f} s, loss {np.mean(losses):.3f}, hold-out MRR@10 {metrics['mrr_at_10']:.4f}")
        if best is None or metrics["mrr_at_10"] > best["mrr_at_10"]:
            best = epochs[-1]
            model.save(str(out_dir))
    shutil.rmtree(tmp_dir, ignore_errors=True)
    assert best is not None
    return {
        "train_pairs": len(pairs),
        "steps_per_epoch": steps_per_epoch,
        "epochs_run": len(epochs),
        "best_epoch": best["epoch"],
        "train_seconds": round(train_seconds, 1),
        "epochs": epochs,
    }


def run_insuranceqa(args: argparse.Namespace, cache: Path) -> Tuple[Dict[str, Any], Path]:
    rng = random.Random(args.seed)
    test_rows = read_pairs(INSURANCEQA / "test.csv")
    validation_rows = read_pairs(INSURANCEQA / "validation.csv")
    test = ranking_task(test_rows)
    validation = ranking_task(validation_rows)
    train_rows, holdout_rows = split_validation(validation_rows, args.holdout_fraction, args.seed)
    holdout = ranking_task(holdout_rows)
    if args.quick:
        test = shrink_task(test, 150, 600, rng)
        validation = shrink_task(validation, 150, 600, rng)
        holdout = shrink_task(holdout, 80, 300, rng)
    validation_questions = {r["question"] for r in validation_rows}
    unseen = [i for i, q in enumerate(test.questions) if q not in validation_questions]
    note(
        f"test: {len(test.questions)} questions x {len(test.candidates)} candidates; "
        f"hold-out: {len(holdout.questions)} x {len(holdout.candidates)}"
    )

    # BM25: k1/b chosen on the whole validation split (no training involved), test untouched.
    step("InsuranceQA: BM25 k1/b grid on validation")
    grid = (
        [(1.5, 0.75), (1.2, 0.75)] if args.quick else [(k1, b) for k1 in (0.9, 1.2, 1.5, 2.0) for b in (0.5, 0.75, 0.9)]
    )
    bm25_grid = []
    for k1, b in grid:
        metrics = ranking_metrics(
            bm25_scores(validation.candidates, validation.questions, k1, b, f"BM25 k1={k1} b={b}"), validation.gold
        )
        bm25_grid.append({"k1": k1, "b": b, **metrics})
        note(f"k1={k1} b={b}: validation MRR@10 {metrics['mrr_at_10']:.4f}")
    best_bm25 = max(bm25_grid, key=lambda r: r["mrr_at_10"])
    k1, b = best_bm25["k1"], best_bm25["b"]

    # Fine-tuning on validation minus the hold-out; no test or hold-out gold answer is trained on.
    excluded_answers = {test.candidates[c] for g in test.gold for c in g}
    excluded_answers |= {holdout.candidates[c] for g in holdout.gold for c in g}
    excluded_pairs = {(r["question"], r["answer"]) for r in test_rows}
    pairs, dropped = training_pairs(train_rows, excluded_answers, excluded_pairs)
    if args.quick:
        pairs = pairs[:256]
    finetuned_dir = cache / FINETUNED_NAME
    meta_file = finetuned_dir / "benchmark_training.json"
    if args.reuse_finetuned and meta_file.exists():
        step(f"InsuranceQA: reusing the fine-tuned model in {finetuned_dir}")
        training = json.loads(meta_file.read_text())
        training["reused"] = True
    else:
        step(f"InsuranceQA: fine-tuning MiniLM on {len(pairs)} validation pairs ({dropped} dropped as overlapping)")
        training = fine_tune(pairs, holdout, finetuned_dir, args)
        training.update(
            {
                "loss": "MultipleNegativesRankingLoss (in-batch negatives, scale 20, cosine)",
                "hard_negatives": False,
                "batch_size": args.batch_size,
                "learning_rate": args.lr,
                "warmup": "10 % of steps, then linear decay",
                "weight_decay": 0.01,
                "max_seq_length": args.max_seq_length,
                "epochs_requested": args.epochs,
                "pairs_dropped_overlapping_test_or_holdout": dropped,
                "holdout_questions": len(holdout.questions),
                "seed": args.seed,
                "reused": False,
            }
        )
        meta_file.write_text(json.dumps(training, indent=2))

    step("InsuranceQA: scoring hold-out and test")
    encoders = {"MiniLM off-the-shelf": Encoder(), "MiniLM fine-tuned": Encoder(finetuned_dir)}
    holdout_scores = {"BM25": bm25_scores(holdout.candidates, holdout.questions, k1, b, "BM25 hold-out")}
    test_scores = {"BM25": bm25_scores(test.candidates, test.questions, k1, b, "BM25 test")}
    for name, encoder in encoders.items():
        note(f"encoding with {name}")
        holdout_scores[name] = dense_scores(encoder, holdout.candidates, holdout.questions)
        test_scores[name] = dense_scores(encoder, test.candidates, test.questions)
    holdout_metrics = {name: ranking_metrics(s, holdout.gold) for name, s in holdout_scores.items()}
    best_dense = max(encoders, key=lambda n: holdout_metrics[n]["mrr_at_10"])

    fusion_grid = []
    for method in ("zscore", "rrf"):
        for weight in np.round(np.arange(0.0, 1.0001, 0.05), 2):
            fused = fuse(method, float(weight), holdout_scores[best_dense], holdout_scores["BM25"])
            fusion_grid.append({"method": method, "weight": float(weight), **ranking_metrics(fused, holdout.gold)})
    fusion = max(fusion_grid, key=lambda r: (r["mrr_at_10"], -abs(r["weight"] - 0.5)))
    hybrid = f"Hybrid BM25 + {best_dense.replace('MiniLM ', '')}"
    holdout_metrics[hybrid] = {k: v for k, v in fusion.items() if k not in ("method", "weight")}
    test_scores[hybrid] = fuse(fusion["method"], fusion["weight"], test_scores[best_dense], test_scores["BM25"])

    settings = {
        "BM25": f"BM25Okapi k1={k1} b={b} (validation grid); lowercase alphanumeric tokens minus stopwords",
        "MiniLM off-the-shelf": "all-MiniLM-L6-v2, cosine question vs answer, max_seq_length 256",
        "MiniLM fine-tuned": f"MNRL on validation pairs, epoch {training['best_epoch']}, max_seq_length "
        f"{training['max_seq_length']}",
        hybrid: f"{fusion['method']} fusion, dense weight {fusion['weight']:.2f} (hold-out grid)",
    }
    systems = []
    for name, scores in test_scores.items():
        metrics = ranking_metrics(scores, test.gold)
        unseen_metrics = ranking_metrics(scores[unseen], [test.gold[i] for i in unseen]) if unseen else None
        systems.append(
            {
                "system": name,
                "settings": settings[name],
                "holdout": holdout_metrics[name],
                "test": metrics,
                "test_questions_not_in_validation": unseen_metrics,
            }
        )
    best = max(systems, key=lambda s: s["holdout"]["mrr_at_10"])
    bm25 = next(s for s in systems if s["system"] == "BM25")
    default_bm25 = ranking_metrics(
        bm25_scores(test.candidates, test.questions, 1.5, 0.75, "BM25 default test"), test.gold
    )
    delta = (best["test"]["p_at_1"] - bm25["test"]["p_at_1"]) * 100
    return {
        "test_questions": len(test.questions),
        "test_candidates": len(test.candidates),
        "test_questions_not_in_validation": len(unseen),
        "holdout_questions": len(holdout.questions),
        "holdout_candidates": len(holdout.candidates),
        "bm25_grid": bm25_grid,
        "bm25_default_k1_1.5_b_0.75_test": default_bm25,
        "fusion_grid": fusion_grid,
        "fusion": {"method": fusion["method"], "dense_weight": fusion["weight"], "dense_model": best_dense},
        "fine_tuning": training,
        "systems": systems,
        "best_system": best["system"],
        "acceptance": {
            "target": "best-config test P@1 >= BM25 test P@1 + 10 points",
            "best_p_at_1": best["test"]["p_at_1"],
            "bm25_p_at_1": bm25["test"]["p_at_1"],
            "delta_points": round(delta, 2),
            "passed": delta >= 10.0,
        },
    }, finetuned_dir


# ---------------------------------------------------------------------------- 2. Harbor Mutual held-out


def read_csvs(paths: Iterable[Path]) -> List[Dict[str, str]]:
    rows: List[Dict[str, str]] = []
    for path in paths:
        with open(path, newline="", encoding="utf-8") as f:
            rows.extend({**row, "_file": path.name} for row in csv.DictReader(f))
    return rows


def run_harbor(args: argparse.Namespace, finetuned_dir: Optional[Path]) -> Dict[str, Any]:
    corpus_files = sorted(PAST_REPLIES.glob("*.csv"))
    heldout_files = sorted((PAST_REPLIES / "heldout").glob("*.csv"))
    if not corpus_files or not heldout_files:
        note("demo_data/past_replies or its heldout/ folder has no CSV yet: section skipped")
        return {"status": "skipped: no demo_data/past_replies/*.csv or heldout/*.csv when the run started"}
    corpus = read_csvs(corpus_files)
    heldout = read_csvs(heldout_files)
    row_of = {row["external_id"]: i for i, row in enumerate(corpus)}
    duplicates = len(corpus) - len(row_of)
    unknown = [h for h in heldout if h["expected_external_id"].strip() and h["expected_external_id"] not in row_of]
    heldout = [h for h in heldout if h not in unknown]
    expected = [row_of.get(h["expected_external_id"].strip()) for h in heldout]
    answerable = [i for i, e in enumerate(expected) if e is not None]
    questions = [h["question"] for h in heldout]
    note(
        f"corpus {len(corpus)} replies from {len(corpus_files)} files; held-out {len(heldout)} "
        f"({len(answerable)} answerable, {len(heldout) - len(answerable)} unanswerable, {len(unknown)} unknown ids)"
    )
    representations: Dict[str, List[str]] = {
        "past questions": [r["question"] for r in corpus],
        "question + reply": [f"{r['question']}\n{r['reply']}" for r in corpus],
        "replies only": [r["reply"] for r in corpus],
    }
    models: Dict[str, Encoder] = {"MiniLM off-the-shelf": Encoder()}
    if finetuned_dir is not None and (finetuned_dir / "model.safetensors").exists():
        models["MiniLM fine-tuned on InsuranceQA"] = Encoder(finetuned_dir)

    score_sets: List[Tuple[str, str, np.ndarray, bool]] = []
    for model_name, encoder in models.items():
        for rep_name, texts in representations.items():
            score_sets.append((model_name, rep_name, dense_scores(encoder, texts, questions), True))
    for rep_name in ("past questions", "question + reply"):
        score_sets.append(
            ("BM25", rep_name, bm25_scores(representations[rep_name], questions, 1.5, 0.75, "BM25"), False)
        )

    systems = []
    for model_name, rep_name, scores, is_cosine in score_sets:
        metrics = ranking_metrics(scores[answerable], [{expected[i]} for i in answerable])
        top1 = scores.argmax(axis=1)
        top1_score = scores.max(axis=1)
        correct = [expected[i] is not None and int(top1[i]) == expected[i] for i in range(len(heldout))]
        is_answerable = [e is not None for e in expected]
        entry: Dict[str, Any] = {
            "model": model_name,
            "matched_against": rep_name,
            "p_at_1": metrics["p_at_1"],
            "mrr_at_10": metrics["mrr_at_10"],
            "recall_at_10": metrics["recall_at_10"],
            "answerable_questions": len(answerable),
        }
        if is_cosine:
            unanswerable_scores = [float(s) for s, a in zip(top1_score, is_answerable, strict=True) if not a]
            entry.update(
                {
                    "mean_top1_answerable": float(np.mean(top1_score[answerable])) if answerable else None,
                    "mean_top1_unanswerable": float(np.mean(unanswerable_scores)) if unanswerable_scores else None,
                    "auc_top1_correct_vs_not": roc_auc(top1_score.tolist(), correct),
                    "auc_top1_answerable_vs_not": roc_auc(top1_score.tolist(), is_answerable),
                }
            )
        systems.append(entry)
    off_the_shelf = [s for s in systems if s["model"] == "MiniLM off-the-shelf"]
    best_rep = max(off_the_shelf, key=lambda s: (s["mrr_at_10"], s["p_at_1"]))["matched_against"]
    for s in systems:
        s["label"] = {
            ("MiniLM off-the-shelf", "past questions"): "a",
            ("MiniLM off-the-shelf", "question + reply"): "b",
            ("MiniLM off-the-shelf", "replies only"): "c",
            ("BM25", "past questions"): "d",
            ("MiniLM fine-tuned on InsuranceQA", best_rep): "e",
        }.get((s["model"], s["matched_against"]), "")
    best = max(systems, key=lambda s: (s["mrr_at_10"], s["p_at_1"]))
    return {
        "status": "ok",
        "corpus_files": [p.name for p in corpus_files],
        "heldout_files": [p.name for p in heldout_files],
        "corpus_replies": len(corpus),
        "duplicate_external_ids": duplicates,
        "heldout_questions": len(heldout),
        "answerable": len(answerable),
        "unanswerable": len(heldout) - len(answerable),
        "heldout_with_unknown_expected_id": len(unknown),
        "best_off_the_shelf_representation": best_rep,
        "best_system": f"{best['model']} vs {best['matched_against']}",
        "systems": systems,
    }


# -------------------------------------------------------------------------------- 3. latency and scale


class ClusteredVectors:
    """Normalised vectors shaped like sentence embeddings: ~2,000 unevenly popular topics, each a centre plus
    noise whose variance decays over a random basis (real embeddings have a few dominant directions)."""

    def __init__(self, dimension: int, centres: int, seed: int, noise_norm: float = 0.9) -> None:
        rng = np.random.default_rng(seed)
        self.centres = rng.standard_normal((centres, dimension)).astype(np.float32)
        self.centres /= np.linalg.norm(self.centres, axis=1, keepdims=True)
        popularity = 1.0 / np.arange(1, centres + 1) ** 0.7
        self.weights = rng.permutation(popularity / popularity.sum())
        basis, _ = np.linalg.qr(rng.standard_normal((dimension, dimension)))
        spectrum = 1.0 / np.sqrt(np.arange(1, dimension + 1))
        spectrum *= noise_norm / np.sqrt((spectrum**2).sum())
        self.noise_map = (spectrum[:, None] * basis.T).astype(np.float32)
        self.dimension = dimension

    def sample(self, n: int, seed: int, chunk: int = 100_000) -> np.ndarray:
        rng = np.random.default_rng(seed)
        out = np.empty((n, self.dimension), dtype=np.float32)
        for start in range(0, n, chunk):
            size = min(chunk, n - start)
            topics = rng.choice(len(self.centres), size=size, p=self.weights)
            noise = rng.standard_normal((size, self.dimension), dtype=np.float32) @ self.noise_map
            block = self.centres[topics] + noise
            out[start : start + size] = block / np.linalg.norm(block, axis=1, keepdims=True)
        return out


def latency_ms(search: Callable[[np.ndarray], Any], queries: np.ndarray, warmup: int) -> Dict[str, float]:
    for query in queries[:warmup]:
        search(query[None, :])
    times = []
    for query in progress(queries[warmup:], "timed queries"):
        started = time.perf_counter()
        search(query[None, :])
        times.append((time.perf_counter() - started) * 1000)
    p50, p95, p99 = np.percentile(times, [50, 95, 99])
    return {"p50_ms": float(p50), "p95_ms": float(p95), "p99_ms": float(p99), "mean_ms": float(np.mean(times))}


def recall_at_k(results: List[List[Tuple[int, float]]], exact: List[List[Tuple[int, float]]]) -> float:
    return float(
        np.mean(
            [
                len({r for r, _ in got} & {r for r, _ in truth}) / len(truth)
                for got, truth in zip(results, exact, strict=True)
            ]
        )
    )


def pg_connect(url: str) -> Any:
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    return conn


def copy_vectors(conn: Any, table: str, vectors: np.ndarray, chunk: int = 50_000) -> None:
    """Binary COPY (pgvector's binary format: int16 dim, int16 unused, float4 values, all big-endian)."""
    dim = vectors.shape[1]
    record = np.dtype(
        [
            ("fields", ">i2"),
            ("row_len", ">i4"),
            ("row", ">i4"),
            ("vec_len", ">i4"),
            ("dim", ">i2"),
            ("unused", ">i2"),
            ("values", ">f4", (dim,)),
        ]
    )
    header = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
    with conn.cursor() as cur:
        for start in progress(
            range(0, len(vectors), chunk), f"COPY into {table}", total=math.ceil(len(vectors) / chunk)
        ):
            part = vectors[start : start + chunk]
            rows = np.empty(len(part), dtype=record)
            rows["fields"], rows["row_len"], rows["vec_len"] = 2, 4, 4 + 4 * dim
            rows["row"] = np.arange(start, start + len(part))
            rows["dim"], rows["unused"] = dim, 0
            rows["values"] = part
            payload = io.BytesIO(header + rows.tobytes() + struct.pack(">h", -1))
            cur.copy_expert(f"COPY {table} (row, embedding) FROM STDIN WITH (FORMAT binary)", payload)


def measure_in_process(
    name: str,
    make: Callable[[], Any],
    vectors: np.ndarray,
    queries: np.ndarray,
    exact: Any,
    warmup: int,
    search_threads: Sequence[int] = (2,),
) -> List[Dict[str, Any]]:
    """Build once; time single queries once per FAISS OpenMP thread count in `search_threads`."""
    import faiss

    release_freed_memory()
    before = rss_bytes()
    started = time.perf_counter()
    backend = make()
    backend.add(vectors)
    build = time.perf_counter() - started
    release_freed_memory()
    grown = rss_bytes() - before
    with tempfile.TemporaryDirectory(prefix="retrieval_bench_") as folder:
        backend.save(Path(folder))
        saved = sum(f.stat().st_size for f in Path(folder).iterdir())
    recall = recall_at_k(backend.search(queries[warmup:], TOP_K), exact)
    entries = []
    for threads in search_threads:
        faiss.omp_set_num_threads(threads)
        latency = latency_ms(functools.partial(backend.search, top_k=TOP_K), queries, warmup)
        entries.append(
            {
                "build_seconds": build,
                "memory_mb": grown / 1024**2,
                "memory_kind": "RSS growth",
                "saved_mb": saved / 1024**2,
                "recall_at_10": recall,
                "search_threads": threads,
                **latency,
            }
        )
        note(f"{name} ({threads} search threads): build {build:.1f} s, +{grown / 1024**2:.0f} MB RSS, ")
        note(f"    p50 {latency['p50_ms']:.2f} ms, p95 {latency['p95_ms']:.2f} ms, recall@10 {recall:.3f}")
    faiss.omp_set_num_threads(2)
    assert len(backend) == len(vectors)
    del backend
    gc.collect()
    return entries


def pg_reset_database(admin_url: str, url: str) -> None:
    database = url.rsplit("/", 1)[1]
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", database) or database in ("test", "postgres", "root"):
        raise ValueError(f"refusing to recreate database {database!r}")
    conn = pg_connect(admin_url)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {database}")
        cur.execute(f"CREATE DATABASE {database}")
        # Session defaults for every connection the backends open: enough memory to build the graph in RAM.
        cur.execute(f"ALTER DATABASE {database} SET maintenance_work_mem = '4GB'")
        cur.execute(f"ALTER DATABASE {database} SET max_parallel_maintenance_workers = 1")
    conn.close()
    conn = pg_connect(url)
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS vector")
    conn.close()


def pg_drop_database(admin_url: str, url: str) -> None:
    conn = pg_connect(admin_url)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]}")
    conn.close()


def measure_pgvector(
    url: str,
    method: str,
    vectors: np.ndarray,
    queries: np.ndarray,
    exact: Any,
    warmup: int,
    tuning_queries: np.ndarray,
    tuning_exact: Any,
) -> Dict[str, Any]:
    """Load with binary COPY into a bare table, then build the index in one pass (what a bulk import does).

    HNSW is built by PgvectorBackend itself (its CREATE INDEX: m=16, ef_construction=64) when it is opened
    on the loaded table; IVFFlat, which the backend does not create, is built here with lists = sqrt(N).
    """
    n = len(vectors)
    table = f"bench_{n}"
    base = {"pgvector_url": url, "pgvector_table": table, "pgvector_ef_search": 100}
    started = time.perf_counter()
    loader = PgvectorBackend(DIMENSION, {**base, "pgvector_index": "none", "pgvector_reset": True})
    copy_vectors(loader.conn, table, vectors)
    load_seconds = time.perf_counter() - started
    entry: Dict[str, Any] = {"load_seconds": load_seconds}
    started = time.perf_counter()
    if method == "hnsw":
        backend = PgvectorBackend(DIMENSION, {**base, "pgvector_index": "hnsw", "pgvector_reset": False})
        entry["index"] = "HNSW m=16 ef_construction=64, ef_search=100"
    else:
        lists = max(1, int(round(math.sqrt(n))))
        with loader.conn.cursor() as cur:
            cur.execute(
                f"CREATE INDEX {table}_ivfflat ON {table} USING ivfflat (embedding vector_cosine_ops) "
                f"WITH (lists = {lists})"
            )
        backend = PgvectorBackend(DIMENSION, {**base, "pgvector_index": "none", "pgvector_reset": False})
        entry["index"] = f"IVFFlat lists={lists}"
    index_seconds = time.perf_counter() - started
    loader.close()
    with backend.conn.cursor() as cur:
        cur.execute("ANALYZE " + table)
        if method != "hnsw":
            probes_tried = []
            for probes in (5, 10, 20, 40, 80, 160):
                cur.execute(f"SET ivfflat.probes = {probes}")
                recall = recall_at_k(backend.search(tuning_queries, TOP_K), tuning_exact)
                probes_tried.append({"probes": probes, "recall_at_10_tuning_queries": recall})
                if recall >= 0.9:
                    break
            entry["index"] += f", probes={probes} (first with recall >= 0.9 on separate tuning queries)"
            entry["probes_tried"] = probes_tried
        literal = "[" + ",".join(f"{x:.7g}" for x in queries[0].tolist()) + "]"
        cur.execute(f"EXPLAIN SELECT row FROM {table} ORDER BY embedding <=> %s::vector LIMIT 10", (literal,))
        plan = " ".join(row[0] for row in cur.fetchall())
        cur.execute(
            "SELECT pg_total_relation_size(%s), pg_relation_size(%s), pg_indexes_size(%s)", (table, table, table)
        )
        total, heap, indexes = cur.fetchone()
    timed = queries[warmup:]
    entry.update(
        {
            "build_seconds": load_seconds + index_seconds,
            "index_seconds": index_seconds,
            "memory_mb": total / 1024**2,
            "memory_kind": "pg_total_relation_size",
            "table_mb": heap / 1024**2,
            "index_mb": indexes / 1024**2,
            "uses_index": "Index Scan" in plan,
            "plan": plan,
            "recall_at_10": recall_at_k(backend.search(timed, TOP_K), exact),
            **latency_ms(lambda q: backend.search(q, TOP_K), queries, warmup),
        }
    )
    assert len(backend) == n
    with backend.conn.cursor() as cur:
        cur.execute(f"DROP TABLE {table}")
    backend.close()
    note(
        f"pgvector {entry['index']}: load {load_seconds:.1f} s + index {index_seconds:.1f} s, "
        f"{entry['memory_mb']:.0f} MB, p95 {entry['p95_ms']:.2f} ms, recall {entry['recall_at_10']:.3f}"
    )
    return entry


def run_scale(args: argparse.Namespace) -> Dict[str, Any]:
    import faiss
    import torch

    torch.set_num_threads(2)
    faiss.omp_set_num_threads(2)
    # A fixed mmap threshold (glibc otherwise raises it after big frees): large arrays come and go as
    # whole mappings, so RSS growth measures the index and not recycled heap.
    ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD = 1 MiB
    sizes = sorted(int(s) for s in args.sizes.split(","))
    generator = ClusteredVectors(DIMENSION, args.centres, args.seed)
    step(f"scale: sampling {sizes[-1]:,} indexed vectors and {args.queries} queries")
    all_vectors = generator.sample(sizes[-1], seed=args.seed + 1)
    queries = generator.sample(args.queries + args.warmup, seed=args.seed + 2)
    tuning_queries = generator.sample(100, seed=args.seed + 3)
    timed = queries[args.warmup :]
    pg_reset_database(args.pg_admin_url, args.pg_url)
    postgres = pg_versions(args.pg_url)
    faiss_options = {"faiss_factory": "HNSW32", "faiss_ef_search": 128}
    rows: List[Dict[str, Any]] = []
    pg_build_seconds: Dict[int, float] = {}
    for n in sizes:
        step(f"scale: N = {n:,}")
        vectors = np.ascontiguousarray(all_vectors[:n])
        exact = semantic_search(timed, vectors, TOP_K)
        tuning_exact = semantic_search(tuning_queries, vectors, TOP_K)
        nearest = float(np.mean([hits[0][1] for hits in exact]))
        note(f"mean cosine of a query's exact nearest neighbour: {nearest:.3f}")
        for entry in measure_in_process(
            "numpy", lambda: NumpyBackend(DIMENSION, {}), vectors, queries, exact, args.warmup
        ):
            rows.append({"backend": "numpy", "index": "exact (brute force)", "n": n, **entry})
        for entry in measure_in_process(
            "faiss HNSW32",
            lambda: FaissBackend(DIMENSION, faiss_options),
            vectors,
            queries,
            exact,
            args.warmup,
            search_threads=(2, 1),
        ):
            index = "HNSW32 efSearch=128 (efConstruction=80, set by FaissBackend)"
            if entry["search_threads"] == 1:
                index += ", searched with faiss.omp_set_num_threads(1)"
            rows.append({"backend": "faiss", "index": index, "n": n, **entry})
        method = "hnsw"
        reason = ""
        if n == sizes[-1] and len(sizes) > 1:
            previous = sizes[-2]
            projected = pg_build_seconds[previous] * n / previous
            if args.pgvector_large == "ivfflat" or (
                args.pgvector_large == "auto" and projected > args.pg_budget_minutes * 60
            ):
                method = "ivfflat"
                reason = (
                    f"HNSW build projected at {projected / 60:.0f} min ({n // previous} x the {previous:,} build), "
                    f"over the {args.pg_budget_minutes:.0f} min budget"
                    if args.pgvector_large == "auto"
                    else "IVFFlat requested with --pgvector-large ivfflat"
                )
                note(f"pgvector at {n:,}: IVFFlat instead of HNSW: {reason}")
        entry = measure_pgvector(
            args.pg_url, method, vectors, queries, exact, args.warmup, tuning_queries, tuning_exact
        )
        if reason:
            entry["why_not_hnsw"] = reason
        pg_build_seconds[n] = entry["build_seconds"]
        rows.append({"backend": "pgvector", "n": n, **entry})
        rows[-1]["exact_nearest_cosine_mean"] = nearest
        del vectors
        gc.collect()
    pg_drop_database(args.pg_admin_url, args.pg_url)
    largest = {r["search_threads"]: r for r in rows if r["backend"] == "faiss" and r["n"] == sizes[-1]}
    return {
        "vectors": {
            "dimension": DIMENSION,
            "centres": args.centres,
            "noise": "centre + 0.9-norm Gaussian noise with 1/sqrt(i) spectrum over a random basis, L2-normalised",
            "queries_timed": args.queries,
            "warmup_queries": args.warmup,
            "queries_are_fresh_samples": True,
        },
        "threads": {"torch": torch.get_num_threads(), "faiss_omp": faiss.omp_get_max_threads()},
        "postgres": postgres,
        "rows": rows,
        "acceptance": {
            "target": f"FAISS single-query p95 <= 20 ms at {sizes[-1]:,}",
            "faiss_p95_ms": largest[2]["p95_ms"],
            "faiss_p95_ms_one_search_thread": largest[1]["p95_ms"],
            "faiss_recall_at_10": largest[2]["recall_at_10"],
            "passed": largest[2]["p95_ms"] <= 20.0,
            "passed_with_one_search_thread": largest[1]["p95_ms"] <= 20.0,
        },
    }


def pg_versions(url: str) -> Dict[str, str]:
    conn = pg_connect(url)
    with conn.cursor() as cur:
        cur.execute("SHOW server_version")
        server = cur.fetchone()[0]
        cur.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'")
        vector = cur.fetchone()[0]
        cur.execute("SHOW shared_buffers")
        buffers = cur.fetchone()[0]
    conn.close()
    return {"server": server, "pgvector": vector, "shared_buffers": buffers}


# ------------------------------------------------------------------------------------------- reporting


def pct(x: Optional[float]) -> str:
    return "—" if x is None else f"{x * 100:.1f}"


def num(x: Optional[float], digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def markdown(report: Dict[str, Any]) -> str:
    meta = report["meta"]
    by_command: Dict[str, List[str]] = {}
    for section, command in meta.get("section_commands", {}).items():
        by_command.setdefault(command, []).append(section)
    commands = (
        "; ".join(f"{', '.join(sections)}: `{command}`" for command, sections in by_command.items())
        if len(by_command) > 1
        else f"`{meta['command']}`"
    )
    lines = [
        "# Retrieval benchmark",
        "",
        f"{meta['date']} · {meta['machine']['cpu_count']} × {meta['machine']['cpu_model']}, "
        f"{meta['machine']['memory_gb']} GB · Python {meta['machine']['python']}, torch {meta['machine']['torch']}, "
        f"faiss {meta['machine']['faiss']} · command: {commands}"
        + (" · **--quick smoke run**" if meta.get("quick") else ""),
        "",
    ]
    iqa = report.get("insuranceqa")
    if iqa:
        ft = iqa["fine_tuning"]
        lines += [
            f"## 1. InsuranceQA: {iqa['test_questions']:,} test questions, each ranking all "
            f"{iqa['test_candidates']:,} distinct test answers",
            "",
            "Hold-out = 10 % of validation questions "
            f"({iqa['holdout_questions']} questions × {iqa['holdout_candidates']} candidates), used for every choice; "
            "the best configuration (bold) is named by hold-out MRR@10.",
            "",
            "| system | settings | hold-out MRR@10 | test P@1 | test MRR@10 | test Recall@10 |",
            "| --- | --- | ---: | ---: | ---: | ---: |",
        ]
        for s in iqa["systems"]:
            name = f"**{s['system']}**" if s["system"] == iqa["best_system"] else s["system"]
            lines.append(
                f"| {name} | {s['settings']} | {pct(s['holdout']['mrr_at_10'])} | {pct(s['test']['p_at_1'])} "
                f"| {pct(s['test']['mrr_at_10'])} | {pct(s['test']['recall_at_10'])} |"
            )
        default = iqa["bm25_default_k1_1.5_b_0.75_test"]
        unseen = next(s for s in iqa["systems"] if s["system"] == iqa["best_system"])[
            "test_questions_not_in_validation"
        ]
        lines += [
            "",
            f"BM25 with rank_bm25 defaults (k1=1.5, b=0.75): test P@1 {pct(default['p_at_1'])}, "
            f"MRR@10 {pct(default['mrr_at_10'])}. "
            + (
                f"{iqa['best_system']} on the {iqa['test_questions_not_in_validation']:,} test questions whose text "
                f"never occurs in validation: P@1 {pct(unseen['p_at_1'])}, MRR@10 {pct(unseen['mrr_at_10'])}."
                if unseen
                else ""
            ),
            "",
            f"Fine-tuning: {ft['train_pairs']:,} validation (question, positive answer) pairs "
            f"({ft.get('pairs_dropped_overlapping_test_or_holdout', 0)} dropped whose answer is a test or hold-out "
            f"gold answer), {ft['loss']}, batch {ft['batch_size']}, lr {ft['learning_rate']}, "
            f"max_seq_length {ft['max_seq_length']}, {ft['epochs_run']} epoch(s) "
            f"run, epoch {ft['best_epoch']} kept, {ft['train_seconds']:.0f} s of training"
            + (" (reused from benchmarks/.cache)" if ft.get("reused") else "")
            + ".",
            "",
        ]
        acc = iqa["acceptance"]
        verdict = "PASS" if acc["passed"] else "FAIL"
        lines += [
            f"**Verdict (P@1 ≥ BM25 + 10 points): {verdict}** — {iqa['best_system']} test P@1 "
            f"{pct(acc['best_p_at_1'])} vs BM25 {pct(acc['bm25_p_at_1'])}: {acc['delta_points']:+.1f} points.",
            "",
        ]
    harbor = report.get("harbor")
    if harbor:
        lines += ["## 2. Harbor Mutual held-out questions", ""]
        if harbor.get("status") != "ok":
            lines += [f"Not measured: {harbor['status']}.", ""]
        else:
            lines += [
                f"Corpus {harbor['corpus_replies']} past replies; {harbor['heldout_questions']} held-out questions "
                f"({harbor['answerable']} answerable, {harbor['unanswerable']} with no answer in the corpus). "
                "P@1 and MRR@10 over the answerable ones; top-1 columns over all (cosine, dense models only). "
                "AUC (correct) = how well the top-1 score separates a correct top-1 from a wrong or "
                "unanswerable one; AUC (answerable) = answerable vs unanswerable.",
                "",
                "| | model | new question matched against | P@1 | MRR@10 | mean top-1, answerable "
                "| mean top-1, unanswerable | AUC (correct) | AUC (answerable) |",
                "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            ]
            order = sorted(harbor["systems"], key=lambda s: (s["label"] == "", s["label"], s["model"]))
            for s in order:
                name = f"{s['model']} vs {s['matched_against']}"
                bold = "**" if name == harbor["best_system"] else ""
                lines.append(
                    f"| {s['label']} | {bold}{s['model']}{bold} | {s['matched_against']} | {pct(s['p_at_1'])} "
                    f"| {pct(s['mrr_at_10'])} | {num(s.get('mean_top1_answerable'))} "
                    f"| {num(s.get('mean_top1_unanswerable'))} | {num(s.get('auc_top1_correct_vs_not'))} "
                    f"| {num(s.get('auc_top1_answerable_vs_not'))} |"
                )
            lines += ["", f"Best by MRR@10: **{harbor['best_system']}**.", ""]
    scale = report.get("scale")
    if scale:
        lines += [
            "## 3. Search latency and scale (synthetic clustered 384-d vectors)",
            "",
            f"{scale['vectors']['centres']:,} topic centres, queries are fresh samples; single queries one at a "
            f"time through the retrieval.backends API, {scale['vectors']['queries_timed']} timed after "
            f"{scale['vectors']['warmup_queries']} warm-up; 2 threads. Memory: RSS growth for in-process backends, "
            "pg_total_relation_size for pgvector (table + index); saved size = what the backend's save() writes. "
            f"PostgreSQL {scale['postgres']['server']}, pgvector "
            f"{scale['postgres']['pgvector']}, shared_buffers {scale['postgres']['shared_buffers']}. "
            "pgvector build = binary COPY + CREATE INDEX (maintenance_work_mem 4GB, 1 parallel worker).",
            "",
            "| backend | index | vectors | build (s) | memory (MB) | saved size (MB) | p50 (ms) | p95 (ms) "
            "| p99 (ms) | recall@10 |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in scale["rows"]:
            index = r["index"] + (f" — {r['why_not_hnsw']}" if r.get("why_not_hnsw") else "")
            lines.append(
                f"| {r['backend']} | {index} | {r['n']:,} | {r['build_seconds']:.1f} | {r['memory_mb']:.0f} "
                f"| {num(r.get('saved_mb'), 0)} "
                f"| {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['p99_ms']:.2f} | {r['recall_at_10']:.3f} |"
            )
        acc = scale["acceptance"]
        lines += [
            "",
            f"**Verdict ({acc['target']}): {'PASS' if acc['passed'] else 'FAIL'}** — p95 {acc['faiss_p95_ms']:.2f} ms "
            f"with 2 OpenMP threads, {acc['faiss_p95_ms_one_search_thread']:.2f} ms with 1 search thread, "
            f"at recall@10 {acc['faiss_recall_at_10']:.3f}.",
            "",
        ]
    walls = ", ".join(f"{k} {v / 60:.1f} min" for k, v in meta["section_seconds"].items())
    loads = ", ".join(f"{k} {v[0]:.1f}" for k, v in meta.get("load_average_at_section_end", {}).items())
    lines += [
        f"Wall time per section: {walls}. 1-minute load average at the end of each section (2 cores, shared "
        f"with other jobs): {loads}.",
        "",
    ]
    return "\n".join(lines)


def plot(report: Dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5.5))
    iqa = report.get("insuranceqa")
    if iqa:
        names = [s["system"] for s in iqa["systems"]]
        xs = np.arange(len(names))
        for offset, (key, label) in zip((-0.2, 0.2), (("p_at_1", "P@1"), ("mrr_at_10", "MRR@10")), strict=True):
            values = [s["test"][key] * 100 for s in iqa["systems"]]
            bars = left.bar(xs + offset, values, width=0.4, label=label)
            left.bar_label(bars, fmt="%.1f", fontsize=8)
        left.set_xticks(xs)
        left.set_xticklabels(
            [n.replace("Hybrid ", "Hybrid\n").replace("MiniLM ", "MiniLM\n") for n in names], fontsize=8
        )
        left.set_ylabel("test score (%)")
        left.set_title(f"InsuranceQA test: {iqa['test_questions']:,} questions × {iqa['test_candidates']:,} answers")
        left.legend()
    else:
        left.set_axis_off()
    scale = report.get("scale")
    if scale:
        lines = {
            "numpy (exact)": lambda r: r["backend"] == "numpy",
            "faiss HNSW32, 2 threads": lambda r: r["backend"] == "faiss" and r["search_threads"] == 2,
            "faiss HNSW32, 1 search thread": lambda r: r["backend"] == "faiss" and r["search_threads"] == 1,
            "pgvector": lambda r: r["backend"] == "pgvector",
        }
        for label, keep in lines.items():
            rows = [r for r in scale["rows"] if keep(r)]
            right.plot([r["n"] for r in rows], [r["p95_ms"] for r in rows], marker="o", label=label)
            for r in rows:
                if r["backend"] == "pgvector" and r["index"].startswith("IVFFlat"):
                    right.annotate(
                        "IVFFlat", (r["n"], r["p95_ms"]), textcoords="offset points", xytext=(5, -12), fontsize=8
                    )
        right.axhline(20, color="grey", linestyle="--", linewidth=1, label="20 ms target")
        right.set_xscale("log")
        right.set_yscale("log")
        right.set_xlabel("indexed vectors")
        right.set_ylabel("single-query p95 latency (ms)")
        right.set_title("p95 latency vs index size (384-d)")
        right.legend()
        right.grid(True, which="both", alpha=0.3)
    else:
        right.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------------------------------------ main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shrink everything for a smoke run (own output dir)")
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help="comma-separated subset of " + ",".join(SECTIONS)
    )
    parser.add_argument("--out-dir", type=Path, help="default benchmarks/results (--quick: benchmarks/.cache/quick)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--reuse-finetuned", action="store_true", help="load the fine-tuned model from .cache")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--max-seq-length", type=int, default=256)
    parser.add_argument("--holdout-fraction", type=float, default=0.1)
    parser.add_argument("--train-budget-minutes", type=float, default=20.0)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=300, help="timed single queries per backend and size")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--centres", type=int, default=2000)
    parser.add_argument("--pgvector-large", choices=("auto", "hnsw", "ivfflat"), default="auto")
    parser.add_argument("--pg-budget-minutes", type=float, default=25.0, help="max projected HNSW build at 1M")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/coverline_bench")
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.max_seq_length = 1, 128
        args.sizes, args.queries, args.warmup, args.centres = "2000,10000", 60, 10, 200
        if args.pgvector_large == "auto":
            args.pgvector_large = "ivfflat"  # exercise the fallback path in the smoke run
    unknown = set(args.sections.split(",")) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}")
    return args


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    out_dir = args.out_dir or (CACHE / "quick" if args.quick else RESULTS)
    cache = CACHE / "quick" if args.quick else CACHE
    out_dir.mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "retrieval.json"
    sections = [s for s in SECTIONS if s in args.sections.split(",")]
    command = "python benchmarks/retrieval_benchmark.py" + "".join(f" {shlex.quote(a)}" for a in sys.argv[1:])
    # A partial run (e.g. --sections harbor) updates its sections of the last report and keeps the others.
    report: Dict[str, Any] = {}
    if set(sections) != set(SECTIONS) and json_path.exists():
        report = json.loads(json_path.read_text())
    meta = report.get("meta", {})
    section_seconds = dict(meta.get("section_seconds", {}))
    section_commands = dict(meta.get("section_commands", {}))
    section_load = dict(meta.get("load_average_at_section_end", {}))
    machine = machine_info()
    finetuned_dir: Optional[Path] = cache / FINETUNED_NAME
    for section in sections:
        step(f"section {section}")
        t0 = time.perf_counter()
        seed_everything(args.seed)
        if section == "insuranceqa":
            report["insuranceqa"], finetuned_dir = run_insuranceqa(args, cache)
        elif section == "harbor":
            report["harbor"] = run_harbor(args, finetuned_dir)
        else:
            report["scale"] = run_scale(args)
        section_seconds[section] = round(time.perf_counter() - t0, 1)
        section_load[section] = [round(x, 2) for x in os.getloadavg()]
        section_commands[section] = command
        gc.collect()
    report["meta"] = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "quick": args.quick,
        "seed": args.seed,
        "machine": machine,
        "section_seconds": section_seconds,
        "section_commands": section_commands,
        "load_average_at_section_end": section_load,
        "this_run_seconds": round(time.perf_counter() - started, 1),
    }
    report = {"meta": report["meta"], **{k: report[k] for k in SECTIONS if k in report}}
    json_path.write_text(json.dumps(report, indent=2))
    text = markdown(report)
    (out_dir / "retrieval.md").write_text(text + "\n![InsuranceQA scores and latency vs size](retrieval.png)\n")
    plot(report, out_dir / "retrieval.png")
    step(f"results ({json_path.parent}), this run {report['meta']['this_run_seconds'] / 60:.1f} min")
    print(text)


if __name__ == "__main__":
    main()
