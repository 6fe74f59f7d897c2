"""The retrieval benchmark's parts: data loaders, ranking systems, metrics, report, the scale section's
merging of partial runs, and pgvector timed through the product's backend on a real PostgreSQL."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any, Dict, Iterator, List

import numpy as np
import pytest

from benchmarks import retrieval_benchmark as bench
from benchmarks import retrieval_data as data
from benchmarks import retrieval_report as report
from benchmarks import retrieval_scale as timing
from benchmarks.retrieval_baselines import bm25_scores, fuse, length_bucketed_batches, rank_rows, tokenize
from retrieval.search import semantic_search
from tests.support.databases import postgres_answers, postgres_database

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def pair(question: str, answer: str, label: str = "1") -> Dict[str, str]:
    return {"question": question, "answer": answer, "label": label}


ROWS = [
    pair("q1", "a1"),
    pair("q1", "a2"),
    pair("q1", "a3", "0"),
    pair("q2", "a3"),
    pair("q3", "a1"),
    pair("q4", "a4", "0"),  # a question without a positive answer ranks nothing
]


# ------------------------------------------------------------------------------------------------- data


def test_ranking_task_ranks_every_distinct_answer_with_gold_columns() -> None:
    task = data.ranking_task(ROWS)
    assert task.candidates == ["a1", "a2", "a3", "a4"]
    assert task.questions == ["q1", "q2", "q3"]
    assert task.gold == [{0, 1}, {2}, {0}]


def test_shrink_task_keeps_the_gold_answers_of_the_sampled_questions() -> None:
    rows = [pair(f"q{i}", f"a{i}") for i in range(50)] + [pair("q0", "extra")]
    task = data.ranking_task(rows)
    small = data.shrink_task(task, questions=5, candidates=12, rng=random.Random(0))
    assert len(small.questions) == 5 and len(small.candidates) == 12
    for question, gold in zip(small.questions, small.gold, strict=True):
        original = task.gold[task.questions.index(question)]
        assert {small.candidates[c] for c in gold} == {task.candidates[c] for c in original}


def test_split_validation_holds_out_whole_questions_reproducibly() -> None:
    rows = [pair(f"q{i // 3}", f"a{i}") for i in range(60)]
    train, held = data.split_validation(rows, fraction=0.1, seed=7)
    assert len(held) == 6 and len(train) + len(held) == 60
    assert not {r["question"] for r in train} & {r["question"] for r in held}
    assert data.split_validation(rows, fraction=0.1, seed=7)[1] == held


def test_training_pairs_drop_test_and_holdout_answers_and_repeats() -> None:
    rows = [pair("q1", "a1"), pair("q1", "a1"), pair("q2", "gold"), pair("q3", "a3"), pair("q4", "a4", "0")]
    pairs, dropped = data.training_pairs(rows, excluded_answers={"gold"}, excluded_pairs={("q3", "a3")})
    assert pairs == [("q1", "a1")] and dropped == 2


def test_harbor_set_maps_expected_ids_and_drops_unknown_ones(tmp_path: Path) -> None:
    (tmp_path / "heldout").mkdir()
    (tmp_path / "auto.csv").write_text(
        "external_id,question,reply\nr1,Is glass covered?,Yes.\nr2,Flat tyre?,Call us.\nr1,dup,dup\n"
    )
    (tmp_path / "heldout" / "set.csv").write_text(
        "question,expected_external_id\nwindscreen cracked,r1\nbanana bread,\nflat tire,r2\nlost ring,r9\n"
    )
    harbor = data.harbor_set(tmp_path)
    assert harbor is not None
    assert harbor.questions == ["windscreen cracked", "banana bread", "flat tire"]
    # a duplicated id maps to its later row
    assert harbor.expected == [2, None, 1] and harbor.answerable == [0, 2]
    assert harbor.unknown_expected_ids == 1 and harbor.duplicate_external_ids == 1
    assert harbor.representations()["question + reply"][1] == "Flat tyre?\nCall us."
    assert data.harbor_set(tmp_path / "heldout") is None


def test_harbor_set_of_the_demo_data_points_at_the_replies_it_names() -> None:
    harbor = data.harbor_set()
    assert harbor is not None and harbor.unknown_expected_ids == 0
    for question, row in zip(harbor.heldout, harbor.expected, strict=True):
        if row is not None:
            assert harbor.corpus[row]["external_id"] == question["expected_external_id"].strip()


def test_clustered_vectors_are_unit_length_and_reproducible() -> None:
    generator = data.ClusteredVectors(dimension=16, centres=20, seed=1)
    first = generator.sample(250, seed=3, chunk=100)
    assert first.dtype == np.float32 and np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(first, data.ClusteredVectors(16, 20, seed=1).sample(250, seed=3, chunk=100))
    assert not np.array_equal(first, generator.sample(250, seed=4))


# ---------------------------------------------------------------------------------------------- systems


def test_tokenize_drops_stopwords_of_lemmatised_english() -> None:
    assert tokenize("What be the cost of a Windshield repair?") == ["cost", "windshield", "repair"]


def test_bm25_ranks_the_document_sharing_the_rare_word_first() -> None:
    scores = bm25_scores(
        ["flood damage at home", "car windshield crack", "home contents"], ["windshield"], 1.2, 0.75, "t"
    )
    assert scores.shape == (1, 3) and int(scores.argmax()) == 1


def test_fusion_weights_and_ranks() -> None:
    dense = np.array([[0.9, 0.1, 0.5]])
    sparse = np.array([[0.0, 3.0, 1.0]])
    assert rank_rows(dense).tolist() == [[1, 3, 2]]
    assert int(fuse("zscore", 1.0, dense, sparse).argmax()) == 0
    assert int(fuse("zscore", 0.0, dense, sparse).argmax()) == 1
    rrf = fuse("rrf", 0.5, dense, sparse)
    # ranks (1, 3) and (3, 1) fuse to the same score, a little above (2, 2): 1/61 + 1/63 > 2/62
    assert rrf[0, 0] == pytest.approx(rrf[0, 1]) and rrf[0, 0] > rrf[0, 2]
    assert rrf[0, 0] == pytest.approx(0.5 / 61 + 0.5 / 63)
    with pytest.raises(ValueError):
        fuse("max", 0.5, dense, sparse)


def test_batches_never_repeat_a_text_so_no_in_batch_negative_is_false() -> None:
    pairs = [(f"q{i}", f"answer {i % 7}" + "x" * i) for i in range(40)] + [("q0", "shared"), ("q1", "shared")]
    batches = length_bucketed_batches(pairs, batch_size=8, rng=random.Random(0))
    for batch in batches:
        texts = [t for p in batch for t in p]
        assert len(texts) == len(set(texts)) and 2 <= len(batch) <= 8
    assert len({p for b in batches for p in b}) == sum(len(b) for b in batches) >= 40


# ---------------------------------------------------------------------------------------------- metrics


def test_ranking_metrics_of_a_known_ranking() -> None:
    scores = np.array([[0.9, 0.8, 0.1], [0.1, 0.2, 0.9], [0.5, 0.4, 0.3]])
    metrics = bench.ranking_metrics(scores, [{0}, {1}, {1, 2}], k=2)
    assert metrics["p_at_1"] == pytest.approx(1 / 3)
    assert metrics["mrr_at_10"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert metrics["recall_at_10"] == pytest.approx((1 + 1 + 0.5) / 3)


def test_roc_auc_counts_ties_half_and_needs_both_classes() -> None:
    assert bench.roc_auc([0.9, 0.5, 0.5, 0.1], [True, True, False, False]) == pytest.approx(0.875)
    assert bench.roc_auc([0.9, 0.5], [True, True]) is None


def test_recall_at_k_compares_row_sets() -> None:
    assert (
        timing.recall_at_k([[(1, 0.9), (2, 0.8)], [(5, 0.5), (6, 0.4)]], [[(2, 1), (1, 1)], [(5, 1), (7, 1)]]) == 0.75
    )


# ---------------------------------------------------------------------------------- scale: partial runs


def scale_row(backend: str, n: int, p95: float, threads: int = 2) -> Dict[str, Any]:
    row = {"backend": backend, "n": n, "index": backend, "p95_ms": p95, "recall_at_10": 0.95}
    return {**row, "search_threads": threads} if backend == "faiss" else row


def scale_section(rows: List[Dict[str, Any]], sampled: int = 1_000_000) -> Dict[str, Any]:
    return {"vectors": {"centres": 2000, "sampled_vectors": sampled}, "postgres": {"server": "15"}, "rows": rows}


OLD_META = {"date": "2026-11-23 13:33 UTC", "seed": 42, "section_commands": {"scale": "old command"}}
RUN = {"date": "2026-12-03 10:00 UTC", "command": "new command", "seed": 42}


def test_a_pgvector_only_run_keeps_the_other_rows_and_says_where_each_comes_from() -> None:
    sizes = (10_000, 1_000_000)
    previous = scale_section(
        [scale_row(b, n, 1.0, t) for n in sizes for b, t in (("numpy", 2), ("faiss", 2), ("faiss", 1), ("pgvector", 2))]
    )
    del previous["vectors"]["sampled_vectors"]  # as in reports written before it was recorded
    fresh = scale_section([scale_row("pgvector", n, 9.0) for n in sizes])
    merged = bench.merge_scale(fresh, copy.deepcopy(previous), OLD_META, RUN)
    assert [(r["backend"], r["n"], r["p95_ms"]) for r in merged["rows"]] == [
        (b, n, 9.0 if b == "pgvector" else 1.0) for n in sizes for b in ("numpy", "faiss", "faiss", "pgvector")
    ]
    assert merged["measured"]["pgvector"] == RUN
    assert merged["measured"]["faiss"]["command"] == "old command"
    assert merged["acceptance"]["faiss_p95_ms"] == 1.0 and merged["acceptance"]["passed"]
    text = "\n".join(report._measured_by(merged))
    assert "numpy, faiss: 2026-11-23 13:33 UTC, `old command`" in text and "pgvector: 2026-12-03" in text

    with pytest.raises(ValueError):
        bench.merge_scale(fresh, {**previous, "vectors": {"centres": 200}}, OLD_META, RUN)
    with pytest.raises(ValueError):  # a --sizes 10000 run samples other vectors than the 1M run it would join
        bench.merge_scale(scale_section([scale_row("pgvector", 10_000, 9.0)], 10_000), previous, OLD_META, RUN)


def test_a_full_run_replaces_the_whole_section() -> None:
    rows = [scale_row("numpy", 10, 1.0), scale_row("faiss", 10, 2.0, 2), scale_row("pgvector", 10, 3.0)]
    previous = scale_section([scale_row("numpy", 10, 7.0)], sampled=99)  # a full run needs nothing from it
    merged = bench.merge_scale(scale_section(rows), previous, OLD_META, RUN)
    assert merged["rows"] == rows and set(merged["measured"]) == {"numpy", "faiss", "pgvector"}
    assert merged["acceptance"] is None  # FAISS measured with 2 threads only
    assert report._measured_by(merged) == []


# ----------------------------------------------------------------------------------------------- report


def test_the_committed_markdown_is_what_the_report_renders_from_the_committed_json() -> None:
    rendered = report.markdown(json.loads((RESULTS / "retrieval.json").read_text()))
    assert (RESULTS / "retrieval.md").read_text() == rendered + f"\n![{report.CHART_CAPTION}](retrieval.png)\n"


def test_the_readme_table_figures_are_in_the_json() -> None:
    """Every pgvector row of the README's latency table matches the JSON (build, memory, p50, p95, recall)."""
    readme = (RESULTS.parents[1] / "README.md").read_text()
    rows = json.loads((RESULTS / "retrieval.json").read_text())["scale"]["rows"]
    for row in (r for r in rows if r["backend"] == "pgvector"):
        line = (
            f"| pgvector HNSW | {row['n']:,} | {row['build_seconds']:.1f} | {row['memory_mb']:,.0f} "
            f"| {row['p50_ms']:.2f} | {row['p95_ms']:.2f} | {row['recall_at_10']:.3f} |"
        )
        assert line in readme


# --------------------------------------------------------------------------------- pgvector, for real


@pytest.fixture
def pg_url() -> Iterator[str]:
    if not postgres_answers():
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    yield from postgres_database()


@pytest.mark.parametrize("method", ["hnsw", "ivfflat"])
def test_pgvector_is_timed_through_the_product_backend(pg_url: str, method: str) -> None:
    generator = data.ClusteredVectors(timing.DIMENSION, centres=50, seed=0)
    vectors = generator.sample(3_000, seed=1)
    queries = generator.sample(25, seed=2)
    tuning = generator.sample(10, seed=3)
    exact = semantic_search(queries[5:], vectors, timing.TOP_K)
    entry = timing.measure_pgvector(
        pg_url, method, vectors, queries, exact, 5, tuning, semantic_search(tuning, vectors, timing.TOP_K)
    )
    assert entry["build"] == "PgvectorBackend.add (product path)"
    assert entry["index"].startswith("HNSW" if method == "hnsw" else "IVFFlat lists=55")
    assert entry["recall_at_10"] >= 0.8 and entry["index_mb"] > 0 and entry["p50_ms"] <= entry["p95_ms"]
    conn = timing.pg_connect(pg_url)
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('bench_3000')")
        assert cur.fetchone()[0] is None  # dropped after measuring
    conn.close()
