"""The learning loop's results as JSON, a Markdown table and a chart (before → after → rolled back)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List


def _percent(value: Any) -> str:
    """A share, or a dash where the run never measured it (it stopped on an error first)."""
    return "–" if value is None else f"{value} %"


def _retrain_outcome(result: Dict[str, Any]) -> str:
    """Exit 3 is the gate's refusal; any other failure is an error, whose last line says what went wrong."""
    retrain = result.get("retrain", {})
    if retrain.get("promoted"):
        return "promoted"
    if retrain.get("exit_code") == 3:
        return "refused by the gate"
    last = [line for line in str(result.get("error", "")).splitlines() if line.strip()][-1:] or ["no output"]
    return f"failed, the run stopped here: {last[0][:300]}"


def write_results(results_dir: Path, name: str, result: Dict[str, Any]) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (results_dir / f"{name}.md").write_text(markdown(result, f"{name}.png"), encoding="utf-8")
    chart(result, results_dir / f"{name}.png")


def markdown(result: Dict[str, Any], png: str) -> str:
    before, after = result.get("before", {}), result.get("after", {})
    retrain, rollback = result.get("retrain", {}), result.get("rollback")
    lines: List[str] = [
        f"# Learning loop on the live servers ({result['scenario']})",
        "",
        f"{result['date']} · commit {result['commit']} · command: `{result['command']}`",
        "",
        f"{result['taught']} customer messages in phrasings the model got wrong (intent `{result['intent']}`) were "
        f"sent over the REST channel, logged, and annotated through the inbox's review API; `python -m learning "
        f"retrain` (`make retrain`) trained a candidate and let the gate decide. {result['new']} *other* new "
        "phrasings of the same kind, never annotated or trained on, were parsed by the same running Rasa process "
        "before and after.",
        "",
        "| | before | after |" + (" rolled back |" if rollback else ""),
        "| --- | ---: | ---: |" + (" ---: |" if rollback else ""),
        f"| new phrasings right | {_percent(before.get('new_accuracy'))} | {_percent(after.get('new_accuracy'))} |"
        + (f" {rollback['new_accuracy']} % |" if rollback else ""),
        f"| taught phrasings right | {_percent(before.get('taught_accuracy'))} "
        f"| {_percent(after.get('taught_accuracy'))} |" + (" |" if rollback else ""),
        "",
        f"- Retrain: exit code {retrain.get('exit_code')} ({_retrain_outcome(result)}), "
        f"{retrain.get('seconds')} s including the candidate's training and both models' evaluation.",
        f"- The Rasa server was restarted: {after.get('rasa_restarted')}; model before "
        f"`{Path(str(before.get('model_file'))).name}`, after `{Path(str(after.get('model_file'))).name}`.",
        f"- Annotated messages that the review queue offered: {result.get('taught_in_review_queue')} of "
        f"{result.get('annotated')}.",
        f"- Held-out probe messages that parse to another intent after the retrain: {after.get('probe_changed')}.",
    ]
    if result.get("note"):
        lines += ["", f"**Outcome.** {result['note']}"]
    if rollback:
        lines.append(
            f"- Rollback (`python -m learning rollback`): {rollback['seconds']} s; {rollback['same_intent']} of "
            f"{rollback['probe']} held-out probe messages parse to the same intent as before the retrain, largest "
            f"confidence difference {rollback['max_confidence_difference']}."
        )
    if retrain.get("report"):
        lines += ["", "The gate's report:", "", "```text", *retrain["report"], "```"]
    if result.get("examples"):
        lines += ["", "| new phrasing | before | after |", "| --- | --- | --- |"]
        lines += [
            f"| {e['text']} | {e['before']} | {e['after']} ({e['after_confidence']:.2f}) |" for e in result["examples"]
        ]
    lines += ["", f"![before, after and rolled back]({png})", ""]
    return "\n".join(lines)


def chart(result: Dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = ["before", "after retrain"]
    values = [result.get("before", {}).get("new_accuracy") or 0, result.get("after", {}).get("new_accuracy") or 0]
    if result.get("rollback"):
        labels.append("rolled back")
        values.append(result["rollback"]["new_accuracy"])
    fig, ax = plt.subplots(figsize=(6, 3.4))
    bars = ax.bar(labels, values, color=["#9aa5b1", "#2f7d5b", "#9aa5b1"][: len(values)])
    ax.bar_label(bars, fmt="%.0f %%")
    ax.axhline(80, color="#c0392b", linestyle="--", linewidth=1, label="target after: 80 %")
    ax.axhline(40, color="#7f8c8d", linestyle=":", linewidth=1, label="before: at most 40 %")
    ax.set_ylim(0, 105)
    ax.set_ylabel("new phrasings parsed right (%)")
    ax.set_title(f"Learning loop, {result['scenario']}: {result['new']} unseen phrasings")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
