"""The inbox application: the JSON API under /api, the pages, and errors turned into clear 4xx answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from inbox.api import api_router
from inbox.deps import SESSION_COOKIE, reject_malformed_text
from inbox.errors import InboxError, LoginThrottled, NotAuthenticated, PermissionDenied
from inbox.rasa_client import RasaClient
from inbox.settings import Settings, load_settings
from inbox.web.api_docs import api_docs_router
from inbox.web.chart_assets import router as chart_assets_router
from inbox.web.pages import TEMPLATES, login_redirect
from inbox.web.pages import router as pages_router

STATIC_DIR = Path(__file__).parent / "web" / "static"
API_PREFIX = "/api"
MAX_BODY_BYTES = 1_000_000  # the largest legitimate body is a 4,000-character reply or a 10,000-character note
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'",
}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX + "/") or request.url.path == API_PREFIX


def validation_message(errors: List[Dict[str, Any]]) -> str:
    """`body.text: ensure this value has at least 1 characters; query.limit: …` — readable in a toast."""
    parts = []
    for error in errors[:5]:
        location = ".".join(str(part) for part in error.get("loc", ()))
        parts.append(f"{location}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request, "error.html", {"status_code": status_code, "message": message}, status_code=status_code
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InboxError)
    async def inbox_error(request: Request, error: InboxError) -> Response:
        if not _is_api(request):
            if isinstance(error, NotAuthenticated):
                return login_redirect(request)
            if isinstance(error, PermissionDenied) or error.status_code >= 400:
                return _error_page(request, error.status_code, error.message)
        headers = {}
        if isinstance(error, NotAuthenticated):
            headers["WWW-Authenticate"] = 'Bearer realm="coverline-inbox"'
        if isinstance(error, LoginThrottled):
            headers["Retry-After"] = str(error.retry_after_seconds)
        return JSONResponse({"detail": error.message}, status_code=error.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in error.errors()]
        return JSONResponse({"detail": validation_message(errors), "errors": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        message = str(error.detail)
        if _is_api(request):
            return JSONResponse({"detail": message}, status_code=error.status_code, headers=error.headers)
        return _error_page(request, error.status_code, message)


def document_api(app: FastAPI) -> None:
    """Make the OpenAPI document say what the app does: our 422 body (`detail` is a sentence, `errors` the
    list) and the two ways to authenticate, so Swagger UI's Authorize button works."""

    def openapi() -> Dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {})["HTTPValidationError"] = {
            "title": "HTTPValidationError",
            "type": "object",
            "required": ["detail", "errors"],
            "properties": {
                "detail": {"type": "string", "description": "what is wrong, readable"},
                "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}},
            },
        }
        components["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "a token from POST /api/auth/tokens"},
            "session": {
                "type": "apiKey",
                "in": "cookie",
                "name": SESSION_COOKIE,
                "description": "from POST /api/auth/login; send X-CSRF-Token on POST/PATCH/DELETE",
            },
        }
        schema["security"] = [{"bearer": []}, {"session": []}]
        login = schema["paths"].get(f"{API_PREFIX}/auth/login", {}).get("post")
        if login is not None:
            login["security"] = []
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Optional[Settings] = None, rasa: Optional[RasaClient] = None) -> FastAPI:
    settings = settings or load_settings()
    app = FastAPI(
        title="Coverline inbox API",
        version="1.0",
        description="The agents' inbox: conversations across channels, the escalation queue, take over / reply / "
        "hand back / resolve through Rasa, notes, canned responses, agents and the audit log. Authenticate "
        "with the session cookie from POST /api/auth/login (and send its csrf_token as X-CSRF-Token on "
        "POST/PATCH/DELETE) or with `Authorization: Bearer <token>` from POST /api/auth/tokens.",
        dependencies=[Depends(reject_malformed_text)],
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # served by inbox.web.api_docs from local assets, not FastAPI's CDN page
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.rasa = rasa or RasaClient(settings.rasa_url, settings.rasa_api_token, settings.rasa_timeout_seconds)
    install_error_handlers(app)
    app.include_router(api_router)
    app.include_router(pages_router)
    app.include_router(api_docs_router(app.title, f"{API_PREFIX}/docs", f"{API_PREFIX}/openapi.json"))
    app.include_router(chart_assets_router)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    document_api(app)

    @app.get("/health", include_in_schema=False)
    def health() -> Dict[str, str]:
        return {"status": "ok"}

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        """Browsers ask for it on every page, JSON ones included."""
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return JSONResponse({"detail": f"Request body over {MAX_BODY_BYTES} bytes."}, status_code=413)
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if _is_api(request):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app
