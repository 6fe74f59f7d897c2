"""The stock bot the benchmark compares against: what `rasa init --no-prompt` creates and trains.

Its own project, config and endpoints (empty pipeline and policies, so Rasa's defaults; in-memory tracker
store; no action server): the baseline a Rasa user starts from, not a reduced Coverline.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

from benchmarks.rasa_nlu import rasa_env

ROOT = Path(__file__).resolve().parents[2]
STOCK_DIR = ROOT / "benchmarks" / "work" / "load" / "stock"
RASA = Path(sys.executable).parent / "rasa"


def quiet_env() -> Dict[str, str]:
    """The NLU benchmark's Rasa environment (no telemetry, no TensorFlow chatter, offline), unbuffered."""
    return {**rasa_env(), "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "PYTHONUNBUFFERED": "1"}


def trained_model(project: Path = STOCK_DIR) -> Optional[Path]:
    """The newest model `rasa init` trained in the project, if any."""
    models = sorted((project / "models").glob("*.tar.gz"), key=lambda path: path.stat().st_mtime)
    return models[-1] if models else None


def ensure_stock_bot(project: Path = STOCK_DIR) -> Path:
    """Create and train the stock project once (a minute or two); later runs reuse its model."""
    model = trained_model(project)
    if model:
        return model
    if project.exists() and any(project.iterdir()):
        raise RuntimeError(f"{project} holds a project without a trained model: delete the folder and run again")
    project.mkdir(parents=True, exist_ok=True)
    print(f"==> rasa init --no-prompt --init-dir {project} (creates and trains the stock bot)", flush=True)
    subprocess.run([str(RASA), "init", "--no-prompt", "--init-dir", str(project)], check=True, env=quiet_env())
    model = trained_model(project)
    if not model:
        raise RuntimeError(f"rasa init did not leave a model in {project / 'models'}")
    return model


def serve_command(model: Path, port: int, project: Path = STOCK_DIR) -> List[str]:
    """`rasa run` as the stock project would be started: its own endpoints and credentials (REST open)."""
    return [
        str(RASA),
        "run",
        "--model",
        str(model),
        "--port",
        str(port),
        "--interface",
        "127.0.0.1",
        "--endpoints",
        str(project / "endpoints.yml"),
        "--credentials",
        str(project / "credentials.yml"),
    ]


if __name__ == "__main__":
    print(ensure_stock_bot())
