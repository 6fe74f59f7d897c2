"""The learning loop end to end on the live servers (issue 15): log → annotate in the inbox → retrain → promote.

    python -m benchmarks.learning_loop                   # set `excess`, correct labels: the gate should promote
    python -m benchmarks.learning_loop --shuffled        # the same phrasings with shuffled labels: it should refuse
    python -m benchmarks.learning_loop --set fnol        # first notices of loss (the gate refused these, rightly)

What it does, as an insurer's team would:
1. clones this checkout (HEAD) into var/learning-loop/<time>/ with the trained model beside it, so the
   retrain's exported data (nlu_data/learned/) and registry never touch this working tree;
2. starts the Rasa server, the action server and the inbox there on a fresh SQLite database;
3. parses the `new` phrasings of benchmarks/learning_loop/phrasings/<set>.yml on the live bot (before);
4. customers send the `taught` phrasings over the REST channel, each in its own conversation; they are logged;
5. an agent logs in to the inbox and annotates each logged message through the review API;
6. `python -m learning retrain` (what `make retrain` runs) trains a candidate, measures it beside the active
   model and promotes it through Rasa's `PUT /model` if the gate passes;
7. parses the `new` phrasings again on the same Rasa process (after), checks it was not restarted;
8. `python -m learning rollback`: timed, and the previous model's parses must come back on a probe set.

Results: benchmarks/results/learning_loop_<set>[_shuffled].{json,md,png}. Takes one model training (~15-50 min
by machine) plus two model evaluations.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"


def log(message: str) -> None:
    print(f"[learning-loop {datetime.now(timezone.utc):%H:%M:%S}] {message}", flush=True)


def clone_checkout(base: Path) -> Path:
    """HEAD of this checkout, with the trained model and past-replies index beside it (not in git)."""
    repo = base / "repo"
    subprocess.run(["git", "clone", "--quiet", "--local", str(ROOT), str(repo)], check=True)
    (repo / "models").mkdir(exist_ok=True)
    shutil.copy2(ROOT / "models" / "coverline.tar.gz", repo / "models" / "coverline.tar.gz")
    shutil.copytree(ROOT / "models" / "past_replies", repo / "models" / "past_replies")
    return repo


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shuffled", action="store_true", help="annotate with shuffled labels (the gate must refuse)")
    parser.add_argument("--set", dest="phrasing_set", default="excess", choices=["excess", "fnol"])
    parser.add_argument("--in-clone", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--results", type=Path, default=RESULTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_clone:
        from benchmarks.learning_loop.live import run

        return run(ROOT, args.results, args.shuffled, args.phrasing_set)
    if not (ROOT / "models" / "coverline.tar.gz").exists():
        print("no trained model: run `make train` first", file=sys.stderr)
        return 2
    base = ROOT / "var" / "learning-loop" / f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}"
    base.mkdir(parents=True)
    repo = clone_checkout(base)
    log(f"clone at {repo}")
    env = {**os.environ, "PYTHONPATH": str(repo), "HF_HUB_OFFLINE": "1", "RASA_TELEMETRY_ENABLED": "false"}
    env.pop("DATABASE_URL", None)
    command = [sys.executable, "-m", "benchmarks.learning_loop", "--in-clone", "--results", str(RESULTS)]
    command += ["--set", args.phrasing_set]
    if args.shuffled:
        command.append("--shuffled")
    return subprocess.run(command, cwd=repo, env=env).returncode


if __name__ == "__main__":
    raise SystemExit(main())
