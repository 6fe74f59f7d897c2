"""`python -m benchmarks.load`: the stock bot and Coverline under the same REST load, one after the other.

    make benchmark-load                                   # 2 rounds, 20 conversations at once, ~10 min
    .venv/bin/python -m benchmarks.load --profile         # and py-spy profiles (where the time goes)
    .venv/bin/python -m benchmarks.load --users 2 --concurrent-seconds 5 --alone-seconds 3 --rounds 1 \\
        --results /tmp/load-smoke                          # a smoke run

Both bots are started first and stay up; each round measures the stock bot alone (one conversation) and at
`--users` conversations at once, then Coverline the same way, so the two never share the CPU and a
slow-down of the machine touches both. Locust's samples go to benchmarks/work/load/samples.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from benchmarks.load import report
from benchmarks.load.conversation import CONVERSATION
from benchmarks.load.drive import measure, step
from benchmarks.load.servers import WORK, Bot, start_coverline, start_stock, stop, wait_answering, warm_up
from benchmarks.load.stock_bot import ROOT, ensure_stock_bot

RESULTS = ROOT / "benchmarks" / "results"
PRODUCT_CODE = ("actions", "bot", "conversations", "storage", "inbox", "runner", "retrieval", "config.yml")


def pooled(runs: Sequence[Dict[str, Any]], samples: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Per bot and phase: every round's samples together (percentiles over all of them)."""
    summary: Dict[str, Dict[str, Any]] = {}
    for run in runs:
        label = f"{run['bot']}/{run['phase']}/{run['round']}"
        summary.setdefault(run["bot"], {}).setdefault(run["phase"], []).append(
            [s for s in samples if s["label"] == label]
        )
    return {
        bot: {phase: report.summarise(rounds) for phase, rounds in phases.items()} for bot, phases in summary.items()
    }


def commit() -> str:
    """HEAD, marked when the product code the servers ran differs from it (a shared working tree)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", *PRODUCT_CODE], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} with uncommitted changes to the product code" if changed else head


def machine() -> str:
    import psutil

    memory = psutil.virtual_memory().total / 2**30
    return f"{platform.machine()} Linux, {os.cpu_count()} CPUs, {memory:.0f} GB, Python {platform.python_version()}"


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20, help="conversations at once (default 20)")
    parser.add_argument("--concurrent-seconds", type=float, default=60, help="length of each concurrent stretch")
    parser.add_argument("--alone-seconds", type=float, default=20, help="length of each one-conversation stretch")
    parser.add_argument("--rounds", type=int, default=2, help="stock then Coverline, this many times")
    parser.add_argument("--profile", action="store_true", help="then profile both bots with py-spy under the load")
    parser.add_argument("--profile-seconds", type=float, default=40)
    parser.add_argument("--note", default="", help="a sentence the note shows with the run (e.g. why it is small)")
    parser.add_argument(
        "--render-only", action="store_true", help="rewrite load.md and load.png from the results' load.json"
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="where load.json/md/png go")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.render_only:  # after editing findings.md or the rendering: no servers, no load
        report.write(json.loads((args.results / "load.json").read_text(encoding="utf-8")), args.results)
        return 0
    WORK.mkdir(parents=True, exist_ok=True)
    samples = WORK / "samples.jsonl"
    samples.unlink(missing_ok=True)
    step("stock bot: rasa init (trained once, then reused)")
    stock_model = ensure_stock_bot()
    bots: List[Bot] = []
    try:
        step("starting the stock bot and Coverline (python -m runner) on free ports")
        bots = [start_stock(stock_model), start_coverline()]
        for bot in bots:
            wait_answering(bot)
            warm_up(bot, list(CONVERSATION))
            print(f"    {bot.name} answers at {bot.url} (processes {bot.pids})", flush=True)
        runs: List[Dict[str, Any]] = []
        for round_number in range(1, args.rounds + 1):
            for bot in bots:
                runs.append(measure(bot, "alone", round_number, 1, args.alone_seconds, samples))
                runs.append(measure(bot, "concurrent", round_number, args.users, args.concurrent_seconds, samples))
        all_samples = report.read_samples(samples)
        summary = pooled(runs, all_samples)
        results: Dict[str, Any] = {
            "meta": {
                "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                "commit": commit(),
                "machine": machine(),
                "locust": _version("locust"),
                "conversation": list(CONVERSATION),
                "users": args.users,
                "rounds": args.rounds,
                "alone_seconds": args.alone_seconds,
                "concurrent_seconds": args.concurrent_seconds,
                "note": args.note,
            },
            "summary": summary,
            "acceptance": report.acceptance(summary["stock"]["concurrent"], summary["coverline"]["concurrent"]),
            "per_turn_p50": {
                bot.name: report.per_turn_p50(
                    s for s in all_samples if s["label"].startswith(f"{bot.name}/concurrent/")
                )
                for bot in bots
            },
            "runs": runs,
        }
        if args.profile:
            from benchmarks.load import profile

            results["profile"] = profile.profile_bots(bots, args.users, args.profile_seconds, WORK)
        report.write(results, args.results)
        step(f"written {args.results}/load.json, load.md, load.png")
        print(report.markdown(results).split("## Where")[0], flush=True)
        return 0
    finally:
        for bot in bots:
            stop(bot)


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    sys.exit(main())
