"""The Models page's API and the learning worker, on SQLite and PostgreSQL: only admins queue a retrain or
a rollback (CSRF at the door), one job at a time even when two admins press at once, the worker runs the
same code as `make retrain` / `make rollback` end to end (training and measuring stood in for), the gate's
refusal is kept on the job, a rollback makes Rasa load the earlier archive, and a job whose worker died is
failed with a message instead of blocking the queue."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
from alembic import command
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from inbox.main import create_app
from learning import jobs
from storage.engine import get_engine, session_scope
from storage.migrate import alembic_config
from storage.models import AuditEntry, ModelVersion, RetrainJob, utcnow
from storage.settings import PROJECT_ROOT
from tests.support.databases import migrated_seeded
from tests.support.inbox import FakeRasaApi, LoggedIn, client_for, login, make_settings
from tests.support.learning_jobs import (
    SHUFFLED,
    RasaModelApi,
    StandIns,
    add_inbox_people,
    annotate_messages,
    worker_for,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def job_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, seeded database with an admin, a second admin and an agent."""
    for url in migrated_seeded(request.param, tmp_path, "jobs.db"):
        add_inbox_people(url)
        yield url


@pytest.fixture
def app(job_db: str, fake_rasa: FakeRasaApi):  # type: ignore[no-untyped-def]
    return create_app(make_settings(job_db, fake_rasa.url))


@pytest.fixture
def people(app) -> Dict[str, LoggedIn]:  # type: ignore[no-untyped-def]
    return {"admin": login(app, "admin"), "admin2": login(app, "agent2"), "agent": login(app, "agent")}


@pytest.fixture
def stand_ins(tmp_path: Path) -> StandIns:
    return StandIns(tmp_path)


def audit_actions(url: str) -> List[str]:
    with session_scope(url) as db:
        return list(db.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def job_row(url: str, job_id: int) -> RetrainJob:
    with session_scope(url) as db:
        job = db.get(RetrainJob, job_id)
        assert job is not None
        db.expunge(job)
        return job


def lines(job: dict) -> str:
    return "\n".join(entry["line"] for entry in job["progress"])


def test_only_admins_queue_and_read_jobs(job_db: str, app, people) -> None:  # type: ignore[no-untyped-def]
    agent, admin = people["agent"], people["admin"]
    for method, path in (
        ("POST", "/api/learning/retrain"),
        ("POST", "/api/learning/rollback"),
        ("GET", "/api/learning/jobs"),
        ("GET", "/api/learning/jobs/1"),
        ("GET", "/api/learning/models"),
        ("GET", "/admin/models"),
    ):
        response = agent.post(path) if method == "POST" else agent.get(path)
        assert response.status_code == 403, (path, response.text)
    anonymous = client_for(app).post("/api/learning/retrain")
    assert anonymous.status_code == 401
    without_csrf = admin.client.post("/api/learning/retrain")
    assert without_csrf.status_code == 403 and "CSRF" in without_csrf.json()["detail"]
    with session_scope(job_db) as db:
        assert db.scalar(select(RetrainJob.id)) is None  # none of the refused requests queued anything

    queued = admin.post("/api/learning/retrain")
    assert queued.status_code == 202, queued.text
    job = queued.json()
    assert (job["kind"], job["status"], job["requested_by"]["name"]) == ("retrain", "queued", "Admin")
    assert admin.get(f"/api/learning/jobs/{job['id']}").json()["status"] == "queued"
    assert [j["id"] for j in admin.get("/api/learning/jobs").json()] == [job["id"]]
    assert admin.get("/api/learning/jobs/999").status_code == 404
    assert audit_actions(job_db)[-1] == "retrain_job_requested"
    paths = client_for(app).get("/api/openapi.json").json()["paths"]
    for path in ("/api/learning/retrain", "/api/learning/rollback", "/api/learning/jobs", "/api/learning/models"):
        assert path in paths
    assert "/api/learning/jobs/{job_id}" in paths


def test_two_admins_pressing_at_once_get_one_job_and_a_409(job_db: str, people) -> None:  # type: ignore[no-untyped-def]
    start = threading.Barrier(2)
    answers: Dict[str, object] = {}

    def press(who: str) -> None:
        start.wait()
        answers[who] = people[who].post("/api/learning/retrain")

    threads = [threading.Thread(target=press, args=(who,)) for who in ("admin", "admin2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(answer.status_code for answer in answers.values())  # type: ignore[attr-defined]
    assert codes == [202, 409]
    refused = next(a for a in answers.values() if a.status_code == 409)  # type: ignore[attr-defined]
    winner = next(a for a in answers.values() if a.status_code == 202).json()  # type: ignore[attr-defined]
    assert f"job {winner['id']}" in refused.json()["detail"] and "must finish" in refused.json()["detail"]
    with session_scope(job_db) as db:
        assert db.scalars(select(RetrainJob.id)).all() == [winner["id"]]
    # a rollback waits its turn too
    assert people["admin2"].post("/api/learning/rollback").status_code == 409


def test_the_database_itself_refuses_a_second_waiting_job(job_db: str) -> None:
    """The partial unique index, not only the service's check: two rows queued or running cannot exist."""
    with session_scope(job_db) as db:
        db.add(RetrainJob(kind="retrain", status="running", queue="models", progress=[], requested_at=utcnow()))
    with pytest.raises(IntegrityError), session_scope(job_db) as db:
        db.add(RetrainJob(kind="rollback", status="queued", queue="models", progress=[], requested_at=utcnow()))
        db.flush()
    with session_scope(job_db) as db:  # finished jobs do not count
        db.add(RetrainJob(kind="retrain", status="failed", queue="models", progress=[], requested_at=utcnow()))
        db.add(RetrainJob(kind="retrain", status="refused", queue="models", progress=[], requested_at=utcnow()))


def test_the_worker_retrains_end_to_end_and_promotes_a_candidate_that_learned(  # type: ignore[no-untyped-def]
    job_db: str, people, stand_ins: StandIns
) -> None:
    annotate_messages(job_db)
    admin = people["admin"]
    job_id = admin.post("/api/learning/retrain").json()["id"]
    rasa = RasaModelApi()
    assert worker_for(job_db, stand_ins, rasa).run_once() == job_id

    job = admin.get(f"/api/learning/jobs/{job_id}").json()
    assert job["status"] == "succeeded", job["result"]
    progress = lines(job)
    for step in ("started by the worker", "annotations to train on", "training the candidate", "measuring"):
        assert step in progress
    assert f"candidate {job['model_version']} promoted" in progress
    assert "promoted" in job["result"] and job["finished_at"] and job["started_at"]
    assert stand_ins.trained == 1

    models = admin.get("/api/learning/models").json()
    assert [(m["version"], m["status"]) for m in models][0] == (job["model_version"], "active")
    active = models[0]
    assert active["promoted_by"]["name"] == "Admin" and active["metrics"]["candidate"]["annotated_intent"] == 85.0
    assert [m["status"] for m in models[1:]] == ["retired"] and models[1]["restorable"] is True
    assert rasa.loaded == [str((stand_ins.tmp / "registry" / f"{job['model_version']}.tar.gz").resolve())]
    actions = audit_actions(job_db)
    tail = actions[actions.index("retrain_job_requested") :]
    assert tail == [
        "retrain_job_requested",
        "retrain_job_started",
        "model_adopted",
        "model_promoted",
        "retrain_job_finished",
    ]
    # the queue is free again
    assert admin.post("/api/learning/retrain").status_code == 202


def test_a_refused_candidate_leaves_the_gate_report_on_the_job(  # type: ignore[no-untyped-def]
    job_db: str, people, stand_ins: StandIns
) -> None:
    annotate_messages(job_db)
    stand_ins.candidate_scores = SHUFFLED
    job_id = people["admin"].post("/api/learning/retrain").json()["id"]
    rasa = RasaModelApi()
    worker_for(job_db, stand_ins, rasa).run_once()

    job = people["admin"].get(f"/api/learning/jobs/{job_id}").json()
    assert job["status"] == "refused"
    for failing in ("heldout_intent fell from 95.0 to 89.0", "stories fell from 100.0 to 96.0"):
        assert failing in job["result"]
    assert "refused by the gate: the active model stays" in lines(job)
    assert rasa.loaded == []  # Rasa was never asked to switch
    models = {m["version"]: m for m in people["admin"].get("/api/learning/models").json()}
    assert models[job["model_version"]]["status"] == "refused"
    assert "heldout_intent fell" in models[job["model_version"]]["verdict"]
    assert models[job["model_version"]]["restorable"] is False
    assert audit_actions(job_db).count("model_refused") == 1


def test_a_rollback_job_makes_rasa_load_the_earlier_model(  # type: ignore[no-untyped-def]
    job_db: str, people, stand_ins: StandIns
) -> None:
    annotate_messages(job_db)
    admin, admin2 = people["admin"], people["admin2"]
    rasa = RasaModelApi()
    worker = worker_for(job_db, stand_ins, rasa)
    admin.post("/api/learning/retrain")
    worker.run_once()
    models = admin.get("/api/learning/models").json()
    promoted, shipped = models[0]["version"], models[1]["version"]

    # refused at the door, with the reason: an unknown version, the active one
    missing = admin2.post("/api/learning/rollback", json={"version": "19990101T000000-deadbeef"})
    assert missing.status_code == 404 and "no model version" in missing.json()["detail"]
    already = admin2.post("/api/learning/rollback", json={"version": promoted})
    assert already.status_code == 409 and "already the active model" in already.json()["detail"]

    queued = admin2.post("/api/learning/rollback", json={"version": shipped})
    assert queued.status_code == 202, queued.text
    assert queued.json()["target_version"] == shipped
    worker.run_once()
    job = admin2.get(f"/api/learning/jobs/{queued.json()['id']}").json()
    assert job["status"] == "succeeded" and job["model_version"] == shipped, job["result"]
    assert f"asking the Rasa server to load {shipped}" in lines(job)
    assert rasa.loaded[-1] == str((stand_ins.tmp / "registry" / f"{shipped}.tar.gz").resolve())
    statuses = {
        m["version"]: (m["status"], (m["promoted_by"] or {}).get("name"))
        for m in admin.get("/api/learning/models").json()
    }
    assert statuses[shipped] == ("active", "Second Admin") and statuses[promoted][0] == "retired"
    assert stand_ins.options()["served"].read_bytes() == b"the shipped model"  # a restart serves it too
    with session_scope(job_db) as db:
        rolled_back = db.scalars(select(AuditEntry).where(AuditEntry.action == "model_rolled_back")).all()
        assert [(e.detail["version"], e.agent_id is not None) for e in rolled_back] == [(shipped, True)]

    # without a version: the one active before the current one
    queued = admin.post("/api/learning/rollback")
    assert queued.status_code == 202 and queued.json()["target_version"] == promoted


def test_a_model_rasa_refuses_fails_the_job_and_changes_nothing(  # type: ignore[no-untyped-def]
    job_db: str, people, stand_ins: StandIns
) -> None:
    annotate_messages(job_db)
    admin = people["admin"]
    worker = worker_for(job_db, stand_ins, RasaModelApi())
    admin.post("/api/learning/retrain")
    worker.run_once()
    shipped = admin.get("/api/learning/models").json()[1]["version"]
    job_id = admin.post("/api/learning/rollback", json={"version": shipped}).json()["id"]
    refusing = RasaModelApi(status=400)
    worker_for(job_db, stand_ins, refusing).run_once()
    job = admin.get(f"/api/learning/jobs/{job_id}").json()
    assert job["status"] == "failed" and "refused to load" in job["result"]
    assert admin.get("/api/learning/models").json()[1]["status"] == "retired"  # still not active


def test_a_retrain_with_nothing_held_back_fails_with_the_reason(  # type: ignore[no-untyped-def]
    job_db: str, people, stand_ins: StandIns
) -> None:
    job_id = people["admin"].post("/api/learning/retrain").json()["id"]
    worker_for(job_db, stand_ins, RasaModelApi()).run_once()
    job = people["admin"].get(f"/api/learning/jobs/{job_id}").json()
    assert job["status"] == "failed" and "annotate more messages" in job["result"]
    assert stand_ins.trained == 0


CLAIM_AND_DIE = """
import os, sys
from learning import jobs
from storage.engine import session_scope
with session_scope(sys.argv[1]) as session:
    assert jobs.claim_next(session, jobs.worker_name()) is not None
os._exit(9)  # killed mid-job: no finish, no clean-up
"""


def test_a_job_left_running_by_a_dead_worker_is_failed_when_a_worker_starts(  # type: ignore[no-untyped-def]
    job_db: str, people, stand_ins: StandIns
) -> None:
    admin = people["admin"]
    job_id = admin.post("/api/learning/retrain").json()["id"]
    died = subprocess.run([sys.executable, "-c", CLAIM_AND_DIE, job_db], cwd=PROJECT_ROOT, timeout=120)
    assert died.returncode == 9
    assert admin.get(f"/api/learning/jobs/{job_id}").json()["status"] == "running"

    worker_for(job_db, stand_ins, RasaModelApi()).sweep()  # what a worker does first when it starts
    job = admin.get(f"/api/learning/jobs/{job_id}").json()
    assert job["status"] == "failed"
    assert "stopped before it finished" in job["result"] and "start it again" in job["result"]
    assert audit_actions(job_db).count("retrain_job_finished") == 1
    assert admin.post("/api/learning/retrain").status_code == 202  # the queue is free


def test_a_job_whose_worker_went_silent_elsewhere_is_failed_and_frees_the_queue(  # type: ignore[no-untyped-def]
    job_db: str, people
) -> None:
    """A worker on another host cannot be asked whether it lives: its heartbeat says so."""
    admin = people["admin"]
    job_id = admin.post("/api/learning/retrain").json()["id"]
    with session_scope(job_db) as db:
        assert jobs.claim_next(db, "another-host:4242") is not None
    busy = admin.post("/api/learning/retrain")
    assert busy.status_code == 409 and "running" in busy.json()["detail"]  # alive as far as anyone knows
    with session_scope(job_db) as db:
        db.get(RetrainJob, job_id).heartbeat_at = utcnow() - jobs.STALE_AFTER - timedelta(seconds=1)
    again = admin.post("/api/learning/retrain")
    assert again.status_code == 202, again.text
    stale = job_row(job_db, job_id)
    assert stale.status == "failed" and "gave no sign of life" in (stale.result or "")


def test_migration_0016_goes_down_and_up(job_db: str) -> None:
    config = alembic_config(job_db)
    command.downgrade(config, "0015_marketing_consent")
    from sqlalchemy import inspect

    assert "retrain_jobs" not in inspect(get_engine(job_db)).get_table_names()
    command.upgrade(config, "head")
    assert "retrain_jobs" in inspect(get_engine(job_db)).get_table_names()
    assert ModelVersion.__tablename__ in inspect(get_engine(job_db)).get_table_names()


def test_a_queued_job_no_worker_took_can_be_cancelled_but_a_running_one_cannot(job_db: str, people) -> None:  # type: ignore[no-untyped-def]
    admin = people["admin"]
    job_id = admin.post("/api/learning/retrain").json()["id"]
    assert people["agent"].post(f"/api/learning/jobs/{job_id}/cancel").status_code == 403
    cancelled = admin.post(f"/api/learning/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "failed" and "cancelled" in cancelled.json()["result"]
    again = admin.post(f"/api/learning/jobs/{job_id}/cancel")
    assert again.status_code == 409 and "is failed" in again.json()["detail"]
    assert audit_actions(job_db)[-1] == "retrain_job_cancelled"

    running_id = admin.post("/api/learning/retrain").json()["id"]  # the queue is free again
    with session_scope(job_db) as db:
        jobs.claim_next(db, "another-host:4242")
    refused = admin.post(f"/api/learning/jobs/{running_id}/cancel")
    assert refused.status_code == 409 and "is running" in refused.json()["detail"]
    assert admin.post("/api/learning/jobs/999/cancel").status_code == 404


def test_rasa_trains_output_reaches_the_job_line_by_line(  # type: ignore[no-untyped-def]
    job_db: str, people, stand_ins: StandIns, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a stand-in `train`, the worker runs `rasa train` (learning.retrain.train_candidate) with its
    output handed to the job; here train_candidate itself is the stand-in, to see what it is handed."""
    import learning.retrain
    from learning.worker import Worker

    def rasa_train(out: Path, output=None) -> Path:  # type: ignore[no-untyped-def]
        assert output is not None
        output("Epochs: 50%|#####     | 50/100")
        return stand_ins.train(out)

    monkeypatch.setattr(learning.retrain, "train_candidate", rasa_train)
    annotate_messages(job_db)
    job_id = people["admin"].post("/api/learning/retrain").json()["id"]
    options = {k: v for k, v in stand_ins.options().items() if k != "train"}
    Worker(job_db, RasaModelApi().loader(), retrain_options=options, heartbeat_seconds=0.2).run_once()
    job = people["admin"].get(f"/api/learning/jobs/{job_id}").json()
    assert job["status"] == "succeeded", job["result"]
    progress = lines(job)
    assert progress.index("Epochs: 50%") > progress.index("training the candidate")


def test_a_live_local_worker_is_given_longer_than_a_silent_remote_one(job_db: str, people) -> None:  # type: ignore[no-untyped-def]
    """On SQLite a worker's heartbeat waits while its own job holds the write lock (promoting waits for Rasa to
    load the model): a worker on this host whose process lives is not failed after two silent minutes."""
    job_id = people["admin"].post("/api/learning/retrain").json()["id"]
    with session_scope(job_db) as db:
        jobs.claim_next(db, jobs.worker_name())  # this process: alive, on this host
        db.get(RetrainJob, job_id).heartbeat_at = utcnow() - timedelta(minutes=5)
    with session_scope(job_db) as db:
        assert jobs.fail_abandoned(db) == []
        assert jobs.fail_abandoned(db, host="elsewhere") == [job_id]  # seen from another host: silent too long
    assert "gave no sign of life" in (job_row(job_db, job_id).result or "")
