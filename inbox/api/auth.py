"""Log in (sets the session cookie), who am I, log out, and bearer tokens for scripts."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request, Response

from inbox.deps import CurrentPrincipal, DbSession, SettingsDep, client_ip
from inbox.schemas import (
    MAX_ID,
    ApiTokenIn,
    ApiTokenInfo,
    ApiTokenOut,
    Detail,
    LoginIn,
    PasswordChange,
    SessionOut,
)
from inbox.security import csrf_token
from inbox.services import agents, auth
from inbox.web.cookies import clear_session_cookie, set_session_cookie

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/login",
    response_model=SessionOut,
    responses={401: {"model": Detail}, 429: {"model": Detail, "description": "too many failed logins"}},
)
def login(
    body: LoginIn,
    request: Request,
    response: Response,
    db: DbSession,
    settings: SettingsDep,
) -> dict:
    """Check the password (rate-limited per email + IP); set the HttpOnly session cookie and return the
    CSRF token to send as X-CSRF-Token on state-changing requests."""
    result = auth.login(db, settings, body.email, body.password, client_ip(request))
    set_session_cookie(response, settings, result.token)
    return {"agent": agents.as_dict(result.agent), "csrf_token": csrf_token(settings.secret_key, result.token)}


@router.get("/me", response_model=SessionOut)
def me(*, principal: CurrentPrincipal, settings: SettingsDep) -> dict:
    return {"agent": agents.as_dict(principal.agent), "csrf_token": principal.csrf_token(settings)}


@router.post("/logout", status_code=204, response_class=Response)
def logout(
    *,
    request: Request,
    principal: CurrentPrincipal,
    db: DbSession,
) -> Response:
    auth.logout(db, principal.agent, principal.session, client_ip(request))
    response = Response(status_code=204)
    clear_session_cookie(response)
    return response


@router.post("/password", status_code=204, response_class=Response, responses={403: {"model": Detail}})
def change_password(*, body: PasswordChange, request: Request, principal: CurrentPrincipal, db: DbSession) -> Response:
    """Change your own password (the current one is required); your other sessions and API tokens end."""
    agents.change_own_password(
        db, principal.agent, principal.session.id, body.current_password, body.new_password, client_ip(request)
    )
    return Response(status_code=204)


@router.post("/tokens", response_model=ApiTokenOut, status_code=201)
def create_token(
    *,
    body: ApiTokenIn,
    request: Request,
    principal: CurrentPrincipal,
    db: DbSession,
    settings: SettingsDep,
) -> dict:
    """A bearer token acting as you, for scripts and integrations (no cookie, no CSRF)."""
    token, session = auth.create_api_token(db, settings, principal.agent, body.label, body.days, client_ip(request))
    return {**auth.token_dict(session), "token": token}


@router.get("/tokens", response_model=list[ApiTokenInfo])
def list_tokens(*, principal: CurrentPrincipal, db: DbSession) -> list:
    """Your unexpired API tokens (never the tokens themselves)."""
    return auth.list_api_tokens(db, principal.agent)


@router.delete("/tokens/{token_id}", status_code=204, response_class=Response, responses={404: {"model": Detail}})
def revoke_token(
    *, request: Request, token_id: int = Path(..., ge=1, le=MAX_ID), principal: CurrentPrincipal, db: DbSession
) -> Response:
    auth.revoke_api_token(db, principal.agent, token_id, client_ip(request))
    return Response(status_code=204)
