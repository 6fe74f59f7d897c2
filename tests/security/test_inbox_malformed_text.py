"""Issue 12, finding 6 (bad input): a lone surrogate (`"\\ud800"`) in a JSON body gave the inbox a 500, login
included, and a NUL got stored raw. The cause is in how the body is decoded: Python's json module accepts
lone surrogate escapes, and Starlette's `json.loads(bytes)` also reads UTF-16/32 bodies (where the NUL check's
byte pattern `\\u0000` does not appear) and passes UTF-8-encoded surrogates through. The inbox refuses all of
these at its door, with a 422 that says why, for every state-changing route.
"""

from __future__ import annotations

import json
import re
from typing import Dict, List, Tuple

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from storage.engine import session_scope
from storage.models import CannedResponse, ConversationNote
from tests.support.inbox import (
    FakeRasaApi,
    LoggedIn,
    client_for,
    customer_says,
)
from tests.support.inbox_fixtures import (  # noqa: F401 (fixtures)
    admin,
    agents,
    app,
    cheap_password_hashing,
    db_url,
    fake_rasa,
    settings,
)

FIELDS = ("email", "password", "text", "body", "short_code", "content", "name", "label", "current_password")


def body_with(value_json: str) -> str:
    """A JSON object whose every text field any route reads is `value_json` (a JSON string literal)."""
    return "{" + ", ".join(f'"{field}": {value_json}' for field in FIELDS) + "}"


# (what, raw body bytes): each decodes, the way Starlette decodes it, to text that cannot be stored
MALFORMED: List[Tuple[str, bytes]] = [
    ("lone high surrogate escape", body_with('"a\\ud800b"').encode()),
    ("lone low surrogate escape", body_with('"a\\udfffb"').encode()),
    ("reversed surrogate pair", body_with('"\\ude00\\ud83d"').encode()),
    ("surrogate as a key", b'{"\\ud800": 1, "text": "hi"}'),
    ("surrogate deep inside", b'{"text": "hi", "x": [[{"y": ["\\ud800"]}]]}'),
    ("UTF-8-encoded surrogate bytes", body_with('"aXXb"').encode().replace(b"XX", b"\xed\xa0\x80")),
    ("UTF-16 body with a NUL escape", body_with('"a\\u0000b"').encode("utf-16")),
    ("UTF-16 body with a raw surrogate", body_with('"a\ud800b"').encode("utf-16", "surrogatepass")),
    ("NUL escape", body_with('"a\\u0000b"').encode()),
]
REASON = re.compile(r"surrogate|NUL|not UTF-8")


def state_changing_api_routes(inbox_app) -> List[Tuple[str, str]]:  # type: ignore[no-untyped-def]
    found = []
    for route in inbox_app.routes:
        if isinstance(route, APIRoute) and route.path.startswith("/api/"):
            for method in sorted(route.methods - {"GET", "HEAD"}):
                found.append((method, re.sub(r"\{\w+\}", "1", route.path).replace("/1/", "/web-1/", 1)))
    return found


@pytest.mark.parametrize("what,raw", MALFORMED, ids=[what for what, _ in MALFORMED])
def test_login_refuses_it_with_422(app, agents, what: str, raw: bytes) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    client = client_for(app)
    response = client.post("/api/auth/login", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, (what, response.status_code, response.text)
    assert REASON.search(response.json()["detail"]), response.json()


@pytest.mark.parametrize("what,raw", MALFORMED, ids=[what for what, _ in MALFORMED])
def test_every_state_changing_route_refuses_it_and_stores_nothing(
    app,  # noqa: F811
    admin: LoggedIn,  # noqa: F811
    db_url: str,  # noqa: F811
    fake_rasa: FakeRasaApi,  # noqa: F811
    what: str,
    raw: bytes,
) -> None:
    customer_says(db_url, "web-1", "hello")
    routes = state_changing_api_routes(app)
    assert len(routes) >= 15
    for method, path in routes:
        response = admin.client.request(
            method, path, content=raw, headers={"Content-Type": "application/json", "X-CSRF-Token": admin.csrf}
        )
        assert response.status_code == 422, (what, method, path, response.status_code, response.text)
        assert REASON.search(response.json()["detail"]), (method, path, response.json())
    with session_scope(db_url) as db:
        assert db.scalar(select(func.count()).select_from(CannedResponse)) == 0
        assert db.scalar(select(func.count()).select_from(ConversationNote)) == 0
    assert fake_rasa.requests == []
    assert admin.get("/api/auth/me").status_code == 200  # the session survived every refusal


def test_real_text_outside_the_bmp_still_goes_through(admin: LoggedIn, db_url: str) -> None:  # noqa: F811
    """A surrogate *pair* is how JSON escapes an emoji: that is text, and is kept."""
    escaped = admin.client.post(
        "/api/canned-responses",
        content=b'{"short_code": "thanks", "content": "Thank you \\ud83d\\ude4f"}',
        headers={"Content-Type": "application/json", "X-CSRF-Token": admin.csrf},
    )
    assert escaped.status_code == 201, escaped.text
    plain = admin.post("/api/canned-responses", {"short_code": "sorry", "content": "Sorry 😔 — désolé"})
    assert plain.status_code == 201, plain.text
    contents: Dict[str, str] = {c["short_code"]: c["content"] for c in admin.get("/api/canned-responses").json()}
    assert contents == {"thanks": "Thank you 🙏", "sorry": "Sorry 😔 — désolé"}


def test_a_json_string_that_merely_mentions_an_escape_is_text(admin: LoggedIn) -> None:  # noqa: F811
    """`"\\\\u0000"` is a backslash followed by 'u0000': six ordinary characters, not a NUL."""
    body = json.dumps({"short_code": "docs", "content": "Type \\u0000 to see the NUL escape"})
    response = admin.client.post(
        "/api/canned-responses", content=body, headers={"Content-Type": "application/json", "X-CSRF-Token": admin.csrf}
    )
    assert response.status_code == 201 and response.json()["content"] == "Type \\u0000 to see the NUL escape"
