"""The review queue: customer messages worth a person's label, and the annotations (docs/learning.md).
Agents read and annotate; admins also undo annotations and accept the model's labels in bulk."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Optional

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field, conint, constr

from inbox.deps import AdminAgent, CurrentAgent, DbSession, RasaDep, SettingsDep, client_ip
from inbox.schemas import MAX_ID, Detail
from inbox.services import review
from learning.annotations import MAX_BULK, SENTIMENTS, VERDICTS
from learning.review_queue import REASONS, WEIGHTS

router = APIRouter(prefix="/review", tags=["review"])
ERRORS: Dict[int | str, Dict[str, Any]] = {
    403: {"model": Detail},
    404: {"model": Detail, "description": "no such message or annotation"},
}
WRITE_ERRORS: Dict[int | str, Dict[str, Any]] = {
    **ERRORS,
    409: {"model": Detail, "description": "already annotated (or already undone)"},
}
Id = conint(ge=1, le=MAX_ID)


class EntityIn(BaseModel):
    entity: constr(min_length=1, max_length=80)  # type: ignore[valid-type]
    value: constr(min_length=1, max_length=4000)  # type: ignore[valid-type]
    start: conint(ge=0, le=100_000)  # type: ignore[valid-type]
    end: conint(ge=1, le=100_000)  # type: ignore[valid-type]


class AnnotationIn(BaseModel):
    intent: constr(strip_whitespace=True, min_length=1, max_length=80)  # type: ignore[valid-type]
    entities: List[EntityIn] = Field(default_factory=list, max_items=50)
    sentiment: Optional[str] = Field(None, description=f"{', '.join(SENTIMENTS)}, or null to keep the model's")
    reply_verdict: Optional[str] = Field(None, description=f"{', '.join(VERDICTS)}, or null")


class BulkAcceptIn(BaseModel):
    message_ids: List[Id] = Field(..., min_items=1, max_items=MAX_BULK)  # type: ignore[valid-type]


class Reason(BaseModel):
    reason: str
    weight: int
    why: str


class ReviewMessage(BaseModel):
    id: int
    conversation_id: str
    channel: str
    author: str
    agent_name: Optional[str]
    text: Optional[str]
    intent: Optional[str]
    confidence: Optional[float]
    entities: Optional[List[Dict[str, Any]]]
    sentiment: Optional[Dict[str, Any]]
    answer_source: Optional[str]
    sent_at: datetime


class QueueItem(ReviewMessage):
    score: int
    reasons: List[Reason]


class QueueOut(BaseModel):
    total: int
    items: List[QueueItem]


class AgentRef(BaseModel):
    id: int
    name: Optional[str]


class AnnotationOut(BaseModel):
    id: int
    message_id: int
    annotator: AgentRef
    created_at: datetime
    original: Dict[str, Any] = Field(..., description="the model's label as logged: intent, confidence, sentiment")
    intent: str
    entities: List[Dict[str, Any]]
    sentiment: Optional[str]
    reply_verdict: Optional[str]
    status: str
    bulk: bool
    undone_by: Optional[AgentRef]
    undone_at: Optional[datetime]


class Context(BaseModel):
    before: List[ReviewMessage]
    after: List[ReviewMessage]


class OfferedIntent(BaseModel):
    intent: str
    confidence: Optional[float]
    source: str = Field(..., description="model: Rasa's parse now; log: the intent as logged (Rasa did not answer)")


class MessageDetailOut(BaseModel):
    message: ReviewMessage
    reasons: List[Reason]
    replies: List[ReviewMessage]
    context: Context
    offered_intents: List[OfferedIntent]
    all_intents: List[str]
    all_entities: List[str]
    annotation: Optional[AnnotationOut]


class Skipped(BaseModel):
    message_id: int
    reason: str


class BulkAcceptOut(BaseModel):
    accepted: List[AnnotationOut]
    skipped: List[Skipped]


REASON_HELP = "only messages with this reason: " + ", ".join(f"{r} ({WEIGHTS[r]})" for r in REASONS)


@router.get("/queue", response_model=QueueOut, responses=ERRORS)
def review_queue(
    *,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000),
    reason: Optional[str] = Query(None, description=REASON_HELP),
    agent: CurrentAgent,
    db: DbSession,
    settings: SettingsDep,
) -> dict:
    """Unannotated customer messages, best teachers first (score = the sum of the reasons' weights; ties:
    newest first)."""
    return review.queue(db, settings.review_confidence_floor, limit, offset, reason)


@router.get("/messages/{message_id}", response_model=MessageDetailOut, responses=ERRORS)
def review_message(
    *,
    message_id: int = Path(..., ge=1, le=MAX_ID),
    agent: CurrentAgent,
    db: DbSession,
    rasa: RasaDep,
    settings: SettingsDep,
) -> dict:
    """The message, why it is in the queue, the conversation around it, and the intents to offer."""
    return review.message_detail(db, rasa, message_id, settings.review_confidence_floor)


@router.post("/messages/{message_id}/annotation", response_model=AnnotationOut, status_code=201, responses=WRITE_ERRORS)
def annotate_message(
    *,
    body: AnnotationIn,
    request: Request,
    message_id: int = Path(..., ge=1, le=MAX_ID),
    agent: CurrentAgent,
    db: DbSession,
) -> dict:
    """Label the message; the interaction log itself is not changed."""
    return review.annotate(db, agent, message_id, body.dict(), client_ip(request))


@router.delete("/annotations/{annotation_id}", response_model=AnnotationOut, responses=WRITE_ERRORS)
def undo_annotation(
    *,
    request: Request,
    annotation_id: int = Path(..., ge=1, le=MAX_ID),
    admin: AdminAgent,
    db: DbSession,
) -> dict:
    """Admins only: the annotation is kept as undone and the message returns to the queue."""
    return review.undo(db, admin, annotation_id, client_ip(request))


@router.post("/bulk-accept", response_model=BulkAcceptOut, responses=ERRORS)
def bulk_accept(*, body: BulkAcceptIn, request: Request, admin: AdminAgent, db: DbSession) -> dict:
    """Admins only: accept the model's own logged labels for these messages; messages already annotated
    or without a learnable label are skipped, each with its reason."""
    return review.bulk_accept(db, admin, body.message_ids, client_ip(request))


@router.get("/annotations", response_model=List[AnnotationOut], responses=ERRORS)
def list_annotations(
    *,
    status: str = Query("active", regex="^(active|undone|all)$"),
    message_id: Optional[int] = Query(None, ge=1, le=MAX_ID),
    annotator_id: Optional[int] = Query(None, ge=1, le=MAX_ID),
    limit: int = Query(100, ge=1, le=1000),
    agent: CurrentAgent,
    db: DbSession,
) -> list:
    """Newest first."""
    return review.list_annotations(db, None if status == "all" else status, message_id, annotator_id, limit)
