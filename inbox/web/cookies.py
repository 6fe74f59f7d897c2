"""The session cookie: HttpOnly (scripts cannot read it), SameSite=Lax, Secure unless in dev over http."""

from __future__ import annotations

from fastapi import Response

from inbox.deps import SESSION_COOKIE
from inbox.settings import Settings

LOGIN_CSRF_COOKIE = "coverline_login_csrf"


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
