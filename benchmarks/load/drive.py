"""Drive a bot with locust for one stretch of load, and account for its processes' CPU time meanwhile."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

from benchmarks.load import report
from benchmarks.load.servers import Bot, cpu_seconds
from benchmarks.load.stock_bot import ROOT

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
LOCUST = Path(sys.executable).parent / "locust"


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def run_locust(bot: Bot, users: int, seconds: float, samples: Path, label: str) -> None:
    """Locust headless: `users` customers, all started at once, for `seconds`; in-flight replies are
    awaited (up to 60 s) when the time is up, so the last requests are measured rather than cut."""
    env = {**os.environ, "LOAD_SAMPLES": str(samples), "LOAD_TOKEN": bot.token, "LOAD_LABEL": label}
    command = [
        str(LOCUST),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        bot.url,
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        "--run-time",
        f"{int(seconds)}s",
        "--stop-timeout",
        "60",
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    # exit code 1 means some requests failed: the samples say which, so it is not an error of the run
    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if finished.returncode not in (0, 1):
        raise RuntimeError(f"locust failed ({finished.returncode}): {finished.stderr[-2000:]}")


def measure(bot: Bot, phase: str, round_number: int, users: int, seconds: float, samples: Path) -> Dict[str, Any]:
    """One stretch of load; its samples, and each server process's CPU time per answered request."""
    label = f"{bot.name}/{phase}/{round_number}"
    step(f"{label}: {users} conversation(s) at once for {seconds:.0f} s")
    before = cpu_seconds(bot.pids)
    run_locust(bot, users, seconds, samples, label)
    after = cpu_seconds(bot.pids)
    mine = [s for s in report.read_samples(samples) if s["label"] == label]
    summary = report.summarise([mine])
    replies = max(summary["replies"], 1)
    cpu = {name: round(1000 * (after[name] - before[name]) / replies, 2) for name in bot.pids}
    print(
        f"    p50 {summary['p50']} s  p95 {summary['p95']} s  p99 {summary['p99']} s  "
        f"{summary['replies_per_s']} replies/s  errors {summary['errors']}  cpu ms/reply {cpu}",
        flush=True,
    )
    return {
        "bot": bot.name,
        "phase": phase,
        "round": round_number,
        "users": users,
        "summary": summary,
        "cpu_ms_per_reply": cpu,
    }
