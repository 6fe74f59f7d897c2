"""No request makes the inbox answer 5xx: every route gets bodies of the wrong shape, oversized and NUL-laden
values, on SQLite and on PostgreSQL (which refuses NUL in text and would otherwise fail with a 500)."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

from inbox.main import create_app
from inbox.services.agents import create_agent
from storage.engine import session_scope
from storage.migrate import upgrade
from tests.support.inbox import FakeRasaApi, LoggedIn, client_for, customer_says, make_settings

BODIES = [
    None,
    [],
    "text",
    42,
    {"unexpected": True},
    {"text": None, "body": [], "agent_id": {}},
    {"x": "y" * 5000},
    {"agent_id": 10**20, "days": 10**20, "active": "maybe", "role": 3},
]
NUL_VALUES = ["a\u0000b"]
NUL_BODIES = [{"text": v, "body": v, "short_code": v, "email": v, "name": v} for v in NUL_VALUES]
PATH_VALUES = ["c-1", "x" * 300, "%00", "a%00b", "0", "-1", "99999999999999999999", "%F0%9F%98%80"]


def hammer(app, logged_in: LoggedIn) -> int:  # type: ignore[no-untyped-def]
    checked = 0
    for route in app.routes:
        if not isinstance(route, APIRoute) or route.path in ("/api/events", "/api/auth/logout"):
            continue
        for method in route.methods - {"HEAD"}:
            for value in PATH_VALUES:
                path = re.sub(r"\{\w+\}", value, route.path)
                for body in BODIES + NUL_BODIES:
                    response = logged_in.client.request(
                        method, path, json=body, headers={"X-CSRF-Token": logged_in.csrf}
                    )
                    assert response.status_code < 500, (method, path, body, response.text)
                    checked += 1
                query = logged_in.client.request(
                    method, path + "?q=%00&status=%00&limit=x&after_id=%00", headers={"X-CSRF-Token": logged_in.csrf}
                )
                assert query.status_code < 500, (method, path, query.text)
    form = logged_in.client.post("/login", data={"email": "a\u0000b", "password": "x", "login_token": "t"})
    assert form.status_code == 422
    assert logged_in.get("/api/auth/me").status_code == 200  # still logged in: the requests above were judged
    return checked


def _admin(app) -> LoggedIn:  # type: ignore[no-untyped-def]
    client = client_for(app)
    response = client.post("/api/auth/login", json={"email": "root@harbor.example", "password": "root-password-1"})
    return LoggedIn(client, response.json()["csrf_token"])


def test_no_5xx_on_sqlite(db_url: str, fake_rasa: FakeRasaApi) -> None:
    with session_scope(db_url) as db:
        create_agent(db, "root@harbor.example", "Root", "admin", "root-password-1")
    customer_says(db_url, "c-1", "hello")
    app = create_app(make_settings(db_url, fake_rasa.url))
    assert hammer(app, _admin(app)) > 1000


@pytest.mark.timeout(600)
def test_no_5xx_on_postgresql(fresh_postgres_url: str, fake_rasa: FakeRasaApi) -> None:
    url = fresh_postgres_url
    upgrade(url)
    with session_scope(url) as db:
        create_agent(db, "root@harbor.example", "Root", "admin", "root-password-1")
    customer_says(url, "c-1", "hello")
    app = create_app(make_settings(url, fake_rasa.url))
    assert hammer(app, _admin(app)) > 1000
