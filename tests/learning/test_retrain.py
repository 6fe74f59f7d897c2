"""The retrain job's order of work and its two outcomes, with training and measuring stood in for.

Real here: the log, the annotations, the export files, the registry, the gate. Stood in: `rasa train`
(it writes an archive) and the measuring (it returns the numbers a good or a shuffled batch gives), so
this runs in seconds; the live run with a real model is the end-to-end test of issue 15.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import pytest
from sqlalchemy import select

from learning import annotations, retrain
from learning.gate import Evaluation
from learning.registry import RegistryError
from storage.engine import session_scope
from storage.models import Agent, ModelVersion
from tests.support.databases import migrated_sqlite
from tests.support.review_logs import Chat

ACTIVE = Evaluation(heldout_intent=95.0, heldout_sentiment=96.0, annotated_intent=30.0, stories=100.0)
LEARNED = Evaluation(heldout_intent=94.8, heldout_sentiment=96.2, annotated_intent=85.0, stories=100.0)
SHUFFLED = Evaluation(heldout_intent=89.0, heldout_sentiment=95.5, annotated_intent=10.0, stories=96.0)


class Loader:
    def __init__(self) -> None:
        self.loaded: List[Path] = []

    def load(self, archive: Path) -> None:
        self.loaded.append(archive)


@pytest.fixture
def setup(tmp_path: Path):  # type: ignore[no-untyped-def]
    url = migrated_sqlite(tmp_path / "retrain.db")
    with session_scope(url) as db:
        agent = Agent(email="ana@harbor.example", name="Ana", role="agent", password_hash="-")
        db.add(agent)
        db.flush()
        agent_id = agent.id
    chat = Chat(url, "whatsapp:15550001111")
    for n in range(30):
        message_id = chat.customer(f"pls stop the automatic payment from my card number {n}", "cancel_policy", 0.7)
        with session_scope(url) as db:
            annotations.annotate(db, message_id, agent_id, "pay_premium", sentiment="neutral")
    served = tmp_path / "models" / "coverline.tar.gz"
    served.parent.mkdir()
    served.write_bytes(b"the shipped model")
    return {"url": url, "served": served, "tmp": tmp_path}


def run(setup: Dict, result: Evaluation, loader: Loader):  # type: ignore[no-untyped-def]
    tmp = setup["tmp"]

    def train(out: Path) -> Path:
        archive = tmp / "candidate.tar.gz"
        archive.write_bytes(b"a candidate trained on the annotations")
        return archive

    def measure(model: Path, work: Path, learned_heldout: Path) -> Evaluation:
        assert learned_heldout.exists()  # the held-back share was written before measuring
        return ACTIVE if model.read_bytes() == b"the shipped model" else result

    with session_scope(setup["url"]) as db:
        return retrain.retrain(
            db,
            loader,
            train=train,
            measure=measure,
            nlu_path=tmp / "nlu_data" / "learned" / "annotated.yml",
            heldout_path=tmp / "learned_heldout.yml",
            stories_path=tmp / "learned_stories.yml",
            served=setup["served"],
            registry_dir=tmp / "registry",
            work=tmp / "work",
            progress=lambda line: None,
        )


def statuses(url: str) -> List[str]:
    with session_scope(url) as db:
        return [row.status for row in db.scalars(select(ModelVersion).order_by(ModelVersion.id))]


def test_a_candidate_that_learned_is_promoted_and_served(setup) -> None:  # type: ignore[no-untyped-def]
    loader = Loader()
    outcome = run(setup, LEARNED, loader)
    assert outcome.promoted and outcome.active_after == outcome.version != outcome.active_before
    assert statuses(setup["url"]) == ["retired", "active"]  # the shipped model (adopted), the candidate
    assert [p.name for p in loader.loaded] == [f"{outcome.version}.tar.gz"]
    assert setup["served"].read_bytes() == b"a candidate trained on the annotations"
    assert "pay_premium" in (setup["tmp"] / "nlu_data" / "learned" / "annotated.yml").read_text()


def test_shuffled_labels_are_refused_and_the_active_model_stays(setup) -> None:  # type: ignore[no-untyped-def]
    loader = Loader()
    outcome = run(setup, SHUFFLED, loader)
    assert not outcome.promoted and outcome.active_after == outcome.active_before
    assert statuses(setup["url"]) == ["active", "refused"]
    assert loader.loaded == [] and setup["served"].read_bytes() == b"the shipped model"
    report = outcome.report()
    for failing in (
        "heldout_intent fell from 95.0 to 89.0",
        "stories fell from 100.0 to 96.0",
        "went from 30.0 to 10.0",
    ):
        assert failing in report
    with session_scope(setup["url"]) as db:
        refused = db.scalars(select(ModelVersion).where(ModelVersion.status == "refused")).one()
        assert refused.metrics["candidate"]["heldout_intent"] == 89.0 and "refused" in refused.verdict


def test_without_held_back_annotations_nothing_is_trained(tmp_path: Path) -> None:
    url = migrated_sqlite(tmp_path / "empty.db")
    trained: List[Path] = []
    with pytest.raises(RegistryError, match="annotate more"), session_scope(url) as db:
        retrain.retrain(
            db,
            Loader(),
            train=lambda out: trained.append(out) or out,  # type: ignore[func-returns-value]
            nlu_path=tmp_path / "a.yml",
            heldout_path=tmp_path / "b.yml",
            stories_path=tmp_path / "c.yml",
            served=tmp_path / "served.tar.gz",
            progress=lambda line: None,
        )
    assert trained == []
