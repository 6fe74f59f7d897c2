"""Logging in and out, sessions and API tokens, and the SQL-backed login rate limit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from inbox.errors import InvalidCredentials, LoginThrottled, NotAuthenticated, NotFound
from inbox.security import burn_password_check, new_token, token_hash, verify_password
from inbox.services import audit
from inbox.services.common import aware
from inbox.settings import Settings
from storage.models import Agent, AgentSession, LoginAttempt, utcnow

ATTEMPT_RETENTION = timedelta(days=1)
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


@dataclass
class Login:
    agent: Agent
    token: str
    session: AgentSession


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _failures_since(
    db: Session, since: datetime, ip: str, email: Optional[str] = None
) -> Tuple[int, Optional[datetime]]:
    """Failed attempts after `since` (and after the last success for this email+ip), and the oldest one."""
    query = select(func.count(LoginAttempt.id), func.min(LoginAttempt.attempted_at)).where(
        LoginAttempt.ip == ip, LoginAttempt.succeeded.is_(False), LoginAttempt.attempted_at > since
    )
    if email is not None:
        last_success = db.scalar(
            select(func.max(LoginAttempt.attempted_at)).where(
                LoginAttempt.ip == ip, LoginAttempt.email == email, LoginAttempt.succeeded.is_(True)
            )
        )
        query = query.where(LoginAttempt.email == email)
        if last_success is not None and last_success > since:
            query = query.where(LoginAttempt.attempted_at > last_success)
    count, oldest = db.execute(query).one()
    return int(count or 0), oldest


def check_rate_limit(db: Session, settings: Settings, email: str, ip: str) -> None:
    """5 failures per email+IP (and 50 per IP, against spraying many emails) in 15 minutes lock further
    tries until the oldest failure leaves the window. Counted in SQL so every inbox process agrees."""
    window = timedelta(minutes=settings.login_window_minutes)
    now = utcnow()
    for limit, key_email in ((settings.login_max_failures, email), (settings.login_max_failures_per_ip, None)):
        count, oldest = _failures_since(db, now - window, ip, key_email)
        if count >= limit:
            retry = int(((oldest or now) + window - now).total_seconds()) + 1
            raise LoginThrottled(
                f"Too many failed logins; try again in {max(retry, 1) // 60 + 1} minutes.", max(retry, 1)
            )


def login(db: Session, settings: Settings, email: str, password: str, ip: str, kind: str = "browser") -> Login:
    """Check the rate limit, then the password; record the attempt and audit it either way."""
    email = normalise_email(email)
    check_rate_limit(db, settings, email, ip)
    agent = db.scalar(select(Agent).where(Agent.email == email))
    if agent is None:
        burn_password_check(password)
    ok = agent is not None and verify_password(password, agent.password_hash) and bool(agent.active)
    db.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at < utcnow() - ATTEMPT_RETENTION))
    db.execute(delete(AgentSession).where(AgentSession.expires_at < utcnow()))  # housekeeping, cheap here
    db.add(LoginAttempt(email=email, ip=ip, succeeded=ok, attempted_at=utcnow()))
    if not ok:
        audit.record(db, "login_failed", agent_id=agent.id if agent else None, detail={"email": email}, ip=ip)
        db.commit()
        raise InvalidCredentials("Wrong email or password.")
    assert agent is not None
    token, session = create_session(db, settings, agent, ip=ip, kind=kind)
    agent.last_login_at = utcnow()
    audit.record(db, "login", agent_id=agent.id, ip=ip)
    db.commit()
    return Login(agent=agent, token=token, session=session)


def create_session(
    db: Session,
    settings: Settings,
    agent: Agent,
    ip: Optional[str] = None,
    kind: str = "browser",
    label: Optional[str] = None,
    lifetime: Optional[timedelta] = None,
) -> Tuple[str, AgentSession]:
    token = new_token()
    now = utcnow()
    session = AgentSession(
        token_hash=token_hash(token),
        agent_id=agent.id,
        kind=kind,
        label=label,
        created_at=now,
        expires_at=now + (lifetime or timedelta(hours=settings.session_hours)),
        last_seen_at=now,
        ip=ip,
    )
    db.add(session)
    db.flush()
    return token, session


def authenticate(db: Session, token: str, kind: str) -> Tuple[Agent, AgentSession]:
    """The agent behind a session cookie (kind browser) or bearer token (kind api); 401 otherwise."""
    row = db.execute(
        select(AgentSession, Agent)
        .join(Agent, Agent.id == AgentSession.agent_id)
        .where(AgentSession.token_hash == token_hash(token), AgentSession.kind == kind)
    ).first()
    if row is None:
        raise NotAuthenticated("Not logged in (unknown or expired session).")
    session, agent = row
    now = utcnow()
    if session.expires_at <= now or not agent.active:
        raise NotAuthenticated("Not logged in (session expired or account disabled).")
    if session.last_seen_at is None or now - session.last_seen_at > LAST_SEEN_RESOLUTION:
        session.last_seen_at = now  # written at most once a minute: reads stay cheap
        db.commit()
    return agent, session


def logout(db: Session, agent: Agent, session: AgentSession, ip: Optional[str]) -> None:
    db.delete(session)
    audit.record(db, "logout", agent_id=agent.id, ip=ip)
    db.commit()


def create_api_token(
    db: Session, settings: Settings, agent: Agent, label: str, days: int, ip: Optional[str]
) -> Tuple[str, AgentSession]:
    """A bearer token for scripts and integrations; shown once, stored hashed, acts as `agent`."""
    token, session = create_session(db, settings, agent, ip=ip, kind="api", label=label, lifetime=timedelta(days=days))
    audit.record(
        db, "api_token_created", agent_id=agent.id, detail={"id": session.id, "label": label, "days": days}, ip=ip
    )
    db.commit()
    return token, session


def token_dict(session: AgentSession) -> Dict[str, Any]:
    return {
        "id": session.id,
        "label": session.label,
        "created_at": aware(session.created_at),
        "expires_at": aware(session.expires_at),
        "last_seen_at": aware(session.last_seen_at),
    }


def list_api_tokens(db: Session, agent: Agent) -> List[Dict[str, Any]]:
    rows = db.scalars(
        select(AgentSession)
        .where(AgentSession.agent_id == agent.id, AgentSession.kind == "api", AgentSession.expires_at > utcnow())
        .order_by(AgentSession.id)
    )
    return [token_dict(row) for row in rows]


def revoke_api_token(db: Session, agent: Agent, token_id: int, ip: Optional[str]) -> None:
    """Agents revoke their own tokens (a disabled agent's tokens die with their sessions)."""
    session = db.get(AgentSession, token_id)
    if session is None or session.kind != "api" or session.agent_id != agent.id:
        raise NotFound(f"API token {token_id} not found.")
    db.delete(session)
    audit.record(db, "api_token_revoked", agent_id=agent.id, detail={"id": token_id, "label": session.label}, ip=ip)
    db.commit()
