"""Intent accuracy and macro-F1 on a held-out split of nlu_data: the baseline the next model must beat.

One run, one machine: the same stratified 80/20 split (seed 42) is trained and tested with the stock
`rasa init` pipeline and with Coverline's config.yml, side by side. Writes
benchmarks/results/nlu_baseline.json and .md.

    make benchmark        # or: .venv/bin/python benchmarks/nlu_baseline.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parent.parent
RASA = Path(sys.executable).parent / "rasa"
WORK = ROOT / "benchmarks" / "work"
RESULTS = ROOT / "benchmarks" / "results"
PIPELINES = {
    "stock rasa init (CountVectors + DIET)": ROOT / "benchmarks" / "configs" / "rasa_init.yml",
    "coverline config.yml": ROOT / "config.yml",
}


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def rasa(*args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    subprocess.run([str(RASA), *args], cwd=ROOT, env=env, check=True)


def split_data(seed: int, fraction: float) -> Dict[str, Path]:
    """Rasa's own stratified splitter, so every intent is in both halves."""
    out = WORK / "split"
    shutil.rmtree(out, ignore_errors=True)
    rasa(
        "data",
        "split",
        "nlu",
        "--nlu",
        "nlu_data",
        "--training-fraction",
        str(fraction),
        "--random-seed",
        str(seed),
        "--out",
        str(out),
    )
    return {"train": out / "training_data.yml", "test": out / "test_data.yml"}


def evaluate(name: str, config: Path, split: Dict[str, Path]) -> Dict[str, Any]:
    slug = "".join(c if c.isalnum() else "_" for c in name)[:40]
    model_dir, report_dir = WORK / "models", WORK / f"report_{slug}"
    shutil.rmtree(report_dir, ignore_errors=True)
    step(f"{name}: training on {split['train'].name}")
    started = time.perf_counter()
    rasa(
        "train",
        "nlu",
        "--config",
        str(config),
        "--nlu",
        str(split["train"]),
        "--out",
        str(model_dir),
        "--fixed-model-name",
        slug,
    )
    train_seconds = time.perf_counter() - started
    step(f"{name}: testing on the held-out split")
    rasa(
        "test",
        "nlu",
        "--model",
        str(model_dir / f"{slug}.tar.gz"),
        "--nlu",
        str(split["test"]),
        "--out",
        str(report_dir),
        "--no-plot",
    )
    report = json.loads((report_dir / "intent_report.json").read_text())
    errors = (
        json.loads((report_dir / "intent_errors.json").read_text())
        if (report_dir / "intent_errors.json").exists()
        else []
    )
    confusions: Dict[str, int] = {}
    for error in errors:
        pair = f"{error['intent']} -> {error['intent_prediction']['name']}"
        confusions[pair] = confusions.get(pair, 0) + 1
    return {
        "pipeline": name,
        "config": str(config.relative_to(ROOT)),
        "accuracy": report["accuracy"],
        "macro_f1": report["macro avg"]["f1-score"],
        "weighted_f1": report["weighted avg"]["f1-score"],
        "test_examples": report["macro avg"]["support"],
        "train_seconds": round(train_seconds, 1),
        "per_intent_f1": {
            k: round(v["f1-score"], 4)
            for k, v in report.items()
            if isinstance(v, dict) and "f1-score" in v and k not in ("macro avg", "weighted avg", "micro avg")
        },
        "top_confusions": dict(sorted(confusions.items(), key=lambda kv: -kv[1])[:10]),
    }


def markdown(results: List[Dict[str, Any]], meta: Dict[str, Any]) -> str:
    lines = [
        "# NLU baseline: held-out split of nlu_data",
        "",
        f"{meta['date']} · {meta['machine']} · split: stratified {int(meta['train_fraction'] * 100)}/"
        f"{100 - int(meta['train_fraction'] * 100)}, seed {meta['seed']} · command: `{meta['command']}`",
        "",
        "| pipeline | accuracy | macro-F1 | weighted-F1 | test examples | training time (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r['pipeline']} | {r['accuracy'] * 100:.2f} % | {r['macro_f1'] * 100:.2f} "
            f"| {r['weighted_f1'] * 100:.2f} "
            f"| {r['test_examples']} | {r['train_seconds']} |"
        )
    lines += ["", "Most frequent confusions (gold -> predicted), per pipeline:", ""]
    for r in results:
        pairs = ", ".join(f"{k} ({v})" for k, v in r["top_confusions"].items()) or "none"
        lines.append(f"- {r['pipeline']}: {pairs}")
    return "\n".join(lines) + "\n"


def plot(results: List[Dict[str, Any]], path: Path) -> None:
    """Per-intent F1 for each pipeline, worst intents first: where the next model has to improve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    intents = sorted(results[0]["per_intent_f1"], key=lambda i: results[0]["per_intent_f1"][i])
    fig, ax = plt.subplots(figsize=(12, 0.28 * len(intents) + 1.5))
    height = 0.8 / len(results)
    for n, result in enumerate(results):
        ys = [i + n * height for i in range(len(intents))]
        label = f"{result['pipeline']} (acc {result['accuracy'] * 100:.1f} %)"
        ax.barh(ys, [result["per_intent_f1"].get(i, 0) for i in intents], height=height, label=label)
    ax.set_yticks([i + height * (len(results) - 1) / 2 for i in range(len(intents))])
    ax.set_yticklabels(intents, fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("F1 on the held-out split")
    ax.set_title("Intent F1 per intent, nlu_data held-out split")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--train-fraction", type=float, default=0.8)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    step("splitting nlu_data")
    split = split_data(args.seed, args.train_fraction)
    results = [evaluate(name, config, split) for name, config in PIPELINES.items()]
    meta = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "seed": args.seed,
        "train_fraction": args.train_fraction,
        "command": "make benchmark",
    }
    (RESULTS / "nlu_baseline.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    (RESULTS / "nlu_baseline.md").write_text(markdown(results, meta) + "\n![per-intent F1](nlu_baseline.png)\n")
    plot(results, RESULTS / "nlu_baseline.png")
    step("results")
    print(markdown(results, meta))


if __name__ == "__main__":
    main()
