"""Rasa test stories (tests/test_stories.yml) against the trained model: any failed story fails CI.

`--e2e` makes Rasa parse each story's customer text with the model's NLU, so a misread intent or entity
fails the story just like a wrong action. All stories run; every failure is reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.rasa_cli import run_rasa


@pytest.mark.needs_model
def test_every_test_story_passes(tmp_path: Path) -> None:
    out = tmp_path / "story-results"
    result = run_rasa(
        "test",
        "core",
        "--model",
        "models/coverline.tar.gz",
        "--stories",
        "tests/test_stories.yml",
        "--out",
        str(out),
        "--e2e",
        "--no-plot",
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    # Every story is evaluated (not just up to the first error) and the failures are listed together.
    failed = (out / "failed_test_stories.yml").read_text()
    assert "- story:" not in failed, f"test stories failed:\n{failed}"
    written = (Path(__file__).parent / "test_stories.yml").read_text().count("- story:")
    assert f"Evaluating {written} stories" in result.stdout + result.stderr
