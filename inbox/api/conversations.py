"""Conversations: the filtered list, one transcript, and the state changes (assign, take over, hand back,
resolve). Replies and notes have their own routers."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy.orm import Session

from inbox.deps import CurrentAgent, DbSession, RasaDep, SettingsDep, client_ip
from inbox.schemas import (
    MAX_ID,
    AssignIn,
    ConversationDetail,
    ConversationPage,
    ConversationSummary,
    Detail,
    MessageOut,
)
from inbox.services import conversations, handoff
from inbox.settings import Settings

router = APIRouter(prefix="/conversations", tags=["conversations"])
ConversationId = Path(..., min_length=1, max_length=255)
ERRORS = {404: {"model": Detail}, 409: {"model": Detail, "description": "wrong state"}}
RASA_ERRORS = {**ERRORS, 502: {"model": Detail, "description": "Rasa refused or did not answer; nothing changed"}}


@router.get("", response_model=ConversationPage)
def list_conversations(
    *,
    status: Optional[str] = Query(None, description="pending (bot), escalated, open (agent), resolved"),
    channel: Optional[str] = Query(None, max_length=40),
    sentiment: Optional[str] = Query(None, description="of the last customer message: negative, neutral, positive"),
    assignee: Optional[str] = Query(None, description="me, none or an agent id", max_length=20),
    q: Optional[str] = Query(None, max_length=200, description="search text, conversation id and customer id"),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=MAX_ID),
    agent: CurrentAgent,
    db: DbSession,
    settings: SettingsDep,
) -> dict:
    filters = conversations.ConversationFilter(status, channel, sentiment, assignee, q, limit, offset)
    items, total = conversations.list_conversations(db, settings, agent, filters)
    return {"total": total, "items": items, "channels": conversations.channels(db)}


@router.get("/{conversation_id}", response_model=ConversationDetail, responses={404: {"model": Detail}})
def get_conversation(
    *,
    conversation_id: str = ConversationId,
    agent: CurrentAgent,
    db: DbSession,
    settings: SettingsDep,
) -> dict:
    return conversations.conversation_detail(db, settings, conversation_id)


@router.get("/{conversation_id}/messages", response_model=list[MessageOut], responses={404: {"model": Detail}})
def list_messages(
    *,
    conversation_id: str = ConversationId,
    after_id: int = Query(0, ge=0, le=MAX_ID, description="only messages with a larger id (for catching up)"),
    limit: int = Query(200, ge=1, le=1000),
    agent: CurrentAgent,
    db: DbSession,
) -> list:
    return conversations.messages_after(db, conversation_id, after_id, limit)


def _summary(db: Session, settings: Settings, conversation_id: str) -> dict:
    return conversations.summaries(db, settings, [conversations.get_conversation(db, conversation_id)])[0]


@router.post(
    "/{conversation_id}/assign", response_model=ConversationSummary, responses={**ERRORS, 403: {"model": Detail}}
)
def assign(
    *,
    body: AssignIn,
    request: Request,
    conversation_id: str = ConversationId,
    agent: CurrentAgent,
    db: DbSession,
    settings: SettingsDep,
) -> dict:
    """Admins assign to anyone (or null); agents only to themselves."""
    handoff.assign(db, agent, conversation_id, body.agent_id, client_ip(request))
    return _summary(db, settings, conversation_id)


@router.post("/{conversation_id}/take-over", response_model=ConversationSummary, responses=RASA_ERRORS)
def take_over(
    *,
    request: Request,
    conversation_id: str = ConversationId,
    agent: CurrentAgent,
    db: DbSession,
    rasa: RasaDep,
    settings: SettingsDep,
) -> dict:
    """Assign to me and pause the bot (Rasa `pause` event)."""
    handoff.take_over(db, rasa, agent, conversation_id, client_ip(request))
    return _summary(db, settings, conversation_id)


@router.post("/{conversation_id}/hand-back", response_model=ConversationSummary, responses=RASA_ERRORS)
def hand_back(
    *,
    request: Request,
    conversation_id: str = ConversationId,
    agent: CurrentAgent,
    db: DbSession,
    rasa: RasaDep,
    settings: SettingsDep,
) -> dict:
    """Resume the bot (Rasa `resume` event) and close the escalation as handed back."""
    handoff.hand_back(db, rasa, agent, conversation_id, client_ip(request))
    return _summary(db, settings, conversation_id)


@router.post("/{conversation_id}/resolve", response_model=ConversationSummary, responses=RASA_ERRORS)
def resolve(
    *,
    request: Request,
    conversation_id: str = ConversationId,
    agent: CurrentAgent,
    db: DbSession,
    rasa: RasaDep,
    settings: SettingsDep,
) -> dict:
    """Close the conversation and its escalations; a paused bot is resumed for the customer's next message."""
    handoff.resolve(db, rasa, agent, conversation_id, client_ip(request))
    return _summary(db, settings, conversation_id)
