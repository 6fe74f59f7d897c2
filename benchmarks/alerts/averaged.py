"""`python -m benchmarks.alerts.averaged`: the pre-registered averaged detector (protocol-ensemble.md), run once.

The mean score of the K best grid settings, members and threshold chosen on the other nine files, each file
scored with what the other nine chose. Writes benchmarks/results/alerts_averaged.{json,md}; about 6 minutes on
2 cores (the 144-setting grid over the ten files).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np

from benchmarks.alerts import nab, scorer, tuning
from benchmarks.alerts.nab import PROFILES, CostMatrix, Series

K = 5
RESULTS = nab.ROOT / "benchmarks" / "results"


def _best_members(rows: List[List[scorer.ScorableRows]], train: Sequence[int], cost: CostMatrix) -> List[int]:
    """The K settings with the highest total on the training files, each at its own best threshold."""
    totals = [scorer.sweep([setting[j] for j in train], cost).best()[1] for setting in rows]
    return sorted(range(len(rows)), key=lambda i: -totals[i])[:K]


def leave_one_out(outputs: tuning.Outputs, corpus: Sequence[Series], cost: CostMatrix) -> Dict[str, Any]:
    rows = [outputs.rows(i, corpus, cost) for i in range(len(outputs.configs))]
    files: Dict[str, Any] = {}
    for held, series in enumerate(corpus):
        train = [j for j in range(len(corpus)) if j != held]
        members = _best_members(rows, train, cost)
        averaged = [
            scorer.scorable_rows(s, np.mean([outputs.scores[i][s.name] for i in members], axis=0), cost) for s in corpus
        ]
        threshold, _ = scorer.sweep([averaged[j] for j in train], cost).best()
        files[series.short_name] = {
            "score": scorer.score_file(averaged[held], threshold, cost).score,
            "threshold": threshold,
            "members": [tuning.describe(outputs.configs[i]) for i in members],
        }
    null_rows = [scorer.scorable_rows(s, np.zeros(len(s.values)), cost) for s in corpus]
    total = sum(f["score"] for f in files.values())
    return {"normalised": scorer.normalised(total, null_rows, cost), "files": files}


def main(argv: List[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    corpus, profiles = nab.load_series(), nab.load_profiles()
    outputs = tuning.run_configs(tuning.grid_configs(tuning.GRID), corpus, "settings")
    results = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "protocol": "benchmarks/alerts/protocol-ensemble.md",
        "k": K,
        "profiles": {p: leave_one_out(outputs, corpus, profiles[p]) for p in PROFILES},
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "alerts_averaged.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# Averaged detector (pre-registered), NAB realTweets, leave one series out",
        "",
        f"{results['date']} · protocol: `{results['protocol']}` · K = {K}",
        "",
        "| file | standard | low FP |",
        "| --- | ---: | ---: |",
    ]
    standard, low = results["profiles"]["standard"], results["profiles"]["reward_low_FP_rate"]
    for name in standard["files"]:
        lines.append(f"| {name} | {standard['files'][name]['score']:.2f} | {low['files'][name]['score']:.2f} |")
    lines.append(f"| **total (normalised)** | **{standard['normalised']:.1f}** | **{low['normalised']:.1f}** |")
    (args.results / "alerts_averaged.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"standard {standard['normalised']:.1f}, low FP {low['normalised']:.1f}")


if __name__ == "__main__":
    main()
