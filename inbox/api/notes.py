"""Internal notes: private to the team, never sent to the customer."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request

from inbox.deps import CurrentAgent, DbSession, client_ip
from inbox.schemas import Detail, NoteIn, NoteOut
from inbox.services import conversations, handoff

router = APIRouter(prefix="/conversations", tags=["notes"])
ConversationId = Path(..., min_length=1, max_length=255)


@router.get("/{conversation_id}/notes", response_model=list[NoteOut], responses={404: {"model": Detail}})
def list_notes(*, conversation_id: str = ConversationId, agent: CurrentAgent, db: DbSession) -> list:
    conversations.get_conversation_exists(db, conversation_id)
    return conversations.list_notes(db, conversation_id)


@router.post("/{conversation_id}/notes", response_model=NoteOut, status_code=201, responses={404: {"model": Detail}})
def add_note(
    *,
    body: NoteIn,
    request: Request,
    conversation_id: str = ConversationId,
    agent: CurrentAgent,
    db: DbSession,
) -> dict:
    return handoff.add_note(db, agent, conversation_id, body.body, client_ip(request))
