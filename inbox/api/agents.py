"""Agents: everyone may list names (to filter by assignee); only admins see emails and manage accounts."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request

from inbox.deps import AdminAgent, CurrentAgent, DbSession, client_ip
from inbox.schemas import MAX_ID, AgentBrief, AgentCreate, AgentOut, AgentUpdate, Detail
from inbox.services import agents

router = APIRouter(tags=["agents"])
ERRORS = {403: {"model": Detail}, 404: {"model": Detail}, 409: {"model": Detail}}


@router.get("/agents/directory", response_model=list[AgentBrief])
def directory(*, agent: CurrentAgent, db: DbSession) -> list:
    """Active agents' ids and names, for the assignee filter and the assign menu."""
    return [{"id": a.id, "name": a.name} for a in agents.list_agents(db, include_inactive=False)]


@router.get("/agents", response_model=list[AgentOut], responses=ERRORS)
def list_agents(*, admin: AdminAgent, db: DbSession) -> list:
    return [agents.as_dict(a) for a in agents.list_agents(db)]


@router.post("/agents", response_model=AgentOut, status_code=201, responses=ERRORS)
def create_agent(*, body: AgentCreate, request: Request, admin: AdminAgent, db: DbSession) -> dict:
    created = agents.create_agent(db, body.email, body.name, body.role, body.password, admin, client_ip(request))
    return agents.as_dict(created)


@router.patch("/agents/{agent_id}", response_model=AgentOut, responses=ERRORS)
def update_agent(
    *,
    body: AgentUpdate,
    request: Request,
    agent_id: int = Path(..., ge=1, le=MAX_ID),
    admin: AdminAgent,
    db: DbSession,
) -> dict:
    """Rename, change role, set a new password, or disable (`active: false` also ends their sessions)."""
    updated = agents.update_agent(
        db, admin, agent_id, body.name, body.role, body.active, body.password, client_ip(request)
    )
    return agents.as_dict(updated)
