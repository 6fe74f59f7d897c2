"""The model registry and its jobs (docs/learning.md), admins only: queue a retrain or a rollback for the
learning worker (one job at a time), follow its progress, read every model with the gate's numbers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Optional

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field, constr

from inbox.deps import AdminAgent, DbSession, client_ip
from inbox.schemas import MAX_ID, AgentBrief, Detail
from inbox.services import learning_jobs

router = APIRouter(prefix="/learning", tags=["learning"])
READ_ERRORS: Dict[int | str, Dict[str, Any]] = {403: {"model": Detail, "description": "not an admin"}}
QUEUE_ERRORS: Dict[int | str, Dict[str, Any]] = {
    403: {"model": Detail, "description": "not an admin, or the CSRF token is missing"},
    409: {"model": Detail, "description": "another job is queued or running (the message names it)"},
}


class ProgressLine(BaseModel):
    at: str = Field(..., description="UTC, ISO 8601")
    line: str


class JobOut(BaseModel):
    id: int
    kind: str = Field(..., description="retrain or rollback")
    target_version: Optional[str] = Field(None, description="a rollback's version")
    status: str = Field(..., description="queued, running, succeeded, refused (the gate kept the active model), failed")
    requested_by: Optional[AgentBrief]
    requested_at: datetime
    started_at: Optional[datetime]
    finished_at: Optional[datetime]
    heartbeat_at: Optional[datetime] = Field(None, description="the worker's last sign of life while running")
    worker: Optional[str] = Field(None, description="host:pid of the worker that took it")
    progress: List[ProgressLine]
    result: Optional[str] = Field(None, description="the gate's report, the rollback's outcome, or the error")
    model_version: Optional[str] = Field(None, description="the candidate trained, or the version restored")


class RollbackIn(BaseModel):
    version: Optional[constr(strip_whitespace=True, min_length=1, max_length=64)] = Field(  # type: ignore[valid-type]
        None, description="a version that was active before; default: the one active before the current one"
    )


class ModelOut(BaseModel):
    version: str
    status: str = Field(..., description="candidate, refused, active or retired")
    data_hash: str = Field(..., description="sha256 over the training files it learned from")
    archive_sha256: str
    metrics: Optional[Dict[str, Any]] = Field(
        None, description="the gate's measurements: {active: {...}, candidate: {...}, active_version}"
    )
    verdict: Optional[str] = Field(None, description="the gate's table and reasons")
    note: Optional[str]
    created_at: datetime
    created_by: Optional[AgentBrief]
    promoted_at: Optional[datetime]
    promoted_by: Optional[AgentBrief]
    restorable: bool = Field(..., description="it was active before and is not now: POST /rollback can restore it")


@router.post("/retrain", response_model=JobOut, status_code=202, responses=QUEUE_ERRORS)
def queue_retrain(*, request: Request, admin: AdminAgent, db: DbSession) -> dict:
    """Queue `make retrain`: export the annotations, train a candidate, measure it beside the active model,
    promote it if the gate passes. The worker runs it; follow it at GET /jobs/{id}."""
    return learning_jobs.request_retrain(db, admin, client_ip(request))


@router.post(
    "/rollback",
    response_model=JobOut,
    status_code=202,
    responses={**QUEUE_ERRORS, 404: {"model": Detail, "description": "no such version"}},
)
def queue_rollback(*, body: Optional[RollbackIn] = None, request: Request, admin: AdminAgent, db: DbSession) -> dict:
    """Queue `make rollback [VERSION=…]`: Rasa loads that earlier model without a restart. 409 when there is
    nothing earlier, the version is already active, or it never served (a refused candidate)."""
    version = body.version if body else None
    return learning_jobs.request_rollback(db, admin, version, client_ip(request))


@router.get("/jobs", response_model=List[JobOut], responses=READ_ERRORS)
def list_jobs(*, limit: int = Query(20, ge=1, le=200), admin: AdminAgent, db: DbSession) -> list:
    """Latest first."""
    return learning_jobs.list_jobs(db, limit)


@router.get(
    "/jobs/{job_id}",
    response_model=JobOut,
    responses={**READ_ERRORS, 404: {"model": Detail, "description": "no such job"}},
)
def job_detail(*, job_id: int = Path(..., ge=1, le=MAX_ID), admin: AdminAgent, db: DbSession) -> dict:
    return learning_jobs.job_detail(db, job_id)


@router.post(
    "/jobs/{job_id}/cancel",
    response_model=JobOut,
    responses={
        403: {"model": Detail, "description": "not an admin, or the CSRF token is missing"},
        404: {"model": Detail, "description": "no such job"},
        409: {"model": Detail, "description": "the job is running or over: only a queued job can be cancelled"},
    },
)
def cancel_job(*, request: Request, job_id: int = Path(..., ge=1, le=MAX_ID), admin: AdminAgent, db: DbSession) -> dict:
    """Cancel a job no worker has taken yet (it ends as failed, saying so), e.g. when the worker is not running."""
    return learning_jobs.cancel(db, admin, job_id, client_ip(request))


@router.get("/models", response_model=List[ModelOut], responses=READ_ERRORS)
def list_models(*, admin: AdminAgent, db: DbSession) -> list:
    """The registry, newest first: every model, its status, data hash, the gate's metrics, who promoted it."""
    return learning_jobs.list_models(db)
