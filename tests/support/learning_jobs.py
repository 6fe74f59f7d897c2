"""The learning worker under test: a database with annotations to learn from, `rasa train` and the
measuring stood in for (as tests/learning/test_retrain.py does), and Rasa's `PUT /model` answered by a
recorder behind the real RasaModelLoader. Everything else is real: the queue, the export, the registry,
the gate, the audit log."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import httpx

from inbox.services.agents import create_agent
from learning import annotations
from learning.gate import Evaluation
from learning.rasa_model import RasaModelLoader
from learning.worker import Worker
from storage.engine import session_scope
from storage.models import Agent
from tests.support.inbox import PASSWORDS
from tests.support.review_logs import Chat

SHIPPED = b"the shipped model"
ACTIVE = Evaluation(heldout_intent=95.0, heldout_sentiment=96.0, annotated_intent=30.0, stories=100.0)
LEARNED = Evaluation(heldout_intent=94.8, heldout_sentiment=96.2, annotated_intent=85.0, stories=100.0)
SHUFFLED = Evaluation(heldout_intent=89.0, heldout_sentiment=95.5, annotated_intent=10.0, stories=96.0)


def add_inbox_people(url: str) -> Dict[str, int]:
    """An admin, an agent and a second admin ("agent2", to log in with tests.support.inbox.login)."""
    ids = {}
    with session_scope(url) as db:
        for key, email, name, role in (
            ("admin", "admin@harbor.example", "Admin", "admin"),
            ("agent", "agent@harbor.example", "Agent", "agent"),
            ("agent2", "agent2@harbor.example", "Second Admin", "admin"),
        ):
            ids[key] = create_agent(db, email, name, role, PASSWORDS.get(key, PASSWORDS["agent"])).id
    return ids


def annotate_messages(url: str, count: int = 30) -> None:
    """Messages the model misread, labelled by an agent: enough that some are held back for the gate."""
    with session_scope(url) as db:
        annotator = db.query(Agent).filter(Agent.role == "agent").first()
        assert annotator is not None
        annotator_id = annotator.id
    chat = Chat(url, "whatsapp:15550001111")
    for n in range(count):
        message_id = chat.customer(f"pls stop the automatic payment from my card number {n}", "cancel_policy", 0.7)
        with session_scope(url) as db:
            annotations.annotate(db, message_id, annotator_id, "pay_premium", sentiment="neutral")


@dataclass
class RasaModelApi:
    """What Rasa's `PUT /model` was asked to load; answers 204, or `status` when told to refuse."""

    loaded: List[str] = field(default_factory=list)
    status: int = 204

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "PUT" and request.url.path == "/model", request.url
        self.loaded.append(json.loads(request.content)["model_file"])
        return httpx.Response(self.status, text="" if self.status == 204 else "model could not be loaded")

    def loader(self) -> RasaModelLoader:
        return RasaModelLoader("http://rasa.test", "rasa-token", transport=httpx.MockTransport(self.handle))


@dataclass
class StandIns:
    """`rasa train` writes a small archive; measuring says `candidate_scores` for it and ACTIVE for the
    shipped model."""

    tmp: Path
    candidate_scores: Evaluation = LEARNED
    trained: int = 0

    def train(self, out: Path) -> Path:
        self.trained += 1
        archive = self.tmp / f"candidate-{self.trained}.tar.gz"
        archive.write_bytes(f"a candidate trained on the annotations, run {self.trained}".encode())
        return archive

    def measure(self, model: Path, work: Path, learned_heldout: Path) -> Evaluation:
        assert learned_heldout.exists()
        return ACTIVE if model.read_bytes() == SHIPPED else self.candidate_scores

    def options(self) -> Dict[str, Any]:
        served = self.tmp / "models" / "coverline.tar.gz"
        if not served.exists():
            served.parent.mkdir(parents=True, exist_ok=True)
            served.write_bytes(SHIPPED)
        return dict(
            train=self.train,
            measure=self.measure,
            nlu_path=self.tmp / "nlu_data" / "learned" / "annotated.yml",
            heldout_path=self.tmp / "learned_heldout.yml",
            stories_path=self.tmp / "test_learned_stories.yml",  # never the checkout's tests/test_learned_stories.yml
            served=served,
            registry_dir=self.tmp / "registry",
            work=self.tmp / "work",
        )


def worker_for(url: str, stand_ins: StandIns, rasa: RasaModelApi, name: Optional[str] = None) -> Worker:
    worker = Worker(url, rasa.loader(), retrain_options=stand_ins.options(), heartbeat_seconds=0.2)
    if name:
        worker.name = name
    return worker
