"""Render benchmarks/results/alerts.json as the Markdown report and the chart.

Functions of the JSON plus the NAB data files (for the charted series), so the report can be re-rendered
without re-running the grid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from benchmarks.alerts.nab import Series
from benchmarks.alerts.scorer import probation_length

PROFILE_LABELS = {"standard": "standard", "reward_low_FP_rate": "low FP"}
# Baselines in the order of the comparison.
BASELINE_ORDER = ("numenta", "ARTime", "contextOSE", "twitterADVec", "windowedGaussian")
BASELINE_LABELS = {"numenta": "Numenta HTM"}


def num(x: Optional[float], digits: int = 1) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def short(name: str) -> str:
    return name.rsplit("/", 1)[-1].removesuffix(".csv").replace("Twitter_volume_", "")


def _totals_table(results: Dict[str, Any]) -> List[str]:
    ours = results["ours"]
    lines = [
        "| detector | standard | low FP | how the settings were chosen |",
        "| --- | ---: | ---: | --- |",
        "| **Coverline spike detector, leave one series out** "
        f"| **{num(ours['standard']['leave_one_out']['normalised'])}** "
        f"| **{num(ours['reward_low_FP_rate']['leave_one_out']['normalised'])}** "
        "| settings and threshold chosen on the other 9 files, per held-out file |",
        "| Coverline spike detector, leave one series out, rule knobs only "
        f"| {num(ours['standard']['leave_one_out_rule_knobs']['normalised'])} "
        f"| {num(ours['reward_low_FP_rate']['leave_one_out_rule_knobs']['normalised'])} "
        "| sensitivity and cool-down chosen on the other 9; constants at the defaults, set after seeing all 10 |",
        f"| Coverline spike detector, tuned on all 10 | {num(ours['standard']['tuned_on_all']['normalised'])} "
        f"| {num(ours['reward_low_FP_rate']['tuned_on_all']['normalised'])} "
        "| settings and threshold chosen on these 10 files (optimistic) |",
    ]
    for name in BASELINE_ORDER:
        base = results["baselines"].get(name)
        if base is None:
            continue
        lines.append(
            f"| {BASELINE_LABELS.get(name, name)} | {num(base['standard'])} | {num(base['reward_low_FP_rate'])} "
            f"| NAB's threshold over its 58 files; {base['source']} |"
        )
    return lines


def _files_table(results: Dict[str, Any]) -> List[str]:
    ours = results["ours"]
    names = sorted(ours["standard"]["tuned_on_all"]["files"])
    bases = [n for n in BASELINE_ORDER if results["baselines"].get(n, {}).get("files")]
    header = ["file", "windows", "ours LOO", "ours LOO knobs", "ours tuned", "ours LOO, low FP", "ours tuned, low FP"]
    header += [BASELINE_LABELS.get(n, n) for n in bases]
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    windows = results["meta"].get("windows_per_file", {})
    for name in names:
        cells = [
            short(name),
            str(windows.get(name, "")),
            num(ours["standard"]["leave_one_out"]["folds"][name]["score"], 2),
            num(ours["standard"]["leave_one_out_rule_knobs"]["folds"][name]["score"], 2),
            num(ours["standard"]["tuned_on_all"]["files"][name]["score"], 2),
            num(ours["reward_low_FP_rate"]["leave_one_out"]["folds"][name]["score"], 2),
            num(ours["reward_low_FP_rate"]["tuned_on_all"]["files"][name]["score"], 2),
        ]
        cells += [num(results["baselines"][n]["files"].get(name), 2) for n in bases]
        lines.append("| " + " | ".join(cells) + " |")
    totals = [
        "**total (normalised)**",
        str(results["meta"]["windows"]),
        num(ours["standard"]["leave_one_out"]["normalised"]),
        num(ours["standard"]["leave_one_out_rule_knobs"]["normalised"]),
        num(ours["standard"]["tuned_on_all"]["normalised"]),
        num(ours["reward_low_FP_rate"]["leave_one_out"]["normalised"]),
        num(ours["reward_low_FP_rate"]["tuned_on_all"]["normalised"]),
    ]
    totals += [num(results["baselines"][n]["standard"]) for n in bases]
    lines.append("| " + " | ".join(totals) + " |")
    return lines


def _checks(results: Dict[str, Any]) -> List[str]:
    lines = [
        "| detector | profile | NAB threshold | re-scored | published | largest per-file difference | row counts |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for detector, profiles in results["checks"].items():
        for profile, entry in profiles.items():
            published = entry.get("published_normalised")
            diff = entry.get("max_file_difference")
            counts = entry.get("counts_match")
            lines.append(
                f"| {detector} | {PROFILE_LABELS[profile]} | {entry['threshold']:.4f} | {num(entry['normalised'], 2)} "
                f"| {num(published, 2)} | {'—' if diff is None else f'{diff:.1e}'} "
                f"| {'—' if counts is None else ('identical' if counts else 'DIFFER')} |"
            )
    return lines


def _folds(results: Dict[str, Any]) -> List[str]:
    lines = ["| held-out file | settings chosen on the other 9 | threshold | score |", "| --- | --- | ---: | ---: |"]
    for name, fold in sorted(results["ours"]["standard"]["leave_one_out"]["folds"].items()):
        lines.append(f"| {short(name)} | {fold['settings']} | {fold['threshold']:.3f} | {fold['score']:.2f} |")
    return lines


def markdown(results: Dict[str, Any]) -> str:
    meta, ours, head = results["meta"], results["ours"], results["headline"]
    std, low = ours["standard"], ours["reward_low_FP_rate"]
    verdict = (
        f"**Acceptance (realTweets standard ≥ 70): {'PASS' if head['passes_70'] else 'FAIL'}** on the honest figure, "
        f"leave one series out with every setting re-chosen on the other nine files: "
        f"{num(head['standard_leave_one_out'])}. With only the rule knobs (sensitivity, cool-down) re-chosen and the "
        f"detector's constants at their defaults: {num(head['standard_leave_one_out_rule_knobs'])}, but those "
        f"defaults were set after a search over all ten files, so that figure is not clean. Tuned on all ten files "
        f"(optimistic): {num(head['standard_tuned_on_all'])}."
    )
    timing = results["timing"]
    lines = [
        "# Spike detector on NAB realTweets",
        "",
        f"{meta['date']} · commit {meta['commit']} · Python {meta['python']}, numpy {meta['numpy']} · "
        f"command: `{meta['command']}` · data: {meta['files']} files, {meta['rows']:,} five-minute rows, "
        f"{meta['windows']} labelled windows",
        "",
        verdict,
        "",
        "Scores are NAB's, normalised over realTweets alone: 0 = the null detector (detects nothing), 100 = every "
        "window detected on its first row; standard profile (FP weight 0.11) and reward_low_FP_rate (0.22). Our "
        "threshold is chosen as NAB chooses it (the highest total over the scored files); NAB's detectors keep the "
        "threshold NAB chose over its whole 58-file corpus, so on realTweets alone they are not re-tuned.",
        "",
        "## Totals",
        "",
        *_totals_table(results),
        "",
        "## Per file (raw NAB score; a file with n windows ranges from −n to +n)",
        "",
        *_files_table(results),
        "",
        f"Chosen (tuned on all, standard): {std['tuned_on_all']['settings']}, threshold "
        f"{std['tuned_on_all']['threshold']:.3f}. Low FP: {low['tuned_on_all']['settings']}, threshold "
        f"{low['tuned_on_all']['threshold']:.3f}.",
        "",
        "Detector defaults (alerts/detector.py): " + ", ".join(f"{k}={v}" for k, v in meta["defaults"].items()) + ".",
        "",
        "## Leave one series out (standard): what the other nine chose",
        "",
        *_folds(results),
        "",
        "## Ablations: one change from the chosen setting (tuned on all, threshold optimised)",
        "",
        "| change | standard | low FP |",
        "| --- | ---: | ---: |",
        *[
            f"| {label} | {num(v['standard'])} | {num(v['reward_low_FP_rate'])} |"
            for label, v in results["ablations"].items()
        ],
        "",
        "## Scorer check: NAB's published raw outputs re-scored",
        "",
        *_checks(results),
        "",
        f"Settings grid ({meta['grid_size']} combinations): "
        + "; ".join(f"{k} ∈ {v}" for k, v in meta["grid"].items())
        + ". Rule knobs: "
        + "; ".join(f"{k} ∈ {v}" for k, v in meta["rule_grid"].items())
        + ".",
        "",
        f"Speed: {timing['scopes']} scopes × {timing['buckets']:,} five-minute buckets (a month) fed one update at a "
        f"time in {timing['seconds']:.1f} s; one detector's state is {timing['state_json_bytes']:,} bytes of JSON.",
        "",
        "![AAPL with its windows and our detections](alerts.png)",
        "",
    ]
    return "\n".join(lines)


def chart(results: Dict[str, Any], corpus: Sequence[Series], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spec = results["chart"]
    series = next(s for s in corpus if s.name == spec["series"])
    fig, ax = plt.subplots(figsize=(14, 4.5))
    ax.plot(series.timestamps, series.values, lw=0.5, color="#4477aa", label="tweets per 5 minutes")
    ax.axvspan(
        series.timestamps[0],
        series.timestamps[int(probation_length(len(series.values)))],
        color="#bbbbbb",
        alpha=0.4,
        label="NAB probation (not scored)",
    )
    for number, (start, end) in enumerate(series.windows):
        ax.axvspan(start, end, color="#ee7733", alpha=0.25, label="labelled window" if number == 0 else None)
    detections = spec["detections"]
    ax.scatter(
        [series.timestamps[i] for i in detections],
        [series.values[i] for i in detections],
        color="#cc3311",
        marker="v",
        s=40,
        zorder=3,
        label=f"our detections (score ≥ {spec['threshold']:.3f})",
    )
    ax.set_yscale("symlog", linthresh=10)
    ax.set_title(f"{short(series.name)}: NAB realTweets, labelled windows and the spike detector's alerts")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(results: Dict[str, Any], corpus: Sequence[Series], folder: Path) -> None:
    (folder / "alerts.md").write_text(markdown(results), encoding="utf-8")
    chart(results, corpus, folder / "alerts.png")
