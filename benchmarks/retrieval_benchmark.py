"""Retrieval benchmark: which model, text representation and vector backend the past-replies bot should use.

Three sections in one run (seeds fixed):

1. insuranceqa: ranking quality on the InsuranceQA test split: every test question ranks ALL distinct test
   answers. BM25, off-the-shelf MiniLM, MiniLM fine-tuned on the validation split (MultipleNegativesRankingLoss,
   10 % of validation questions held out for epoch/model selection) and a BM25 + dense hybrid. The best
   configuration is named by hold-out MRR@10, never by test figures.
2. harbor: Harbor Mutual held-out questions (demo_data/past_replies/heldout/*.csv) against the past-replies
   corpus: match the new question against past questions, question + reply, or replies; BM25 beside; top-1
   cosine separation of answerable and unanswerable questions.
3. scale: search latency on synthetic clustered 384-d vectors at 10k / 100k / 1M: numpy (exact), FAISS
   HNSW32 and pgvector, each built and searched through the product's retrieval.backends classes (pgvector
   loaded by PgvectorBackend.add, the first load `python -m retrieval rebuild` makes).

Data comes from benchmarks/retrieval_data.py, the ranking systems from retrieval_baselines.py, the backend
timings from retrieval_scale.py, the report from retrieval_report.py. Writes
benchmarks/results/retrieval.{json,md,png} (with --quick: benchmarks/.cache/quick/, a smoke run); a partial
run (--sections, --backends) updates its part of the last report and keeps the rest.

    make benchmark-retrieval                                       # full run, about an hour on 2 cores
    .venv/bin/python benchmarks/retrieval_benchmark.py --quick     # minutes
    .venv/bin/python benchmarks/retrieval_benchmark.py --sections harbor --reuse-finetuned
    .venv/bin/python benchmarks/retrieval_benchmark.py --sections scale --backends pgvector
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import platform
import random
import shlex
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

os.environ.setdefault("USE_TF", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import retrieval_data as data  # noqa: E402
from benchmarks import retrieval_report  # noqa: E402
from benchmarks import retrieval_scale as timing  # noqa: E402
from benchmarks.retrieval_baselines import (  # noqa: E402
    FUSION_METHODS,
    FineTuneSettings,
    bm25_scores,
    dense_scores,
    fine_tune,
    fuse,
    seed_everything,
)
from benchmarks.retrieval_scale import DIMENSION, TOP_K  # noqa: E402
from retrieval.backends import FaissBackend, NumpyBackend  # noqa: E402
from retrieval.encoder import Encoder  # noqa: E402
from retrieval.search import semantic_search  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
CACHE = ROOT / "benchmarks" / ".cache"
FINETUNED_NAME = "minilm_insuranceqa"
SECTIONS = ("insuranceqa", "harbor", "scale")
SCALE_BACKENDS = ("numpy", "faiss", "pgvector")

Report = Dict[str, Any]


# --------------------------------------------------------------------------------------------- helpers


def step(message: str) -> None:
    print(f"\n==> [{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def note(message: str) -> None:
    print(f"    {message}", flush=True)


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


# --------------------------------------------------------------------------------------------- metrics


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


# ------------------------------------------------------------------------------- 1. InsuranceQA ranking


def run_insuranceqa(args: argparse.Namespace, cache: Path) -> Tuple[Report, Path]:
    rng = random.Random(args.seed)
    test_rows = data.insuranceqa_split("test")
    validation_rows = data.insuranceqa_split("validation")
    test = data.ranking_task(test_rows)
    validation = data.ranking_task(validation_rows)
    train_rows, holdout_rows = data.split_validation(validation_rows, args.holdout_fraction, args.seed)
    holdout = data.ranking_task(holdout_rows)
    if args.quick:
        test = data.shrink_task(test, 150, 600, rng)
        validation = data.shrink_task(validation, 150, 600, rng)
        holdout = data.shrink_task(holdout, 80, 300, rng)
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

    finetuned_dir = cache / FINETUNED_NAME
    training = fine_tuned_model(args, finetuned_dir, test, test_rows, train_rows, holdout)

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
    for method in FUSION_METHODS:
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
        systems.append(
            {
                "system": name,
                "settings": settings[name],
                "holdout": holdout_metrics[name],
                "test": ranking_metrics(scores, test.gold),
                "test_questions_not_in_validation": (
                    ranking_metrics(scores[unseen], [test.gold[i] for i in unseen]) if unseen else None
                ),
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


def fine_tuned_model(
    args: argparse.Namespace,
    finetuned_dir: Path,
    test: data.RankingTask,
    test_rows: Sequence[data.Row],
    train_rows: Sequence[data.Row],
    holdout: data.RankingTask,
) -> Dict[str, Any]:
    """Fine-tune on validation minus the hold-out (no test or hold-out gold answer is trained on), or with
    --reuse-finetuned load the record of the model already in the cache."""
    excluded_answers = {test.candidates[c] for g in test.gold for c in g}
    excluded_answers |= {holdout.candidates[c] for g in holdout.gold for c in g}
    excluded_pairs = {(r["question"], r["answer"]) for r in test_rows}
    pairs, dropped = data.training_pairs(train_rows, excluded_answers, excluded_pairs)
    if args.quick:
        pairs = pairs[:256]
    meta_file = finetuned_dir / "benchmark_training.json"
    if args.reuse_finetuned and meta_file.exists():
        step(f"InsuranceQA: reusing the fine-tuned model in {finetuned_dir}")
        return {**json.loads(meta_file.read_text()), "reused": True}
    step(f"InsuranceQA: fine-tuning MiniLM on {len(pairs)} validation pairs ({dropped} dropped as overlapping)")
    settings = FineTuneSettings(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        max_seq_length=args.max_seq_length,
        budget_minutes=args.train_budget_minutes,
        seed=args.seed,
    )

    def holdout_mrr(model_dir: Path) -> Dict[str, float]:
        return ranking_metrics(dense_scores(Encoder(model_dir), holdout.candidates, holdout.questions), holdout.gold)

    training = fine_tune(pairs, finetuned_dir, settings, evaluate=holdout_mrr, log=note)
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
    return training


# ---------------------------------------------------------------------------- 2. Harbor Mutual held-out


def harbor_system(
    model: str, matched_against: str, scores: np.ndarray, harbor: data.HarborSet, is_cosine: bool
) -> Dict[str, Any]:
    """Ranking figures over the answerable questions; for cosine scores, how well top-1 separates the rest."""
    answerable, expected = harbor.answerable, harbor.expected
    metrics = ranking_metrics(scores[answerable], [{expected[i]} for i in answerable])
    entry: Dict[str, Any] = {
        "model": model,
        "matched_against": matched_against,
        "p_at_1": metrics["p_at_1"],
        "mrr_at_10": metrics["mrr_at_10"],
        "recall_at_10": metrics["recall_at_10"],
        "answerable_questions": len(answerable),
    }
    if is_cosine:
        top1 = scores.argmax(axis=1)
        top1_score = scores.max(axis=1)
        correct = [e is not None and int(top1[i]) == e for i, e in enumerate(expected)]
        is_answerable = [e is not None for e in expected]
        unanswerable_scores = [float(s) for s, a in zip(top1_score, is_answerable, strict=True) if not a]
        entry.update(
            {
                "mean_top1_answerable": float(np.mean(top1_score[answerable])) if answerable else None,
                "mean_top1_unanswerable": float(np.mean(unanswerable_scores)) if unanswerable_scores else None,
                "auc_top1_correct_vs_not": roc_auc(top1_score.tolist(), correct),
                "auc_top1_answerable_vs_not": roc_auc(top1_score.tolist(), is_answerable),
            }
        )
    return entry


def run_harbor(args: argparse.Namespace, finetuned_dir: Optional[Path]) -> Report:
    harbor = data.harbor_set()
    if harbor is None:
        note("demo_data/past_replies or its heldout/ folder has no CSV yet: section skipped")
        return {"status": "skipped: no demo_data/past_replies/*.csv or heldout/*.csv when the run started"}
    answerable = harbor.answerable
    note(
        f"corpus {len(harbor.corpus)} replies from {len(harbor.corpus_files)} files; held-out {len(harbor.heldout)} "
        f"({len(answerable)} answerable, {len(harbor.heldout) - len(answerable)} unanswerable, "
        f"{harbor.unknown_expected_ids} unknown ids)"
    )
    representations = harbor.representations()
    models: Dict[str, Encoder] = {"MiniLM off-the-shelf": Encoder()}
    if finetuned_dir is not None and (finetuned_dir / "model.safetensors").exists():
        models["MiniLM fine-tuned on InsuranceQA"] = Encoder(finetuned_dir)

    systems = []
    for model_name, encoder in models.items():
        for rep_name, texts in representations.items():
            scores = dense_scores(encoder, texts, harbor.questions)
            systems.append(harbor_system(model_name, rep_name, scores, harbor, is_cosine=True))
    for rep_name in ("past questions", "question + reply"):
        scores = bm25_scores(representations[rep_name], harbor.questions, 1.5, 0.75, "BM25")
        systems.append(harbor_system("BM25", rep_name, scores, harbor, is_cosine=False))

    off_the_shelf = [s for s in systems if s["model"] == "MiniLM off-the-shelf"]
    best_rep = max(off_the_shelf, key=lambda s: (s["mrr_at_10"], s["p_at_1"]))["matched_against"]
    labels = {
        ("MiniLM off-the-shelf", "past questions"): "a",
        ("MiniLM off-the-shelf", "question + reply"): "b",
        ("MiniLM off-the-shelf", "replies only"): "c",
        ("BM25", "past questions"): "d",
        ("MiniLM fine-tuned on InsuranceQA", best_rep): "e",
    }
    for s in systems:
        s["label"] = labels.get((s["model"], s["matched_against"]), "")
    best = max(systems, key=lambda s: (s["mrr_at_10"], s["p_at_1"]))
    return {
        "status": "ok",
        "corpus_files": [p.name for p in harbor.corpus_files],
        "heldout_files": [p.name for p in harbor.heldout_files],
        "corpus_replies": len(harbor.corpus),
        "duplicate_external_ids": harbor.duplicate_external_ids,
        "heldout_questions": len(harbor.heldout),
        "answerable": len(answerable),
        "unanswerable": len(harbor.heldout) - len(answerable),
        "heldout_with_unknown_expected_id": harbor.unknown_expected_ids,
        "best_off_the_shelf_representation": best_rep,
        "best_system": f"{best['model']} vs {best['matched_against']}",
        "systems": systems,
    }


# -------------------------------------------------------------------------------- 3. latency and scale


def pgvector_method(args: argparse.Namespace, n: int, sizes: Sequence[int], built: Dict[int, float]) -> Tuple[str, str]:
    """HNSW, unless this is the largest size and its build, projected linearly from the previous size,
    would run over the budget (or IVFFlat is asked for): then IVFFlat, with the reason."""
    if n != sizes[-1] or len(sizes) < 2:
        return "hnsw", ""
    previous = sizes[-2]
    projected = built[previous] * n / previous
    if args.pgvector_large == "ivfflat":
        return "ivfflat", "IVFFlat requested with --pgvector-large ivfflat"
    if args.pgvector_large == "auto" and projected > args.pg_budget_minutes * 60:
        return "ivfflat", (
            f"HNSW build projected at {projected / 60:.0f} min ({n // previous} x the {previous:,} build), "
            f"over the {args.pg_budget_minutes:.0f} min budget"
        )
    return "hnsw", ""


def faiss_acceptance(rows: Sequence[Dict[str, Any]], largest: int) -> Optional[Dict[str, Any]]:
    by_threads = {r["search_threads"]: r for r in rows if r["backend"] == "faiss" and r["n"] == largest}
    if set(by_threads) != {1, 2}:
        return None
    return {
        "target": f"FAISS single-query p95 <= 20 ms at {largest:,}",
        "faiss_p95_ms": by_threads[2]["p95_ms"],
        "faiss_p95_ms_one_search_thread": by_threads[1]["p95_ms"],
        "faiss_recall_at_10": by_threads[2]["recall_at_10"],
        "passed": by_threads[2]["p95_ms"] <= 20.0,
        "passed_with_one_search_thread": by_threads[1]["p95_ms"] <= 20.0,
    }


def scale_vectors(args: argparse.Namespace) -> Dict[str, Any]:
    """What the scale section's vectors are: rows of runs with the same description are comparable."""
    return {
        "dimension": DIMENSION,
        "centres": args.centres,
        "noise": "centre + 0.9-norm Gaussian noise with 1/sqrt(i) spectrum over a random basis, L2-normalised",
        "queries_timed": args.queries,
        "warmup_queries": args.warmup,
        "queries_are_fresh_samples": True,
        # every size indexes a prefix of one sample of the largest size, so the largest size is part of the data
        "sampled_vectors": max(int(s) for s in args.sizes.split(",")),
    }


def note_row(row: Dict[str, Any]) -> None:
    threads = f", {row['search_threads']} search thread(s)" if "search_threads" in row else ""
    note(
        f"{row['backend']} {row['index']}{threads}: build {row['build_seconds']:.1f} s, "
        f"{row['memory_mb']:.0f} MB ({row['memory_kind']}), p50 {row['p50_ms']:.2f} ms, "
        f"p95 {row['p95_ms']:.2f} ms, recall@10 {row['recall_at_10']:.3f}"
    )


def scale_rows(
    args: argparse.Namespace,
    n: int,
    vectors: np.ndarray,
    queries: np.ndarray,
    tuning_queries: np.ndarray,
    pg_build_seconds: Dict[int, float],
) -> List[Dict[str, Any]]:
    """Every requested backend at one size, searched with the same queries and scored against exact search."""
    backends = args.backends.split(",")
    exact = semantic_search(queries[args.warmup :], vectors, TOP_K)
    nearest = float(np.mean([hits[0][1] for hits in exact]))
    note(f"mean cosine of a query's exact nearest neighbour: {nearest:.3f}")
    rows: List[Dict[str, Any]] = []
    if "numpy" in backends:
        for entry in timing.measure_in_process(
            lambda: NumpyBackend(DIMENSION, {}), vectors, queries, exact, args.warmup
        ):
            rows.append({"backend": "numpy", "index": "exact (brute force)", "n": n, **entry})
    if "faiss" in backends:
        faiss_options = {"faiss_factory": "HNSW32", "faiss_ef_search": 128}
        for entry in timing.measure_in_process(
            lambda: FaissBackend(DIMENSION, faiss_options), vectors, queries, exact, args.warmup, search_threads=(2, 1)
        ):
            index = "HNSW32 efSearch=128 (efConstruction=80, set by FaissBackend)"
            if entry["search_threads"] == 1:
                index += ", searched with faiss.omp_set_num_threads(1)"
            rows.append({"backend": "faiss", "index": index, "n": n, **entry})
    if "pgvector" in backends:
        sizes = sorted(int(s) for s in args.sizes.split(","))
        method, reason = pgvector_method(args, n, sizes, pg_build_seconds)
        if reason:
            note(f"pgvector at {n:,}: IVFFlat instead of HNSW: {reason}")
        tuning_exact = semantic_search(tuning_queries, vectors, TOP_K)
        entry = timing.measure_pgvector(
            args.pg_url, method, vectors, queries, exact, args.warmup, tuning_queries, tuning_exact
        )
        if reason:
            entry["why_not_hnsw"] = reason
        pg_build_seconds[n] = entry["build_seconds"]
        rows.append({"backend": "pgvector", "n": n, **entry, "exact_nearest_cosine_mean": nearest})
    for row in rows:
        note_row(row)
    return rows


def run_scale(args: argparse.Namespace) -> Report:
    import faiss
    import torch

    torch.set_num_threads(2)
    faiss.omp_set_num_threads(2)
    # A fixed mmap threshold (glibc otherwise raises it after big frees): large arrays come and go as
    # whole mappings, so RSS growth measures the index and not recycled heap.
    ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD = 1 MiB
    sizes = sorted(int(s) for s in args.sizes.split(","))
    with_pgvector = "pgvector" in args.backends.split(",")
    generator = data.ClusteredVectors(DIMENSION, args.centres, args.seed)
    step(f"scale: sampling {sizes[-1]:,} indexed vectors and {args.queries} queries")
    all_vectors = generator.sample(sizes[-1], seed=args.seed + 1)
    queries = generator.sample(args.queries + args.warmup, seed=args.seed + 2)
    tuning_queries = generator.sample(100, seed=args.seed + 3)
    postgres: Dict[str, str] = {}
    if with_pgvector:
        timing.pg_reset_database(args.pg_admin_url, args.pg_url)
        postgres = timing.pg_versions(args.pg_url)
    rows: List[Dict[str, Any]] = []
    pg_build_seconds: Dict[int, float] = {}
    for n in sizes:
        step(f"scale: N = {n:,}")
        rows += scale_rows(args, n, np.ascontiguousarray(all_vectors[:n]), queries, tuning_queries, pg_build_seconds)
        gc.collect()
    if with_pgvector:
        timing.pg_drop_database(args.pg_admin_url, args.pg_url)
    return {
        "vectors": scale_vectors(args),
        "threads": {"torch": torch.get_num_threads(), "faiss_omp": faiss.omp_get_max_threads()},
        "postgres": postgres,
        "pgvector_build": timing.PG_BUILD,
        "rows": rows,
        "acceptance": faiss_acceptance(rows, sizes[-1]),
    }


NOT_MERGEABLE = (
    "the last report's scale section used other vectors or another seed: give --backends runs the --sizes, "
    "--centres, --queries, --warmup and --seed of that run, or run every backend"
)


def same_vectors(previous: Report, previous_meta: Report, vectors: Dict[str, Any], seed: int) -> bool:
    """Whether a previous scale section measured these vectors (reports written before the sample size was
    recorded sampled their largest N)."""
    described = {"sampled_vectors": max(r["n"] for r in previous["rows"]), **previous["vectors"]}
    return described == vectors and previous_meta.get("seed") == seed


def merge_scale(fresh: Report, previous: Optional[Report], previous_meta: Report, run: Dict[str, Any]) -> Report:
    """A run of some backends (--backends pgvector) keeps the other backends' rows from the last report, at
    the sizes it measured; each backend records the run its rows come from. Refuses to mix different
    vectors, since the rows would no longer be comparable."""
    measured = {r["backend"] for r in fresh["rows"]}
    sizes = {r["n"] for r in fresh["rows"]}
    kept: List[Dict[str, Any]] = []
    runs = {backend: run for backend in measured}
    merged = dict(fresh)
    if previous is not None and measured != set(SCALE_BACKENDS):
        if not same_vectors(previous, previous_meta, fresh["vectors"], run["seed"]):
            raise ValueError(NOT_MERGEABLE)
        kept = [r for r in previous["rows"] if r["backend"] not in measured and r["n"] in sizes]
        # Reports written before backends recorded their run: the last scale run is the one they come from.
        earlier = {
            "date": previous_meta.get("date", "?"),
            "command": previous_meta.get("section_commands", {}).get("scale", "?"),
            "seed": previous_meta.get("seed"),
        }
        runs.update({r["backend"]: previous.get("measured", {}).get(r["backend"], earlier) for r in kept})
        if "pgvector" not in measured:
            merged["postgres"] = previous["postgres"]
            merged.pop("pgvector_build", None)
            if "pgvector_build" in previous:
                merged["pgvector_build"] = previous["pgvector_build"]
    rows = sorted(kept + fresh["rows"], key=lambda r: (r["n"], SCALE_BACKENDS.index(r["backend"])))
    merged["rows"] = rows
    merged["measured"] = {b: runs[b] for b in SCALE_BACKENDS if b in runs}
    merged["acceptance"] = faiss_acceptance(rows, max(sizes))
    return merged


# ------------------------------------------------------------------------------------------------ main


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shrink everything for a smoke run (own output dir)")
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help="comma-separated subset of " + ",".join(SECTIONS)
    )
    parser.add_argument(
        "--backends",
        default=",".join(SCALE_BACKENDS),
        help="scale section: comma-separated subset of "
        + ",".join(SCALE_BACKENDS)
        + " (others kept from the last report)",
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
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.max_seq_length = 1, 128
        args.sizes, args.queries, args.warmup, args.centres = "2000,10000", 60, 10, 200
        if args.pgvector_large == "auto":
            args.pgvector_large = "ivfflat"  # exercise the fallback path in the smoke run
    unknown = set(args.sections.split(",")) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}")
    unknown = set(args.backends.split(",")) - set(SCALE_BACKENDS)
    if unknown:
        parser.error(f"unknown backends {sorted(unknown)}")
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
    partial = set(sections) != set(SECTIONS) or set(args.backends.split(",")) != set(SCALE_BACKENDS)
    command = "python benchmarks/retrieval_benchmark.py" + "".join(f" {shlex.quote(a)}" for a in sys.argv[1:])
    # A partial run (e.g. --sections harbor) updates its sections of the last report and keeps the others.
    report: Report = json.loads(json_path.read_text()) if partial and json_path.exists() else {}
    meta = report.get("meta", {})
    section_seconds = dict(meta.get("section_seconds", {}))
    section_commands = dict(meta.get("section_commands", {}))
    section_load = dict(meta.get("load_average_at_section_end", {}))
    some_backends = set(args.backends.split(",")) != set(SCALE_BACKENDS)
    if "scale" in sections and some_backends and report.get("scale"):
        if not same_vectors(report["scale"], meta, scale_vectors(args), args.seed):
            sys.exit(NOT_MERGEABLE)  # before an hour of measuring, not after
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
            run = {
                "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                "command": command,
                "seed": args.seed,
            }
            report["scale"] = merge_scale(run_scale(args), report.get("scale"), meta, run)
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
    text = retrieval_report.write(report, out_dir)
    step(f"results ({out_dir}), this run {report['meta']['this_run_seconds'] / 60:.1f} min")
    print(text)


if __name__ == "__main__":
    main()
