"""Agents: created by an admin (or the create-admin command), never deleted, only disabled."""

from __future__ import annotations

import re
import secrets
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inbox.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from inbox.security import hash_password, verify_password
from inbox.services import audit
from inbox.services.auth import normalise_email
from inbox.services.common import aware
from storage.models import Agent, AgentSession

ROLES = ("agent", "admin")
MIN_PASSWORD_LENGTH = 10
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DEMO_AGENTS = (
    ("admin@harbor.example", "Ada Admin", "admin"),
    ("agent@harbor.example", "Sam Agent", "agent"),
)


def as_dict(agent: Agent) -> Dict[str, Any]:
    return {
        "id": agent.id,
        "email": agent.email,
        "name": agent.name,
        "role": agent.role,
        "active": agent.active,
        "created_at": aware(agent.created_at),
        "last_login_at": aware(agent.last_login_at),
    }


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"The password needs at least {MIN_PASSWORD_LENGTH} characters.")


def create_agent(
    db: Session,
    email: str,
    name: str,
    role: str,
    password: str,
    created_by: Optional[Agent] = None,
    ip: Optional[str] = None,
) -> Agent:
    email = normalise_email(email)
    if not EMAIL_PATTERN.match(email):
        raise InvalidInput(f"{email!r} is not an email address.")
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    if not name.strip():
        raise InvalidInput("name must not be empty")
    validate_password(password)
    if db.scalar(select(Agent.id).where(Agent.email == email)) is not None:
        raise Conflict(f"An agent with email {email} already exists.")
    agent = Agent(email=email, name=name.strip(), role=role, password_hash=hash_password(password), active=True)
    db.add(agent)
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError as error:
        raise Conflict(f"An agent with email {email} already exists.") from error
    audit.record(
        db,
        "agent_created",
        agent_id=created_by.id if created_by else None,
        target_agent_id=agent.id,
        detail={"email": email, "role": role},
        ip=ip,
    )
    db.commit()
    return agent


def get_agent(db: Session, agent_id: int) -> Agent:
    agent = db.get(Agent, agent_id)
    if agent is None:
        raise NotFound(f"Agent {agent_id} not found.")
    return agent


def list_agents(db: Session, include_inactive: bool = True) -> List[Agent]:
    query = select(Agent).order_by(Agent.name, Agent.id)
    if not include_inactive:
        query = query.where(Agent.active.is_(True))
    return list(db.scalars(query))


def update_agent(
    db: Session,
    actor: Agent,
    agent_id: int,
    name: Optional[str] = None,
    role: Optional[str] = None,
    active: Optional[bool] = None,
    password: Optional[str] = None,
    ip: Optional[str] = None,
) -> Agent:
    """Admins edit agents; nobody can demote or disable themselves, so an inbox never loses its last admin."""
    agent = get_agent(db, agent_id)
    changes: Dict[str, Any] = {}
    if agent.id == actor.id and (role not in (None, agent.role) or active is False):
        raise Conflict("You cannot demote or disable yourself; ask another admin.")
    if name is not None:
        if not name.strip():
            raise InvalidInput("name must not be empty")
        agent.name = name.strip()
        changes["name"] = agent.name
    if role is not None and role != agent.role:
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
        agent.role = role
        changes["role"] = role
    if password is not None:
        validate_password(password)
        agent.password_hash = hash_password(password)
        changes["password"] = "changed"
        db.execute(delete(AgentSession).where(AgentSession.agent_id == agent.id))
    if active is not None and active != agent.active:
        agent.active = active
        changes["active"] = active
        if not active:
            db.execute(delete(AgentSession).where(AgentSession.agent_id == agent.id))
    action = "agent_disabled" if changes.get("active") is False else "agent_updated"
    audit.record(db, action, agent_id=actor.id, target_agent_id=agent.id, detail=changes, ip=ip)
    db.commit()
    return agent


def set_password(db: Session, email: str, password: str) -> Agent:
    """The command line's password reset (for an admin locked out of the inbox)."""
    agent = db.scalar(select(Agent).where(Agent.email == normalise_email(email)))
    if agent is None:
        raise NotFound(f"No agent with email {email}.")
    validate_password(password)
    agent.password_hash = hash_password(password)
    agent.active = True
    db.execute(delete(AgentSession).where(AgentSession.agent_id == agent.id))
    audit.record(db, "agent_updated", target_agent_id=agent.id, detail={"password": "reset from the command line"})
    db.commit()
    return agent


def change_own_password(
    db: Session, agent: Agent, current_session_id: int, current: str, new: str, ip: Optional[str]
) -> None:
    """An agent replaces their password (the demo passwords, a temporary one from an admin). The current
    password is required, so a borrowed unlocked browser cannot lock the owner out; every other session
    and API token of theirs ends."""
    if not verify_password(current, agent.password_hash):
        raise PermissionDenied("The current password is wrong.")
    if new == current:
        raise InvalidInput("The new password is the same as the current one.")
    validate_password(new)
    agent.password_hash = hash_password(new)
    db.execute(delete(AgentSession).where(AgentSession.agent_id == agent.id, AgentSession.id != current_session_id))
    audit.record(db, "password_changed", agent_id=agent.id, ip=ip)
    db.commit()


def seed_demo_agents(db: Session) -> List[Tuple[str, str, str]]:
    """On an empty agents table only: the demo admin and agent with fresh random passwords, returned once
    as (email, role, password) so `make run` can show them; never touches an inbox that has agents."""
    if db.scalar(select(func.count(Agent.id))):
        return []
    created = []
    for email, name, role in DEMO_AGENTS:
        password = secrets.token_urlsafe(12)
        create_agent(db, email, name, role, password)
        created.append((email, role, password))
    db.commit()
    return created
