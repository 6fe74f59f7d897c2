"""Render benchmarks/results/retrieval.json as the Markdown report and the chart the README links to.

Pure functions of the JSON (plus matplotlib for the chart), so a report can be re-rendered without
re-running anything: `python -c "from benchmarks.retrieval_report import write; write(...)"`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np

CHART_CAPTION = "InsuranceQA scores and latency vs size"


def pct(x: Optional[float]) -> str:
    return "—" if x is None else f"{x * 100:.1f}"


def num(x: Optional[float], digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _header(meta: Dict[str, Any]) -> List[str]:
    by_command: Dict[str, List[str]] = {}
    for section, command in meta.get("section_commands", {}).items():
        by_command.setdefault(command, []).append(section)
    commands = (
        "; ".join(f"{', '.join(sections)}: `{command}`" for command, sections in by_command.items())
        if len(by_command) > 1
        else f"`{meta['command']}`"
    )
    machine = meta["machine"]
    return [
        "# Retrieval benchmark",
        "",
        f"{meta['date']} · {machine['cpu_count']} × {machine['cpu_model']}, "
        f"{machine['memory_gb']} GB · Python {machine['python']}, torch {machine['torch']}, "
        f"faiss {machine['faiss']} · command: {commands}" + (" · **--quick smoke run**" if meta.get("quick") else ""),
        "",
    ]


def _insuranceqa(iqa: Dict[str, Any]) -> List[str]:
    ft = iqa["fine_tuning"]
    lines = [
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
    unseen = next(s for s in iqa["systems"] if s["system"] == iqa["best_system"])["test_questions_not_in_validation"]
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
    return lines + [
        f"**Verdict (P@1 ≥ BM25 + 10 points): {verdict}** — {iqa['best_system']} test P@1 "
        f"{pct(acc['best_p_at_1'])} vs BM25 {pct(acc['bm25_p_at_1'])}: {acc['delta_points']:+.1f} points.",
        "",
    ]


def _harbor(harbor: Dict[str, Any]) -> List[str]:
    lines = ["## 2. Harbor Mutual held-out questions", ""]
    if harbor.get("status") != "ok":
        return lines + [f"Not measured: {harbor['status']}.", ""]
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
    for s in sorted(harbor["systems"], key=lambda s: (s["label"] == "", s["label"], s["model"])):
        name = f"{s['model']} vs {s['matched_against']}"
        bold = "**" if name == harbor["best_system"] else ""
        lines.append(
            f"| {s['label']} | {bold}{s['model']}{bold} | {s['matched_against']} | {pct(s['p_at_1'])} "
            f"| {pct(s['mrr_at_10'])} | {num(s.get('mean_top1_answerable'))} "
            f"| {num(s.get('mean_top1_unanswerable'))} | {num(s.get('auc_top1_correct_vs_not'))} "
            f"| {num(s.get('auc_top1_answerable_vs_not'))} |"
        )
    return lines + ["", f"Best by MRR@10: **{harbor['best_system']}**.", ""]


def _measured_by(scale: Dict[str, Any]) -> List[str]:
    """When the backends' rows come from different runs (e.g. pgvector re-measured alone), say which."""
    measured = scale.get("measured", {})
    runs: Dict[str, List[str]] = {}
    for backend, run in measured.items():
        runs.setdefault(f"{run['date']}, `{run['command']}`", []).append(backend)
    if len(runs) < 2:
        return []
    return ["Rows measured in separate runs: " + "; ".join(f"{', '.join(b)}: {r}" for r, b in runs.items()) + ".", ""]


def _scale(scale: Dict[str, Any]) -> List[str]:
    pg = scale["postgres"]
    lines = [
        "## 3. Search latency and scale (synthetic clustered 384-d vectors)",
        "",
        f"{scale['vectors']['centres']:,} topic centres, queries are fresh samples; single queries one at a "
        f"time through the retrieval.backends API, {scale['vectors']['queries_timed']} timed after "
        f"{scale['vectors']['warmup_queries']} warm-up; 2 threads. Memory: RSS growth for in-process backends, "
        "pg_total_relation_size for pgvector (table + index); saved size = what the backend's save() writes. "
        f"PostgreSQL {pg['server']}, pgvector {pg['pgvector']}, shared_buffers {pg['shared_buffers']}. "
        + scale.get(
            "pgvector_build",
            "pgvector build = binary COPY + CREATE INDEX (maintenance_work_mem 4GB, 1 parallel worker).",
        ),
        "",
        *_measured_by(scale),
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
    acc = scale.get("acceptance")
    if acc:
        lines += [
            "",
            f"**Verdict ({acc['target']}): {'PASS' if acc['passed'] else 'FAIL'}** — p95 {acc['faiss_p95_ms']:.2f} ms "
            f"with 2 OpenMP threads, {acc['faiss_p95_ms_one_search_thread']:.2f} ms with 1 search thread, "
            f"at recall@10 {acc['faiss_recall_at_10']:.3f}.",
        ]
    return lines + [""]


def markdown(report: Dict[str, Any]) -> str:
    meta = report["meta"]
    lines = _header(meta)
    if report.get("insuranceqa"):
        lines += _insuranceqa(report["insuranceqa"])
    if report.get("harbor"):
        lines += _harbor(report["harbor"])
    if report.get("scale"):
        lines += _scale(report["scale"])
    walls = ", ".join(f"{k} {v / 60:.1f} min" for k, v in meta["section_seconds"].items())
    loads = ", ".join(f"{k} {v[0]:.1f}" for k, v in meta.get("load_average_at_section_end", {}).items())
    lines += [
        f"Wall time per section: {walls}. 1-minute load average at the end of each section (2 cores, shared "
        f"with other jobs): {loads}.",
        "",
    ]
    return "\n".join(lines)


def _plot_insuranceqa(axis: Any, iqa: Dict[str, Any]) -> None:
    names = [s["system"] for s in iqa["systems"]]
    xs = np.arange(len(names))
    for offset, (key, label) in zip((-0.2, 0.2), (("p_at_1", "P@1"), ("mrr_at_10", "MRR@10")), strict=True):
        values = [s["test"][key] * 100 for s in iqa["systems"]]
        bars = axis.bar(xs + offset, values, width=0.4, label=label)
        axis.bar_label(bars, fmt="%.1f", fontsize=8)
    axis.set_xticks(xs)
    axis.set_xticklabels([n.replace("Hybrid ", "Hybrid\n").replace("MiniLM ", "MiniLM\n") for n in names], fontsize=8)
    axis.set_ylabel("test score (%)")
    axis.set_title(f"InsuranceQA test: {iqa['test_questions']:,} questions × {iqa['test_candidates']:,} answers")
    axis.legend()


def _plot_scale(axis: Any, scale: Dict[str, Any]) -> None:
    series: Dict[str, Callable[[Dict[str, Any]], bool]] = {
        "numpy (exact)": lambda r: r["backend"] == "numpy",
        "faiss HNSW32, 2 threads": lambda r: r["backend"] == "faiss" and r["search_threads"] == 2,
        "faiss HNSW32, 1 search thread": lambda r: r["backend"] == "faiss" and r["search_threads"] == 1,
        "pgvector": lambda r: r["backend"] == "pgvector",
    }
    for label, keep in series.items():
        rows = [r for r in scale["rows"] if keep(r)]
        axis.plot([r["n"] for r in rows], [r["p95_ms"] for r in rows], marker="o", label=label)
        for r in rows:
            if r["backend"] == "pgvector" and r["index"].startswith("IVFFlat"):
                axis.annotate("IVFFlat", (r["n"], r["p95_ms"]), textcoords="offset points", xytext=(5, -12), fontsize=8)
    axis.axhline(20, color="grey", linestyle="--", linewidth=1, label="20 ms target")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("indexed vectors")
    axis.set_ylabel("single-query p95 latency (ms)")
    axis.set_title("p95 latency vs index size (384-d)")
    axis.legend()
    axis.grid(True, which="both", alpha=0.3)


def plot(report: Dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5.5))
    for axis, key, draw in ((left, "insuranceqa", _plot_insuranceqa), (right, "scale", _plot_scale)):
        if report.get(key):
            draw(axis, report[key])
        else:
            axis.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(report: Dict[str, Any], out_dir: Path) -> str:
    """retrieval.json, retrieval.md and retrieval.png in out_dir; returns the Markdown."""
    (out_dir / "retrieval.json").write_text(json.dumps(report, indent=2))
    text = markdown(report)
    (out_dir / "retrieval.md").write_text(text + f"\n![{CHART_CAPTION}](retrieval.png)\n")
    plot(report, out_dir / "retrieval.png")
    return text
