"""Every route refuses the unauthenticated, every admin route refuses agents, and cookie-authenticated
state changes need the CSRF token. Routes are enumerated from the app, so a new one cannot be forgotten."""

from __future__ import annotations

import re
from typing import Iterator, List, Tuple

import pytest
from fastapi.routing import APIRoute

from inbox.deps import require_admin
from inbox.web import api_docs
from tests.support.inbox import LoggedIn, client_for

# Reachable without logging in, on purpose.
PUBLIC = {
    ("POST", "/api/auth/login"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/health"),
    ("GET", "/favicon.ico"),
    ("GET", "/api/docs"),  # like /api/openapi.json: the API's shape is public, its data is not
    ("GET", "/vendor/swagger-ui/{name}"),
    ("GET", "/vendor/chart.js/{name}"),  # the analytics page's chart library, as published on npm
}
SAMPLE_PATH_VALUES = {
    "conversation_id": "c-1",
    "agent_id": "1",
    "canned_id": "1",
    "token_id": "1",
    "message_id": "1",
    "index": "0",
    "annotation_id": "1",
    "proposal_id": "1",
    "alert_id": "1",
    "job_id": "1",
    "content_id": "1",
}


def _routes(app) -> Iterator[Tuple[str, str, APIRoute]]:  # type: ignore[no-untyped-def]
    for route in app.routes:
        if isinstance(route, APIRoute):
            for method in sorted(route.methods - {"HEAD"}):
                yield method, route.path, route


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PATH_VALUES[m.group(1)], path)


def _needs_admin(route: APIRoute) -> bool:
    stack = list(route.dependant.dependencies)
    while stack:
        dependency = stack.pop()
        if dependency.call is require_admin:
            return True
        stack.extend(dependency.dependencies)
    return False


def protected_routes(app) -> List[Tuple[str, str, APIRoute]]:  # type: ignore[no-untyped-def]
    return [(m, p, r) for m, p, r in _routes(app) if (m, p) not in PUBLIC]


def test_the_route_table_is_what_we_think(app) -> None:  # type: ignore[no-untyped-def]
    routes = {(m, p) for m, p, _ in _routes(app)}
    assert PUBLIC <= routes
    api = [r for r in routes if r[1].startswith("/api/")]
    assert len(api) >= 25
    admin = {(m, p) for m, p, r in _routes(app) if _needs_admin(r)}
    assert ("POST", "/api/agents") in admin and ("GET", "/api/audit") in admin
    assert ("POST", "/api/canned-responses") in admin and ("GET", "/admin/audit") in admin
    assert ("GET", "/api/canned-responses") not in admin


def test_every_api_route_refuses_an_unauthenticated_request_with_401(app) -> None:  # type: ignore[no-untyped-def]
    client = client_for(app)
    checked = 0
    for method, path, _ in protected_routes(app):
        if not path.startswith("/api/"):
            continue
        response = client.request(method, _concrete(path))
        assert response.status_code == 401, (method, path, response.status_code, response.text)
        assert response.json()["detail"], (method, path)
        assert response.headers["www-authenticate"].startswith("Bearer")
        checked += 1
    assert checked >= 24


def test_every_page_sends_the_unauthenticated_to_the_login_page(app) -> None:  # type: ignore[no-untyped-def]
    client = client_for(app)
    pages = [(m, p) for m, p, _ in protected_routes(app) if not p.startswith("/api/")]
    assert len(pages) >= 5
    for method, path in pages:
        response = client.request(method, _concrete(path), follow_redirects=False)
        assert response.status_code == 303, (method, path)
        assert response.headers["location"].startswith("/login?next=")


def test_a_bogus_session_or_token_is_401(app, agents) -> None:  # type: ignore[no-untyped-def]
    client = client_for(app)
    client.cookies.set("coverline_session", "forged")
    assert client.get("/api/conversations").status_code == 401
    fresh = client_for(app)
    assert fresh.get("/api/conversations", headers={"Authorization": "Bearer forged"}).status_code == 401


def test_every_admin_route_refuses_an_agent_with_403(app, agent: LoggedIn) -> None:  # type: ignore[no-untyped-def]
    admin_routes = [(m, p) for m, p, r in _routes(app) if _needs_admin(r)]
    assert len(admin_routes) >= 9
    for method, path in admin_routes:
        response = agent.client.request(method, _concrete(path), headers={"X-CSRF-Token": agent.csrf})
        assert response.status_code == 403, (method, path, response.status_code)
        if path.startswith("/api/"):
            assert response.json()["detail"] == "Only admins can do this."


def test_non_admin_api_routes_do_not_refuse_an_agent(app, agent: LoggedIn) -> None:  # type: ignore[no-untyped-def]
    for method, path, route in protected_routes(app):
        if method != "GET" or _needs_admin(route) or not path.startswith("/api/") or path == "/api/events":
            continue
        response = agent.get(_concrete(path))
        # a route with required query parameters (an analytics metric, a bucket) answers 422 without them
        required = any(parameter.required for parameter in route.dependant.query_params)
        assert response.status_code in ((200, 404, 422) if required else (200, 404)), (path, response.status_code)


@pytest.mark.parametrize("header", [None, "", "wrong-token"])
def test_state_changes_without_the_right_csrf_token_are_403(app, agent: LoggedIn, db_url, header) -> None:  # type: ignore[no-untyped-def]
    from tests.support.inbox import customer_says

    customer_says(db_url, "c-1", "hello")
    headers = {} if header is None else {"X-CSRF-Token": header}
    for path, body in (
        ("/api/conversations/c-1/notes", {"body": "x"}),
        ("/api/conversations/c-1/assign", {"agent_id": None}),
        ("/api/auth/logout", None),
    ):
        response = agent.client.post(path, json=body, headers=headers)
        assert response.status_code == 403, path
        assert "CSRF" in response.json()["detail"]
    assert agent.get("/api/conversations/c-1/notes").json() == []
    assert agent.post("/api/conversations/c-1/notes", {"body": "with the token"}).status_code == 201


def test_a_bearer_token_needs_no_csrf_and_is_not_a_cookie(app, agent: LoggedIn, db_url) -> None:  # type: ignore[no-untyped-def]
    from tests.support.inbox import customer_says

    customer_says(db_url, "c-1", "hello")
    created = agent.post("/api/auth/tokens", {"label": "crm sync", "days": 7})
    assert created.status_code == 201
    token = created.json()["token"]
    scripted = client_for(app)
    headers = {"Authorization": f"Bearer {token}"}
    assert scripted.get("/api/auth/me", headers=headers).json()["csrf_token"] is None
    note = scripted.post("/api/conversations/c-1/notes", json={"body": "from a script"}, headers=headers)
    assert note.status_code == 201
    # the bearer token is not accepted as a session cookie, nor a cookie as a bearer token
    cookie_client = client_for(app)
    cookie_client.cookies.set("coverline_session", token)
    assert cookie_client.get("/api/auth/me").status_code == 401
    session_cookie = agent.client.cookies.get("coverline_session")
    assert scripted.get("/api/auth/me", headers={"Authorization": f"Bearer {session_cookie}"}).status_code == 401


def test_api_tokens_are_listed_without_secrets_and_revocable(app, agent: LoggedIn, admin: LoggedIn, db_url) -> None:  # type: ignore[no-untyped-def]
    created = agent.post("/api/auth/tokens", {"label": "crm sync"}).json()
    token = created.pop("token")
    listed = agent.get("/api/auth/tokens").json()
    assert listed == [created] and token not in str(listed)
    assert admin.get("/api/auth/tokens").json() == []  # one's own tokens only
    assert admin.delete(f"/api/auth/tokens/{created['id']}").status_code == 404
    assert agent.delete(f"/api/auth/tokens/{created['id']}").status_code == 204
    assert client_for(app).get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    session_row = agent.get("/api/auth/tokens").json()
    assert session_row == []
    assert agent.post("/api/auth/tokens", {"label": "", "days": 1}).status_code == 422
    assert agent.post("/api/auth/tokens", {"label": "x", "days": 1000}).status_code == 422


def test_openapi_document_describes_auth_and_the_422_body(app) -> None:  # type: ignore[no-untyped-def]
    client = client_for(app)
    doc = client.get("/api/openapi.json").json()
    assert set(doc["components"]["securitySchemes"]) == {"bearer", "session"}
    assert doc["paths"]["/api/auth/login"]["post"]["security"] == []
    assert doc["components"]["schemas"]["HTTPValidationError"]["properties"]["detail"]["type"] == "string"
    routes = {(m, p) for m, p, _ in _routes(app) if p.startswith("/api/")} - {("GET", "/api/docs")}
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert routes == documented  # every API route is in the document


def test_api_docs_are_served_from_our_own_assets_under_the_csp(app) -> None:  # type: ignore[no-untyped-def]
    """No CDN: the docs work offline and no third-party script runs beside a logged-in session."""
    client = client_for(app)
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and "script-src 'self'" in docs.headers["content-security-policy"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert sources and all(s.startswith("/") for s in sources), sources
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200 and asset.content.strip(), source
    assert 'data-openapi="/api/openapi.json"' in docs.text
    assert client.get("/vendor/swagger-ui/index.html").status_code == 404  # its inline script is not served


def test_api_docs_say_how_to_install_swagger_ui_when_it_is_missing(app, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(api_docs, "VENDOR_DIR", tmp_path)
    response = client_for(app).get("/api/docs")
    assert response.status_code == 503 and "make install" in response.json()["detail"]
