"""The retrain job queue: what an admin's "Retrain now" or "Restore" becomes, one job at a time.

The inbox only writes a `queued` row (`request`); the learning worker (learning/worker.py) takes it
(`claim_next`), reports progress lines and a heartbeat, and records the result (`finish`). At most one job
is queued or running: the partial unique index `uq_retrain_jobs_one_at_a_time` holds that when two admins
press at once, and `JobBusy` names the job that is in the way. A running job whose worker died (its process
is gone, or it has given no sign of life for `STALE_AFTER`) is failed with a message, so it never blocks
the queue for good (`fail_abandoned`).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import AuditEntry, RetrainJob, utcnow

KINDS = ("retrain", "rollback")
WAITING = ("queued", "running")
FINISHED = ("succeeded", "refused", "failed")
HEARTBEAT_SECONDS = 10.0
STALE_AFTER = timedelta(minutes=2)  # twelve missed heartbeats: a worker on another host is gone, not busy
# A worker on this host whose process is alive is only judged by its heartbeat after much longer: on SQLite its
# heartbeat waits while its own job holds the write lock, and promoting does so while Rasa loads the model
# (learning/rasa_model.py allows 300 s).
LIVE_PROCESS_STALE_AFTER = timedelta(minutes=15)
MAX_PROGRESS_LINES = 500


class JobBusy(RuntimeError):
    """Another job is queued or running; the message says which, who asked and when."""

    def __init__(self, job: Optional[RetrainJob]) -> None:
        self.job_id = job.id if job is not None else None  # not the row: it outlives the session
        if job is None:
            message = "another retrain or rollback job is already queued or running"
        else:
            message = (
                f"{describe(job)} (job {job.id}, {job.status} since "
                f"{(job.started_at or job.requested_at):%Y-%m-%d %H:%M:%S} UTC) must finish before another starts"
            )
        super().__init__(message)


def describe(job: RetrainJob) -> str:
    if job.kind == "retrain":
        return "a retrain"
    return f"a rollback to {job.target_version}" if job.target_version else "a rollback to the previous model"


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def waiting_job(session: Session) -> Optional[RetrainJob]:
    """The job queued or running, if any (there is at most one)."""
    return session.scalar(select(RetrainJob).where(RetrainJob.status.in_(WAITING)))


def request(
    session: Session, kind: str, requested_by_id: Optional[int], target_version: Optional[str] = None
) -> RetrainJob:
    """Queue a job, or raise JobBusy. The insert runs in a savepoint: losing the race to the index leaves
    the caller's transaction usable, and the winner is read back to name it."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    fail_abandoned(session)
    busy = waiting_job(session)
    if busy is not None:
        raise JobBusy(busy)
    job = RetrainJob(
        kind=kind,
        target_version=target_version,
        status="queued",
        queue="models",
        requested_by_id=requested_by_id,
        requested_at=utcnow(),
        progress=[],
    )
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:
        raise JobBusy(waiting_job(session)) from None
    return job


def claim_next(session: Session, worker: str) -> Optional[RetrainJob]:
    """Move the queued job to running for this worker; None when nothing is queued or another worker
    took it first (the UPDATE only moves a row that is still queued)."""
    job_id = session.scalar(select(RetrainJob.id).where(RetrainJob.status == "queued").order_by(RetrainJob.id))
    if job_id is None:
        return None
    now = utcnow()
    moved = session.execute(
        update(RetrainJob)
        .where(RetrainJob.id == job_id, RetrainJob.status == "queued")
        .values(status="running", started_at=now, heartbeat_at=now, worker=worker)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        return None
    job = session.get(RetrainJob, job_id, populate_existing=True)
    assert job is not None
    _audit(session, "retrain_job_started", job, {"worker": worker})
    return job


def add_progress(session: Session, job_id: int, line: str) -> None:
    """One line for the page (the newest MAX_PROGRESS_LINES are kept); also a sign of life."""
    job = session.get(RetrainJob, job_id, populate_existing=True)
    if job is None:
        return
    now = utcnow()
    lines: List[Dict[str, Any]] = list(job.progress or [])
    lines.append({"at": now.isoformat(timespec="seconds") + "Z", "line": line[:2000]})
    job.progress = lines[-MAX_PROGRESS_LINES:]  # a new list: the JSON column only notices a new value
    job.heartbeat_at = now


def beat(session: Session, job_id: int, worker: str) -> None:
    session.execute(
        update(RetrainJob)
        .where(RetrainJob.id == job_id, RetrainJob.status == "running", RetrainJob.worker == worker)
        .values(heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def finish(
    session: Session,
    job_id: int,
    status: str,
    result: str,
    model_version: Optional[str] = None,
    worker: Optional[str] = None,
) -> Optional[RetrainJob]:
    """Record how a running job ended; only its own worker's job (when `worker` is given) and only once."""
    if status not in FINISHED:
        raise ValueError(f"status must be one of {FINISHED}")
    conditions = [RetrainJob.id == job_id, RetrainJob.status == "running"]
    if worker is not None:
        conditions.append(RetrainJob.worker == worker)
    moved = session.execute(
        update(RetrainJob)
        .where(*conditions)
        .values(status=status, result=result, model_version=model_version, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        return None
    job = session.get(RetrainJob, job_id, populate_existing=True)
    assert job is not None
    _audit(session, "retrain_job_finished", job, {"status": status, "model_version": model_version})
    return job


def cancel_queued(session: Session, job_id: int) -> bool:
    """End a job no worker has taken yet (as failed, saying so); False if it is not queued (a worker took it
    meanwhile, or it is over). A running job is not stopped from here: its training would go on."""
    return (
        session.execute(
            update(RetrainJob)
            .where(RetrainJob.id == job_id, RetrainJob.status == "queued")
            .values(status="failed", result="cancelled before a worker took it", finished_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )


def _host_and_pid(worker: Optional[str]) -> Tuple[str, Optional[int]]:
    host, _, pid = (worker or "").rpartition(":")
    return host, int(pid) if pid.isdigit() else None


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    return False


def abandoned_why(job: RetrainJob, now: datetime, host: str) -> Optional[str]:
    """Why this running job has no living worker, or None while it may still be running."""
    worker_host, pid = _host_and_pid(job.worker)
    local = worker_host == host and pid is not None
    if pid is not None and local and pid != os.getpid() and _process_gone(pid):
        return f"the worker running it ({job.worker}) stopped before it finished"
    last = job.heartbeat_at or job.started_at or job.requested_at
    if now - last > (LIVE_PROCESS_STALE_AFTER if local else STALE_AFTER):
        return f"the worker running it ({job.worker}) gave no sign of life since {last:%Y-%m-%d %H:%M:%S} UTC"
    return None


def fail_abandoned(session: Session, now: Optional[datetime] = None, host: Optional[str] = None) -> List[int]:
    """Fail every running job whose worker is gone, with the reason; the ids failed."""
    now = now or utcnow()
    host = host or socket.gethostname()
    failed = []
    for job in session.scalars(select(RetrainJob).where(RetrainJob.status == "running")).all():
        why = abandoned_why(job, now, host)
        if why is None:
            continue
        message = (
            f"failed: {why}. Its progress lines show how far it got (a promotion or rollback it made is in the "
            "registry and the audit log); start it again."
        )
        if finish(session, job.id, "failed", message, job.model_version) is not None:
            failed.append(job.id)
    return failed


def recent(session: Session, limit: int = 20) -> List[RetrainJob]:
    return list(session.scalars(select(RetrainJob).order_by(RetrainJob.id.desc()).limit(limit)))


def _audit(session: Session, action: str, job: RetrainJob, detail: Dict[str, Any]) -> None:
    """Attributed to the admin who asked: the worker acts for them. The promotion or rollback itself is
    audited by the registry (model_promoted, model_refused, model_rolled_back)."""
    entry = {"job": job.id, "kind": job.kind, **({"target_version": job.target_version} if job.target_version else {})}
    session.add(AuditEntry(at=utcnow(), agent_id=job.requested_by_id, action=action, detail={**entry, **detail}))


@dataclass(frozen=True)
class JobResult:
    """How a job ended, as the worker records it."""

    status: str
    result: str
    model_version: Optional[str] = None
