"""Where the project and its trained model live, for tests that read files or skip without a model."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MODEL = PROJECT_ROOT / "models" / "coverline.tar.gz"
