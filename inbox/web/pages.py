"""HTML pages. Each reads through the same services as the JSON API; the inbox page then works through
the API from JavaScript (fetch + EventSource)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Optional
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi import Path as PathParameter
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from conversations.status import Status
from inbox.deps import AdminAgent, CurrentPrincipal, DbSession, Principal, SettingsDep, client_ip
from inbox.errors import InvalidCredentials, LoginThrottled
from inbox.schemas import MAX_ID
from inbox.security import tokens_match
from inbox.services import audit, auth
from inbox.services.content_preview import CHANNELS
from inbox.settings import Settings
from inbox.web.cookies import LOGIN_CSRF_COOKIE, set_session_cookie
from learning.review_queue import REASONS
from recommendations import vocabulary

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(include_in_schema=False)

STATUSES = [status.value for status in Status]  # the list's filter, in the lifecycle's order
CONTENT_VOCABULARY = {  # the content form's choices: the words the importer accepts
    "categories": vocabulary.CATEGORIES,
    "product_lines": vocabulary.PRODUCT_LINES,
    "life_events": vocabulary.LIFE_EVENTS,
    "claim_stages": vocabulary.CLAIM_STAGES,
    "incident_types": vocabulary.INCIDENT_TYPES,
    "offerable": vocabulary.OFFERABLE,
}


def safe_next(target: Optional[str]) -> str:
    """Only local paths after login: an open redirect would let a phishing link land on any site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _page(request: Request, name: str, principal: Principal, settings: Settings, **context: object) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request,
        name,
        {"agent": principal.agent, "csrf_token": principal.csrf_token(settings), **context},
    )


def _login_page(request: Request, next_url: str, error: Optional[str] = None, status_code: int = 200) -> HTMLResponse:
    """The login form carries a double-submit token: a random value in a cookie and in the form must match,
    which another site cannot arrange (login CSRF)."""
    token = secrets.token_urlsafe(24)
    response = TEMPLATES.TemplateResponse(
        request, "login.html", {"login_token": token, "next": next_url, "error": error}, status_code=status_code
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", max_age=3600, path="/login")
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(*, request: Request, next: Optional[str] = None) -> HTMLResponse:
    return _login_page(request, safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    *,
    request: Request,
    email: str = Form("", max_length=254),
    password: str = Form("", max_length=1024),
    login_token: str = Form("", max_length=100),
    next: str = Form("/", max_length=500),
    db: DbSession,
    settings: SettingsDep,
) -> Response:
    target = safe_next(next)
    if not tokens_match(request.cookies.get(LOGIN_CSRF_COOKIE, ""), login_token):
        return _login_page(request, target, "The form expired; please try again.", 403)
    try:
        result = auth.login(db, settings, email, password, client_ip(request))
    except LoginThrottled as error:
        response = _login_page(request, target, error.message, 429)
        response.headers["Retry-After"] = str(error.retry_after_seconds)
        return response
    except InvalidCredentials as error:
        return _login_page(request, target, error.message, 401)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, settings, result.token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.get("/", response_class=HTMLResponse)
def inbox_page(*, request: Request, principal: CurrentPrincipal, settings: SettingsDep) -> HTMLResponse:
    return _page(request, "inbox.html", principal, settings, selected=None, statuses=STATUSES)


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
def conversation_page(
    *,
    request: Request,
    conversation_id: str,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> HTMLResponse:
    return _page(request, "inbox.html", principal, settings, selected=conversation_id, statuses=STATUSES)


@router.get("/account", response_class=HTMLResponse)
def account_page(*, request: Request, principal: CurrentPrincipal, settings: SettingsDep) -> HTMLResponse:
    return _page(request, "account.html", principal, settings)


@router.get("/review", response_class=HTMLResponse)
def review_page(*, request: Request, principal: CurrentPrincipal, settings: SettingsDep) -> HTMLResponse:
    """The review queue, keyboard first: agents annotate, admins also undo and bulk-accept (docs/learning.md)."""
    return _page(request, "review.html", principal, settings, reasons=REASONS)


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(*, request: Request, principal: CurrentPrincipal, settings: SettingsDep) -> HTMLResponse:
    """Spike alerts: the list, one alert with the messages behind it, acknowledge / resolve (docs/alerts.md)."""
    return _page(request, "alerts.html", principal, settings, selected_alert=None)


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(
    *,
    request: Request,
    alert_id: int = PathParameter(..., ge=1, le=MAX_ID),
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> HTMLResponse:
    return _page(request, "alerts.html", principal, settings, selected_alert=alert_id)


@router.get("/analytics", response_class=HTMLResponse)
def analytics_page(*, request: Request, principal: CurrentPrincipal, settings: SettingsDep) -> HTMLResponse:
    """KPI tiles and charts in the insurer's zone; a point opens the conversations behind it (docs/analytics.md)."""
    return _page(request, "analytics.html", principal, settings, timezone=settings.analytics_timezone)


@router.get("/admin/agents", response_class=HTMLResponse)
def agents_page(
    *,
    request: Request,
    admin: AdminAgent,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> HTMLResponse:
    return _page(request, "agents.html", principal, settings)


@router.get("/admin/canned", response_class=HTMLResponse)
def canned_page(
    *,
    request: Request,
    admin: AdminAgent,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> HTMLResponse:
    return _page(request, "canned.html", principal, settings)


@router.get("/admin/models", response_class=HTMLResponse)
def models_page(
    *,
    request: Request,
    admin: AdminAgent,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> HTMLResponse:
    """The model registry with the gate's numbers, Retrain now, Restore, and the current job's progress."""
    return _page(request, "models.html", principal, settings)


@router.get("/admin/content", response_class=HTMLResponse)
def content_page(
    *,
    request: Request,
    admin: AdminAgent,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> HTMLResponse:
    """The content library: filter, edit, retire / restore, and preview an item as each channel shows it."""
    return _page(request, "content.html", principal, settings, channels=CHANNELS, vocabulary=CONTENT_VOCABULARY)


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(
    *,
    request: Request,
    admin: AdminAgent,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> HTMLResponse:
    return _page(request, "audit.html", principal, settings, actions=audit.ACTIONS)


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
