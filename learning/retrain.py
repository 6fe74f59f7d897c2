"""`make retrain`: a candidate model from nlu_data plus the annotations, measured, gated, then promoted.

1. export the annotations (learning/export.py): the trained-on share into nlu_data/learned/, the held-back
   share into tests/fixtures/learned_heldout.yml; conversations marked good into tests/test_learned_stories.yml
   (learning/story_export.py), test stories the gate runs;
2. train a candidate with `rasa train` (the project's config, domain and data, as `make train` does) into
   models/candidates/;
3. measure the active model and the candidate the same way (learning/evaluate.py) and let the gate decide
   (learning/gate.py);
4. register the candidate with the numbers and the verdict (learning/registry.py); if the gate passed,
   promote it: the running Rasa server loads it without a restart.

The active model is the registry's; the first retrain adopts the model in service (models/coverline.tar.gz)
so there is always something to compare with and to roll back to.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, List, Optional

from sqlalchemy.orm import Session

from learning import export, registry, story_export
from learning.evaluate import evaluate
from learning.gate import Evaluation, Tolerance, Verdict, decide
from learning.process_output import run_reporting
from learning.registry import ModelLoader, RegistryError
from storage.settings import PROJECT_ROOT

CANDIDATES = PROJECT_ROOT / "models" / "candidates"
WORK = PROJECT_ROOT / "var" / "retrain"
TRAINING_FOLDERS = ("nlu_data", "bot/data")

Train = Callable[[Path], Path]
Evaluate = Callable[[Path, Path, Path], Evaluation]


@dataclass(frozen=True)
class Outcome:
    version: str
    promoted: bool
    verdict: Verdict
    active_before: str
    active_after: str

    def report(self) -> str:
        head = f"candidate {self.version}: " + ("promoted" if self.promoted else "refused, the active model stays")
        return f"{head} (active: {self.active_before} → {self.active_after})\n\n{self.verdict.explain()}"


def training_files() -> List[Path]:
    return sorted(p for folder in TRAINING_FOLDERS for p in (PROJECT_ROOT / folder).rglob("*.yml"))


def train_candidate(out: Path, output: Optional[Callable[[str], None]] = None) -> Path:
    """`rasa train` as the Makefile runs it; Rasa's progress goes to this process's output and, given
    `output`, line by line to it too (the learning worker's job, shown on the inbox's Models page)."""
    name = f"candidate-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}"
    rasa = Path(sys.executable).parent / "rasa"
    command = [str(rasa), "train", "--domain", "bot/domain", "--data", *TRAINING_FOLDERS, "--config", "config.yml"]
    command += ["--out", str(out), "--fixed-model-name", name]
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    if output is None:
        subprocess.run(command, cwd=PROJECT_ROOT, check=True, env=env)
    else:
        run_reporting(command, output, cwd=PROJECT_ROOT, env=env)
    return out / f"{name}.tar.gz"


def _evaluate(model: Path, work: Path, learned_heldout: Path) -> Evaluation:
    return evaluate(model, work, learned_heldout)


def retrain(
    session: Session,
    loader: ModelLoader,
    agent_id: Optional[int] = None,
    train: Train = train_candidate,
    measure: Evaluate = _evaluate,
    tolerance: Optional[Tolerance] = None,
    nlu_path: Path = export.LEARNED_NLU,
    heldout_path: Path = export.LEARNED_HELDOUT,
    stories_path: Path = story_export.LEARNED_STORIES,
    served: Path = registry.SERVED_MODEL,
    registry_dir: Optional[Path] = None,
    work: Path = WORK,
    progress: Callable[[str], None] = print,
) -> Outcome:
    exported = export.export(session, nlu_path, heldout_path)
    progress(f"exported {exported.trained} annotations to train on, {exported.held_back} held back")
    stories = story_export.export_stories(session, stories_path)
    progress(f"exported {stories.written} conversations marked good as test stories; skipped: {stories.skipped or 0}")
    if exported.held_back == 0:
        raise RegistryError("no annotation is held back to measure a candidate on: annotate more messages first")
    data = registry.data_hash(training_files())
    current = registry.active(session) or registry.adopt(session, served, data, registry_dir=registry_dir)
    session.commit()
    progress("training the candidate (rasa train)")
    archive = train(CANDIDATES)
    candidate = registry.register(session, archive, data, created_by_id=agent_id, registry_dir=registry_dir)
    session.commit()
    progress(f"measuring the active model {current.version} and the candidate {candidate.version}")
    before = measure(registry.archive_path(current), work / current.version, heldout_path)
    after = measure(registry.archive_path(candidate), work / candidate.version, heldout_path)
    verdict = decide(before, after, tolerance or Tolerance())
    metrics = {"active": before.as_dict(), "candidate": after.as_dict(), "active_version": current.version}
    registry.record_verdict(session, candidate, metrics, verdict.explain(), verdict.promote)
    session.commit()
    if verdict.promote:
        registry.promote(session, candidate.version, loader, agent_id, served=served)
        session.commit()
    active_now = registry.active(session)
    return Outcome(
        candidate.version,
        verdict.promote,
        verdict,
        current.version,
        active_now.version if active_now else "-",
    )
