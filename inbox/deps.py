"""Request dependencies: settings, a DB session, the Rasa client, and who is asking (with CSRF and roles).

Authentication and CSRF live here, once: a route that takes `current_agent` is protected, one that takes
`require_admin` is admin-only, and the tests find both by walking the app's routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Iterator, Optional

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from inbox.errors import InvalidInput, NotAuthenticated, PermissionDenied
from inbox.rasa_client import RasaClient
from inbox.security import csrf_token, tokens_match
from inbox.services import auth
from inbox.settings import Settings
from storage.engine import get_engine
from storage.models import Agent, AgentSession

SESSION_COOKIE = "coverline_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def reject_nul_characters(request: Request) -> None:
    """NUL is never meaningful in an inbox request, and PostgreSQL refuses it in text (a 500 otherwise):
    refuse it up front in the path, the query string, JSON and form bodies (raw NULs already fail JSON parsing)."""
    if "\x00" in request.url.path or b"%00" in request.scope.get("query_string", b""):
        raise InvalidInput("NUL characters are not allowed in the URL.")
    if request.method in SAFE_METHODS:
        return
    if "form" in request.headers.get("content-type", ""):
        # FastAPI has already parsed the form (the stream is consumed); the parsed form is cached.
        has_nul = any("\x00" in str(value) for value in (await request.form()).values())
    else:
        has_nul = b"\\u0000" in await request.body()
    if has_nul:
        raise InvalidInput("NUL characters are not allowed in the request body.")


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(settings: Annotated[Settings, Depends(get_settings)]) -> Iterator[Session]:
    """One short session per request; services commit what they change, anything else is rolled back."""
    session = Session(bind=get_engine(settings.database_url), future=True, expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbSession = Annotated[Session, Depends(get_db)]


def get_rasa(request: Request) -> RasaClient:
    return request.app.state.rasa


RasaDep = Annotated[RasaClient, Depends(get_rasa)]


def client_ip(request: Request) -> str:
    """The peer address; behind a proxy start uvicorn with --proxy-headers so this is the customer's."""
    return request.client.host if request.client else "unknown"


@dataclass
class Principal:
    agent: Agent
    session: AgentSession
    via: str  # cookie or bearer
    token: str

    def csrf_token(self, settings: Settings) -> Optional[str]:
        return csrf_token(settings.secret_key, self.token) if self.via == "cookie" else None


def _bearer(request: Request) -> Optional[str]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def current_principal(request: Request, db: DbSession, settings: SettingsDep) -> Principal:
    """Bearer API token, or the session cookie; a cookie-authenticated state change must carry the
    session's CSRF token in X-CSRF-Token (another site can make the browser send the cookie, not the header)."""
    bearer = _bearer(request)
    if bearer:
        agent, session = auth.authenticate(db, bearer, kind="api")
        return Principal(agent, session, "bearer", bearer)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise NotAuthenticated("Log in first (no session cookie or bearer token).")
    agent, session = auth.authenticate(db, cookie, kind="browser")
    principal = Principal(agent, session, "cookie", cookie)
    if request.method not in SAFE_METHODS:
        expected = csrf_token(settings.secret_key, cookie)
        if not tokens_match(expected, request.headers.get(CSRF_HEADER)):
            raise PermissionDenied("CSRF token missing or wrong: send the X-CSRF-Token header from /api/auth/me.")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def current_agent(principal: CurrentPrincipal) -> Agent:
    return principal.agent


CurrentAgent = Annotated[Agent, Depends(current_agent)]


def require_admin(agent: CurrentAgent) -> Agent:
    if agent.role != "admin":
        raise PermissionDenied("Only admins can do this.")
    return agent


AdminAgent = Annotated[Agent, Depends(require_admin)]
