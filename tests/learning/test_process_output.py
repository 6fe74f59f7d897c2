"""`rasa train`'s output reaches the Models page line by line: a command that logs, draws a progress bar with
carriage returns (as tqdm does in a pipe) and fails is run as the worker runs training."""

from __future__ import annotations

import subprocess
import sys
from typing import List

import pytest

from learning.process_output import run_reporting

DRAWS_A_BAR = r"""
import sys, time
print("Training NLU model...", flush=True)
for step in range(0, 101, 10):
    sys.stdout.write(f"\rEpochs: {step:3d}%|{'#' * (step // 10):10}| {step}/100 [00:01<00:00]")
    sys.stdout.flush()
    time.sleep(0.02)
sys.stdout.write("\n")
print("Your Rasa model is trained", flush=True)
sys.exit(int(sys.argv[1]))
"""


def run(code: int, bar_seconds: float) -> List[str]:
    lines: List[str] = []
    run_reporting([sys.executable, "-c", DRAWS_A_BAR, str(code)], lines.append, bar_seconds=bar_seconds)
    return lines


def test_log_lines_come_as_they_are_and_a_bar_at_most_every_few_seconds() -> None:
    lines = run(0, bar_seconds=60)
    assert lines[0] == "Training NLU model..." and lines[-1] == "Your Rasa model is trained"
    bars = [line for line in lines if line.startswith("Epochs:")]
    assert bars[0].startswith("Epochs:   0%") and bars[-1].startswith("Epochs: 100%")  # first and last state
    assert len(bars) == 2  # not the nine in between


def test_every_bar_state_when_the_interval_allows() -> None:
    assert len([line for line in run(0, bar_seconds=0) if line.startswith("Epochs:")]) == 11


def test_a_failing_command_raises_with_its_last_lines() -> None:
    with pytest.raises(subprocess.CalledProcessError) as failed:
        run(3, bar_seconds=60)
    assert failed.value.returncode == 3 and "Your Rasa model is trained" in failed.value.output
