"""The Models page's work: queue a retrain or a rollback for the learning worker, read the jobs and the
model registry. Nothing here trains or talks to Rasa: the worker (learning/worker.py) does, outside the
web process. A request is audited here (`retrain_job_requested`, with the admin's address); the worker
audits the start and the end, and the registry the promotion or rollback itself."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from inbox.errors import Conflict, NotFound
from inbox.services import audit
from inbox.services.common import aware
from learning import jobs, registry
from learning.jobs import JobBusy
from learning.registry import RegistryError
from storage.models import Agent, ModelVersion, RetrainJob


def _names(db: Session, ids: List[Optional[int]]) -> Dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(db.execute(select(Agent.id, Agent.name).where(Agent.id.in_(wanted))).all())


def _brief(agent_id: Optional[int], names: Dict[int, str]) -> Optional[Dict[str, Any]]:
    return None if agent_id is None else {"id": agent_id, "name": names.get(agent_id)}


def job_as_dict(job: RetrainJob, names: Dict[int, str]) -> Dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "target_version": job.target_version,
        "status": job.status,
        "requested_by": _brief(job.requested_by_id, names),
        "requested_at": aware(job.requested_at),
        "started_at": aware(job.started_at),
        "finished_at": aware(job.finished_at),
        "heartbeat_at": aware(job.heartbeat_at),
        "worker": job.worker,
        "progress": list(job.progress or []),
        "result": job.result,
        "model_version": job.model_version,
    }


def _queue(db: Session, admin: Agent, kind: str, target: Optional[str], ip: str) -> Dict[str, Any]:
    try:
        job = jobs.request(db, kind, admin.id, target)
    except JobBusy as error:
        db.rollback()
        raise Conflict(f"Not queued: {error}.") from None
    detail = {"job": job.id, "kind": kind, "target_version": target}
    audit.record(db, "retrain_job_requested", admin.id, detail=detail, ip=ip)
    db.commit()
    return job_as_dict(job, {admin.id: admin.name})


def request_retrain(db: Session, admin: Agent, ip: str) -> Dict[str, Any]:
    return _queue(db, admin, "retrain", None, ip)


def request_rollback(db: Session, admin: Agent, version: Optional[str], ip: str) -> Dict[str, Any]:
    """Checked now, so the admin hears at once what the worker would only find later: an unknown version
    (404), nothing earlier to go back to, the model already active, or one that never served (409). Only a
    model that was active before can be restored here: a refused candidate does not bypass the gate
    (`python -m learning rollback --to` still can, from a shell)."""
    try:
        target = registry.rollback_target(db, version)
    except RegistryError as error:
        raise (NotFound if version else Conflict)(f"{error}.") from None
    if target.status == "active":
        raise Conflict(f"{target.version} is already the active model.")
    if target.promoted_at is None:
        raise Conflict(f"{target.version} was never the active model ({target.status}); only those can be restored.")
    return _queue(db, admin, "rollback", target.version, ip)  # the version the admin confirmed, fixed now


def cancel(db: Session, admin: Agent, job_id: int, ip: str) -> Dict[str, Any]:
    """A queued job nobody has started (say the worker is not running) can be cancelled; a running one cannot."""
    job = db.get(RetrainJob, job_id)
    if job is None:
        raise NotFound(f"No retrain job {job_id}.")
    if not jobs.cancel_queued(db, job_id):
        db.rollback()
        status = db.scalar(select(RetrainJob.status).where(RetrainJob.id == job_id))
        raise Conflict(f"Job {job_id} is {status}: only a queued job can be cancelled.")
    audit.record(db, "retrain_job_cancelled", admin.id, detail={"job": job_id, "kind": job.kind}, ip=ip)
    db.commit()
    db.refresh(job)  # the UPDATE went around the session
    return job_as_dict(job, _names(db, [job.requested_by_id]))


def list_jobs(db: Session, limit: int) -> List[Dict[str, Any]]:
    rows = jobs.recent(db, limit)
    names = _names(db, [row.requested_by_id for row in rows])
    return [job_as_dict(row, names) for row in rows]


def job_detail(db: Session, job_id: int) -> Dict[str, Any]:
    job = db.get(RetrainJob, job_id)
    if job is None:
        raise NotFound(f"No retrain job {job_id}.")
    return job_as_dict(job, _names(db, [job.requested_by_id]))


def list_models(db: Session) -> List[Dict[str, Any]]:
    """Every registered model, newest first, with the gate's numbers as they were measured."""
    rows: List[ModelVersion] = registry.history(db)
    names = _names(db, [r.promoted_by_id for r in rows] + [r.created_by_id for r in rows])
    return [
        {
            "version": row.version,
            "status": row.status,
            "data_hash": row.data_hash,
            "archive_sha256": row.archive_sha256,
            "metrics": row.metrics,
            "verdict": row.verdict,
            "note": row.note,
            "created_at": aware(row.created_at),
            "created_by": _brief(row.created_by_id, names),
            "promoted_at": aware(row.promoted_at),
            "promoted_by": _brief(row.promoted_by_id, names),
            "restorable": row.status != "active" and row.promoted_at is not None,
        }
        for row in rows
    ]
