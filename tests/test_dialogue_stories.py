"""Rasa test stories (tests/test_stories.yml) against the trained model: any failed story fails CI.

`--e2e` makes Rasa parse each story's customer text with the model's NLU, so a misread intent or entity
fails the story just like a wrong action. All stories run; every failure is reported at once."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.needs_model
def test_every_test_story_passes(tmp_path: Path) -> None:
    rasa = Path(os.environ.get("COVERLINE_VENV", ROOT / ".venv")) / "bin" / "rasa"
    out = tmp_path / "story-results"
    result = subprocess.run(
        [
            str(rasa),
            "test",
            "core",
            "--model",
            "models/coverline.tar.gz",
            "--stories",
            "tests/test_stories.yml",
            "--out",
            str(out),
            "--e2e",
            "--fail-on-prediction-errors",
            "--no-plot",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false"},
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    # Every story is evaluated (not just up to the first error) and the failures are listed together.
    failed = (out / "failed_test_stories.yml").read_text()
    assert "- story:" not in failed, f"test stories failed:\n{failed}"
    report = (out / "story_report.json").read_text()
    assert '"conversation_accuracy"' in report or "accuracy" in report
