"""Harvested agents' replies (docs/learning.md, "Harvesting agents' replies"): proposals made when a
handoff is resolved, approved (possibly edited) or rejected by an agent, and the past replies customers'
👎 demoted or retired. Every decision is audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Optional

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field, StrictStr, constr

from inbox.deps import CurrentAgent, DbSession, client_ip
from inbox.schemas import MAX_ID, Detail
from inbox.services import harvest
from learning.harvest import MAX_QUESTION, MAX_REPLY, PRODUCT_LINES, STATUSES

router = APIRouter(prefix="/harvest", tags=["harvest"])
ERRORS: Dict[int | str, Dict[str, Any]] = {403: {"model": Detail}, 404: {"model": Detail}}
WRITE_ERRORS: Dict[int | str, Dict[str, Any]] = {
    **ERRORS,
    409: {"model": Detail, "description": "already approved or rejected"},
    422: {"model": Detail, "description": "an empty or too long edit, an unknown product line"},
}


class AgentRef(BaseModel):
    id: int
    name: Optional[str]


class ProposalOut(BaseModel):
    id: int
    conversation_id: str
    escalation_id: int
    question: str = Field(..., description="redacted")
    reply: str = Field(..., description="redacted")
    product_line: Optional[str]
    source_message_ids: Dict[str, List[int]]
    status: str
    edited: bool
    decided_by: Optional[AgentRef]
    decided_at: Optional[datetime]
    past_reply_id: Optional[int]
    created_at: datetime


EditedQuestion = constr(strict=True, max_length=MAX_QUESTION)
EditedReply = constr(strict=True, max_length=MAX_REPLY)


class ApproveIn(BaseModel):
    question: Optional[EditedQuestion] = Field(None, description="an edited question (redacted again)")  # type: ignore[valid-type]
    reply: Optional[EditedReply] = Field(None, description="an edited reply (redacted again)")  # type: ignore[valid-type]
    product_line: Optional[StrictStr] = Field(None, description=", ".join(sorted(PRODUCT_LINES)))


class DemotedOut(BaseModel):
    past_reply_id: int
    external_id: str
    question: str
    reply: str
    product_line: Optional[str]
    source: str
    state: str = Field(..., description="demoted (ranked lower) or retired (no longer answered)")
    demoted_at: Optional[datetime]
    retired_at: Optional[datetime]
    helpful: int
    not_helpful: int
    recent_not_helpful: int
    recent_total: int
    window: int


@router.get("/proposals", response_model=List[ProposalOut], responses=ERRORS)
def list_proposals(
    *,
    status: Optional[str] = Query("proposed", description=f"{', '.join(STATUSES)} or all"),
    limit: int = Query(100, ge=1, le=1000),
    agent: CurrentAgent,
    db: DbSession,
) -> list:
    """Newest first."""
    return harvest.list_proposals(db, None if status == "all" else status, limit)


@router.post("/proposals/{proposal_id}/approve", response_model=ProposalOut, responses=WRITE_ERRORS)
def approve(
    *,
    request: Request,
    body: Optional[ApproveIn] = None,
    proposal_id: int = Path(..., ge=1, le=MAX_ID),
    agent: CurrentAgent,
    db: DbSession,
) -> dict:
    """The question and reply (as proposed, or as edited here) become a past reply the bot answers from
    within RETRIEVAL_REFRESH_SECONDS, without a rebuild."""
    edits = body or ApproveIn()
    return harvest.approve(db, agent, proposal_id, edits.question, edits.reply, edits.product_line, client_ip(request))


@router.post("/proposals/{proposal_id}/reject", response_model=ProposalOut, responses=WRITE_ERRORS)
def reject(
    *,
    request: Request,
    proposal_id: int = Path(..., ge=1, le=MAX_ID),
    agent: CurrentAgent,
    db: DbSession,
) -> dict:
    return harvest.reject(db, agent, proposal_id, client_ip(request))


@router.get("/demoted", response_model=List[DemotedOut], responses=ERRORS)
def demoted(*, agent: CurrentAgent, db: DbSession) -> list:
    """Past replies customers' 👎 demoted or retired, with their feedback counts."""
    return harvest.demoted(db)
