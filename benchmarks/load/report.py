"""From locust's raw samples to the figures: percentiles, replies/s, errors; load.json, load.md, load.png.

Pure functions over the samples the locustfile writes (one JSON object per request: `start`, `latency`
in seconds, `error` or null, `turn`, `sender`, `bot_messages`), so the maths is tested without a server.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

COMMAND = "make benchmark-load"
TARGET_P95_RATIO = 1.5
ACCEPTANCE_USERS = 20
ACCEPTANCE_SECONDS = 60
BOT_TITLES = {"stock": "stock `rasa init` bot", "coverline": "Coverline"}
FINDINGS = Path(__file__).with_name("findings.md")

Sample = Mapping[str, Any]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) with linear interpolation between closest ranks (numpy's default), so
    p50 of an even count is the midpoint and p99 of 100 samples is not simply the largest."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def window_seconds(samples: Sequence[Sample]) -> float:
    """From the first request sent to the last reply received: the time the bot was under this load."""
    if not samples:
        return 0.0
    return max(s["start"] + s["latency"] for s in samples) - min(s["start"] for s in samples)


def summarise(rounds: Sequence[Sequence[Sample]]) -> Dict[str, Any]:
    """Latency of answered requests (p50/p95/p99/mean, seconds), replies/s, errors, over one or more rounds.

    Replies/s is answered requests over the summed windows of the rounds (each round is a separate
    stretch of load, so the gap between them does not count). A request is an error when it was not
    answered with a non-empty list of bot messages (HTTP error, timeout, or no reply at all).
    """
    samples = [s for r in rounds for s in r]
    answered = [s for s in samples if not s.get("error")]
    latencies = [s["latency"] for s in answered]
    seconds = sum(window_seconds(r) for r in rounds)
    errors: Dict[str, int] = {}
    for s in samples:
        if s.get("error"):
            reason = str(s["error"]).split(":")[0]
            errors[reason] = errors.get(reason, 0) + 1
    return {
        "requests": len(samples),
        "replies": len(answered),
        "errors": len(samples) - len(answered),
        "error_reasons": errors,
        "bot_messages": sum(int(s.get("bot_messages") or 0) for s in answered),
        "conversations": len({s["sender"] for s in samples if s.get("sender")}),
        "seconds": round(seconds, 3),
        "replies_per_s": round(len(answered) / seconds, 2) if seconds > 0 else 0.0,
        "p50": round(percentile(latencies, 50), 4) if latencies else None,
        "p95": round(percentile(latencies, 95), 4) if latencies else None,
        "p99": round(percentile(latencies, 99), 4) if latencies else None,
        "mean": round(sum(latencies) / len(latencies), 4) if latencies else None,
        "max": round(max(latencies), 4) if latencies else None,
    }


def per_turn_p50(samples: Iterable[Sample]) -> Dict[str, float]:
    """Median latency of each message of the conversation ("1".."5", as JSON keeps the keys): which
    message costs what."""
    by_turn: Dict[int, List[float]] = {}
    for s in samples:
        if not s.get("error") and s.get("turn"):
            by_turn.setdefault(int(s["turn"]), []).append(s["latency"])
    return {str(turn): round(percentile(values, 50), 4) for turn, values in sorted(by_turn.items())}


def acceptance(stock: Mapping[str, Any], coverline: Mapping[str, Any]) -> Dict[str, Any]:
    """Issue 14's line: Coverline's p95 at most 1.5 × the stock bot's at 20 concurrent, and no errors."""
    ratio = coverline["p95"] / stock["p95"] if stock.get("p95") and coverline.get("p95") else None
    return {
        "p95_ratio": round(ratio, 2) if ratio is not None else None,
        "target_ratio": TARGET_P95_RATIO,
        "coverline_errors": coverline["errors"],
        "met": ratio is not None and ratio <= TARGET_P95_RATIO and coverline["errors"] == 0,
    }


def read_samples(path: Path) -> List[Dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------------------
# rendering


def _ms(seconds: Optional[float]) -> str:
    return "–" if seconds is None else f"{seconds * 1000:.0f} ms"


def _spread(runs: Sequence[Mapping[str, Any]], key: str, scale: float = 1.0, unit: str = "") -> str:
    """`min–max` of one figure over the rounds, as the issue quotes its earlier measurement."""
    values = [r["summary"][key] * scale for r in runs if r["summary"].get(key) is not None]
    if not values:
        return "–"
    low, high = min(values), max(values)
    return f"{low:.0f}{unit}" if round(low) == round(high) else f"{low:.0f}–{high:.0f}{unit}"


def _figures_table(results: Mapping[str, Any]) -> List[str]:
    lines = [
        "| bot | conversations at once | p50 | p95 | p99 | replies/s | errors | requests "
        "| rounds (p50 · p95 · replies/s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for phase in ("concurrent", "alone"):
        for bot in ("stock", "coverline"):
            pooled = results["summary"].get(bot, {}).get(phase)
            if not pooled:
                continue
            runs = [r for r in results["runs"] if r["bot"] == bot and r["phase"] == phase]
            spread = " · ".join(
                (
                    _spread(runs, "p50", 1000, " ms"),
                    _spread(runs, "p95", 1000, " ms"),
                    _spread(runs, "replies_per_s"),
                )
            )
            lines.append(
                f"| {BOT_TITLES[bot]} | {runs[0]['users'] if runs else '–'} "
                f"| {_ms(pooled['p50'])} | {_ms(pooled['p95'])} "
                f"| {_ms(pooled['p99'])} | {pooled['replies_per_s']:.1f} | {pooled['errors']} | {pooled['requests']} "
                f"| {spread} |"
            )
    return lines


def _cpu_table(results: Mapping[str, Any]) -> List[str]:
    rows = [r for r in results["runs"] if r.get("cpu_ms_per_reply")]
    if not rows:
        return []
    processes = sorted({p for r in rows for p in r["cpu_ms_per_reply"]})
    lines = [
        "",
        "CPU time each process spent per answered request (all threads; psutil, before/after each phase):",
        "",
        "| bot | phase | round | " + " | ".join(processes) + " |",
        "| --- | --- | ---: | " + " | ".join("---:" for _ in processes) + " |",
    ]
    for r in rows:
        cells = [f"{r['cpu_ms_per_reply'][p]:.1f} ms" if p in r["cpu_ms_per_reply"] else "–" for p in processes]
        lines.append(f"| {BOT_TITLES[r['bot']]} | {r['phase']} | {r['round']} | " + " | ".join(cells) + " |")
    return lines


def _turn_table(results: Mapping[str, Any]) -> List[str]:
    turns = results.get("per_turn_p50") or {}
    if not turns:
        return []
    messages = results["meta"]["conversation"]
    lines = [
        "",
        "Median latency of each message at 20 concurrent conversations:",
        "",
        "| # | message | stock | Coverline |",
        "| ---: | --- | ---: | ---: |",
    ]
    for index, text in enumerate(messages, start=1):
        stock = turns.get("stock", {}).get(str(index))
        ours = turns.get("coverline", {}).get(str(index))
        lines.append(f"| {index} | {text} | {_ms(stock)} | {_ms(ours)} |")
    return lines


def _thread_lines(threads: Sequence[Mapping[str, Any]], shown: int = 6) -> List[str]:
    """The OS threads' CPU (psutil), beside py-spy's Python view: threads Python does not know (TensorFlow's,
    OpenMP's) spend CPU that py-spy cannot attribute."""
    busy = [row for row in threads if row["ms_per_reply"] >= 0.05][:shown]
    if not busy:
        return []
    listed = ", ".join(f"`{row['thread']}` ×{row['threads']} {row['ms_per_reply']:.1f} ms" for row in busy)
    return [f"CPU per reply by OS thread name (psutil): {listed}."]


def _profile_section(results: Mapping[str, Any]) -> List[str]:
    profile = results.get("profile")
    lines = ["", "## Where the time goes", ""]
    if not profile:
        lines.append("No profile in this run: `python -m benchmarks.load --profile` adds one.")
        return lines
    meta = profile.get("meta", {})
    lines.append(
        f"py-spy {meta.get('py_spy', '')} sampled each process {meta.get('rate', '')} times a second "
        "(on-CPU samples only) "
        f"for {meta.get('seconds', '')} s while {meta.get('users', '')} conversations ran at once, after the measured "
        "rounds (the figures above were taken without the profiler). A category's ms per reply is its share of "
        "the process's samples times the process's CPU time per answered request in that profiled run."
    )
    for bot in ("coverline", "stock"):
        for process, data in (profile.get(bot) or {}).items():
            if not isinstance(data, dict) or "categories" not in data:
                continue
            lines += [
                "",
                f"**{BOT_TITLES[bot]}, {process} process** ({data['samples']} samples, "
                f"{data['cpu_ms_per_reply']:.1f} ms CPU per reply, "
                f"{data['replies_per_s']:.1f} replies/s while profiled):",
                "",
                "| where | share of samples | ms CPU per reply | on the main thread | mostly in (share of the row) |",
                "| --- | ---: | ---: | ---: | --- |",
            ]
            for category in data["categories"]:
                inside = ", ".join(
                    f"`{f['function']}` {100 * f['share_of_category']:.0f} %"
                    for f in category.get("top_functions", [])[:3]
                )
                lines.append(
                    f"| {category['name']} | {100 * category['share']:.1f} % | {category['ms_per_reply']:.1f} "
                    f"| {100 * category.get('main_thread_share', 1.0):.0f} % | {inside} |"
                )
            if data.get("main_thread_busy_share") is not None:
                busy = 100 * data["main_thread_busy_share"]
                lines.append(f"\nMain thread (the event loop) on the CPU {busy:.0f} % of the time.")
            lines += _thread_lines(data.get("threads") or [])
    calls = profile.get("coverline", {}).get("action_server_calls")
    if calls:
        lines += [
            "",
            "Action server calls per message of one conversation (custom actions in the tracker's events, plus "
            "the custom slot-mapping actions action_extract_slots calls on every message, which leave no event):",
            "",
            "| # | message | action server calls |",
            "| ---: | --- | --- |",
        ]
        for row in calls:
            lines.append(f"| {row['turn']} | {row['text']} | {len(row['actions'])}: {', '.join(row['actions'])} |")
    if FINDINGS.exists():
        lines += ["", FINDINGS.read_text(encoding="utf-8").strip()]
    return lines


def _not_acceptance_run(meta: Mapping[str, Any]) -> List[str]:
    """A run smaller than the issue's (fewer conversations at once, shorter stretches) says so first."""
    if meta["users"] >= ACCEPTANCE_USERS and meta["concurrent_seconds"] >= ACCEPTANCE_SECONDS:
        return []
    return [
        f"> **Not the acceptance measurement**: {meta['users']} conversation(s) at once for "
        f"{meta['concurrent_seconds']:.0f} s (the issue's is {ACCEPTANCE_USERS} for at least {ACCEPTANCE_SECONDS} s)"
        + (f"; {meta['note']}" if meta.get("note") else "")
        + f". Run `{COMMAND}` on a quiet machine for the figures.",
        "",
    ]


def markdown(results: Mapping[str, Any]) -> str:
    meta = results["meta"]
    check = results.get("acceptance") or {}
    verdict = "met" if check.get("met") else "not met"
    lines = [
        "# Load: a stock `rasa init` bot and Coverline over REST",
        "",
        *_not_acceptance_run(meta),
        f"`{COMMAND}` on {meta['machine']}, {meta['date']} (commit {meta['commit']}), locust {meta['locust']}. "
        f"Each simulated customer holds one conversation at a time: the same {len(meta['conversation'])} messages "
        "(below) to `POST /webhooks/rest/webhook`, each sent as soon as the previous reply arrives, then a new "
        "conversation under a new sender id shaped like a channel's (`whatsapp:1555…`, `telegram:…`, "
        "`messenger:…`, a web chat session hex). Both bots run on this machine one after the other, never at "
        f"the same time; {meta['rounds']} rounds alternate them. Alone: 1 conversation for {meta['alone_seconds']} s; "
        f"concurrent: {meta['users']} conversations for {meta['concurrent_seconds']} s. Latency is per reply "
        "(request sent → the bot's messages back); replies/s counts answered requests; an error is an HTTP "
        "error, a timeout or an empty reply.",
        "",
        "The stock bot is `rasa init --no-prompt` (its own config: Rasa's default pipeline and policies, "
        "in-memory tracker store, no action server, open REST channel). Coverline is started by the "
        "project's runner (`python -m runner`: Rasa server, action server, web chat page, inbox) on a fresh "
        "SQLite database (SQL tracker store and interaction log), with its REST channel token.",
        "",
        *_figures_table(results),
        "",
        f"**Acceptance (issue 14): Coverline p95 ≤ {check.get('target_ratio', TARGET_P95_RATIO)} × stock at "
        f"{meta['users']} concurrent, 0 errors: {verdict}** (ratio {check.get('p95_ratio')}, Coverline errors "
        f"{check.get('coverline_errors')}).",
        "",
        "The conversation: " + " → ".join(f"“{text}”" for text in meta["conversation"]) + ".",
        *_turn_table(results),
        *_cpu_table(results),
        *_profile_section(results),
        "",
        "![latency percentiles and replies/s](load.png)",
        "",
    ]
    return "\n".join(lines)


def plot(results: Mapping[str, Any], path: Path) -> None:
    """Two panels: p50/p95/p99 per bot and load, and replies/s per bot and load."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [
        (bot, phase)
        for phase in ("alone", "concurrent")
        for bot in ("stock", "coverline")
        if results["summary"].get(bot, {}).get(phase)
    ]
    if not groups:
        return
    users = results["meta"]["users"]
    labels = [
        f"{'stock' if bot == 'stock' else 'Coverline'}\n{'alone' if phase == 'alone' else f'{users} at once'}"
        for bot, phase in groups
    ]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.26
    for offset, key in ((-width, "p50"), (0.0, "p95"), (width, "p99")):
        values = [1000 * (results["summary"][bot][phase][key] or 0) for bot, phase in groups]
        bars = left.bar([i + offset for i in range(len(groups))], values, width=width, label=key)
        left.bar_label(bars, fmt="%.0f", fontsize=7)
    stock_p95 = results["summary"].get("stock", {}).get("concurrent", {}).get("p95")
    if stock_p95:
        left.axhline(1000 * stock_p95 * TARGET_P95_RATIO, color="grey", linestyle="--", linewidth=1)
        left.text(
            len(groups) - 0.5,
            1000 * stock_p95 * TARGET_P95_RATIO,
            "1.5 × stock p95",
            ha="right",
            va="bottom",
            fontsize=7,
        )
    left.set_xticks(range(len(groups)), labels, fontsize=8)
    left.set_ylabel("latency per reply (ms)")
    left.legend(fontsize=8)
    rates = [results["summary"][bot][phase]["replies_per_s"] for bot, phase in groups]
    bars = right.bar(range(len(groups)), rates, color=["#4c72b0" if bot == "stock" else "#dd8452" for bot, _ in groups])
    right.bar_label(bars, fmt="%.1f", fontsize=8)
    right.set_xticks(range(len(groups)), labels, fontsize=8)
    right.set_ylabel("replies per second")
    fig.suptitle("REST, same 5-message conversation: stock rasa init bot vs Coverline (this machine)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write(results: Mapping[str, Any], directory: Path) -> None:
    """load.json (everything), load.md (the note) and load.png (the chart) in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "load.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (directory / "load.md").write_text(markdown(results), encoding="utf-8")
    plot(results, directory / "load.png")
