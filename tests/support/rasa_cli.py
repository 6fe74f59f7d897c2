"""Run the project's `rasa` command the way the Makefile does (same venv, from the checkout, no telemetry)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_rasa(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    rasa = Path(os.environ.get("COVERLINE_VENV", ROOT / ".venv")) / "bin" / "rasa"
    return subprocess.run(
        [str(rasa), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
    )
