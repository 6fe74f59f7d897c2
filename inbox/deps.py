"""Request dependencies: settings, a DB session, the Rasa client, and who is asking (with CSRF and roles).

Authentication and CSRF live here, once: a route that takes `current_agent` is protected, one that takes
`require_admin` is admin-only, and the tests find both by walking the app's routes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Iterator, Optional

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


def text_problem(value: Any) -> Optional[str]:
    """Why a decoded JSON value holds something that is not storable text, or None.

    Python's json module accepts `\\u0000` and lone surrogate escapes (`"\\ud800"` without its pair): the
    result is a str that PostgreSQL refuses (NUL), that SQLite and every `.encode("utf-8")` refuse (a
    surrogate), far from the request that carried it, as a 500. Walked without recursion: nesting is the
    client's choice."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "NUL characters are not allowed in the request body."
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return (
                    "The request body holds a lone surrogate (a \\ud800-\\udfff escape without its pair), "
                    "which is not text; send characters outside the BMP as a surrogate pair or as UTF-8."
                )
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


async def reject_malformed_text(request: Request) -> None:
    """The one door for text every route stores or hashes: NUL in the URL or a body, a body that is not
    UTF-8, lone surrogates. Starlette decodes JSON as `json.loads(bytes)`, which also takes UTF-16/32 and
    passes surrogates through (`surrogatepass`), so the body is read again here, strictly, before any
    route runs (FastAPI has already refused what is not JSON at all)."""
    if "\x00" in request.url.path or b"%00" in request.scope.get("query_string", b""):
        raise InvalidInput("NUL characters are not allowed in the URL.")
    if request.method in SAFE_METHODS:
        return
    if "form" in request.headers.get("content-type", ""):
        # FastAPI has already parsed the form (the stream is consumed; the parsed form is cached). Form
        # decoding replaces what is not UTF-8, so only NUL can get through.
        problem = text_problem([str(value) for value in (await request.form()).values()])
    else:
        body = await request.body()
        if not body:
            return
        try:
            text = body.decode("utf-8")  # strict: refuses UTF-8-encoded surrogates too
        except UnicodeDecodeError as error:
            raise InvalidInput(f"The request body is not UTF-8 (byte {error.start}); JSON must be.") from error
        try:
            decoded = json.loads(text)
        except (ValueError, RecursionError):
            return  # not JSON: the route's own validation says so (or it reads no body)
        problem = text_problem(decoded)
    if problem:
        raise InvalidInput(problem)


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
