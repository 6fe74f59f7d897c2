"""The learning worker as `make run` starts it (the runner's command, its own process): on start it fails the job a
dead worker left running, then takes the next queued job and records its end, and it stops on SIGTERM. The job
here is a rollback with nothing to roll back to, so the real process touches no model file of this checkout.
Two requests racing for the queue: the loser is told which job is in the way, on SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Dict, Iterator

import pytest

from learning import jobs
from learning.jobs import JobBusy
from runner.servers import PROJECT_ROOT, ServerSet
from storage.engine import session_scope
from storage.models import RetrainJob
from tests.support.databases import migrated_sqlite, postgres_answers, postgres_database
from tests.support.learning_jobs import add_inbox_people


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def wait_for_status(url: str, job_id: int, status: str, process: subprocess.Popen, seconds: float = 60) -> RetrainJob:
    deadline = time.monotonic() + seconds
    while True:
        with session_scope(url) as db:
            job = db.get(RetrainJob, job_id)
            assert job is not None
            if job.status == status:
                db.expunge(job)
                return job
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        assert time.monotonic() < deadline, f"job {job_id} is still {job.status}"
        time.sleep(0.2)


def test_the_runner_starts_a_worker_that_clears_a_dead_job_and_runs_the_next(tmp_path: Path) -> None:
    url = migrated_sqlite(tmp_path / "worker.db")
    ids = add_inbox_people(url)
    with session_scope(url) as db:
        left = jobs.request(db, "retrain", ids["admin"])
    with session_scope(url) as db:
        assert jobs.claim_next(db, f"{socket.gethostname()}:{dead_pid()}") is not None
        left_id = left.id

    servers = ServerSet(db_url=url, with_webchat=False, with_learning=True)
    assert "learning" not in ServerSet(with_webchat=False).commands()
    env = {**servers.env(), "RASA_URL": "http://127.0.0.1:9", "RASA_API_TOKEN": "t"}
    process = subprocess.Popen(
        servers.commands()["learning"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        failed = wait_for_status(url, left_id, "failed", process)
        assert "stopped before it finished" in (failed.result or "")

        with session_scope(url) as db:
            rollback = jobs.request(db, "rollback", ids["admin"])
        with session_scope(url) as db:
            rollback_id = rollback.id
        ended = wait_for_status(url, rollback_id, "failed", process)
        assert ended.result == "no earlier model to roll back to"
        assert ended.worker == f"{socket.gethostname()}:{process.pid}"
        assert [p["line"] for p in ended.progress][-1] == "stopped: no earlier model to roll back to"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert code == 0
    output = process.stdout.read() if process.stdout else ""
    assert "learning worker" in output and "ready" in output


@pytest.fixture(params=["sqlite", "postgresql"])
def queue_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        urls: Iterator[str] = iter([migrated_sqlite(tmp_path / "queue.db")])
    else:
        if not postgres_answers():
            pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
        urls = postgres_database()
    for url in urls:
        if request.param == "postgresql":
            from storage.migrate import upgrade

            upgrade(url)
        yield url


def test_the_request_that_loses_the_race_names_the_winner(queue_db: str) -> None:
    """The first request's row is not committed when the second checks the queue: on PostgreSQL the second
    passes the check and meets the unique index; on SQLite it waits for the write lock, then sees the row.
    Either way it gets JobBusy with the first job, not a duplicate and not an error."""
    ids: Dict[str, int] = add_inbox_people(queue_db)
    first_inserted, outcome = threading.Event(), {}

    def second() -> None:
        first_inserted.wait()
        try:
            with session_scope(queue_db) as db:
                outcome["job"] = jobs.request(db, "rollback", ids["agent2"]).id
        except JobBusy as busy:
            outcome["busy"] = busy

    thread = threading.Thread(target=second)
    thread.start()
    with session_scope(queue_db) as db:
        first = jobs.request(db, "retrain", ids["admin"])
        db.flush()
        first_inserted.set()
        time.sleep(1.0)  # the second request is checking, or waiting, now
        first_id = first.id
    thread.join(timeout=60)
    assert "job" not in outcome
    busy = outcome["busy"]
    assert busy.job_id == first_id and f"job {first_id}" in str(busy)
    with session_scope(queue_db) as db:
        assert [j.id for j in jobs.recent(db)] == [first_id]
