"""Issue 12 acceptance: schemathesis (from PyPI) against the inbox's own OpenAPI document, in process.

Every operation in /api/openapi.json gets generated requests, valid and invalid (wrong types, missing and
extra fields, NUL and odd unicode in strings, out-of-range numbers), sent to the real app from
`inbox.main.create_app` as an admin with a bearer token (the document's `bearer` security scheme), on a
migrated SQLite database that holds conversations, escalations, notes and canned responses. The one check:
no 5xx. Rasa's HTTP API is played by an in-process transport that accepts every event, so a 502 (Rasa
refused) cannot hide a 500 and the take over / reply / hand back paths run to the end.

Each generated request gets a fresh token: logging out, changing the password or revoking tokens is fair
game for the generator and must not leave the rest of the run unauthenticated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, List, Set

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from inbox.main import create_app
from inbox.rasa_client import RasaClient
from inbox.services import auth
from inbox.services.agents import create_agent
from storage.engine import dispose_engines, session_scope
from storage.models import Agent, CannedResponse, ContentItem, ConversationNote, utcnow
from tests.support.databases import migrated_sqlite
from tests.support.inbox import bot_says, customer_says, escalate, make_settings

CONVERSATIONS = [("whatsapp:15550001111", "whatsapp"), ("telegram:-1001234567890", "telegram")]
MAX_EXAMPLES = 12  # per operation and mode; ~35 operations stay well under two minutes on a shared CPU


# lone surrogates, NUL, bidi override, BOM, an astral character, a combining mark, 900 astral characters
EDGE_TEXT = [
    "\ud800",
    "\udfff",
    "\udc00\ud800",
    "\x00",
    "\u202e",
    "\ufeff",
    "\U0001f600",
    "e\u0301",
    "\U0001d54f" * 900,
]


def with_edge(value: Any, edge: str) -> Any:
    """`value` with `edge` appended to every string value in it (keys kept, so the fields still count)."""
    if isinstance(value, str):
        return value + edge
    if isinstance(value, list):
        return [with_edge(item, edge) for item in value]
    if isinstance(value, dict):
        return {key: with_edge(item, edge) for key, item in value.items()}
    return value


def rasa_answers(request: httpx.Request) -> httpx.Response:
    """Rasa as the inbox uses it: events appended (200), media it does not have (404)."""
    if request.method == "POST" and request.url.path.endswith("/tracker/events"):
        return httpx.Response(200, json={"events": []})
    return httpx.Response(404, json={"error": "no such file"})


class Inbox:
    def __init__(self, workdir: Path) -> None:
        self.db_url = migrated_sqlite(workdir / "inbox.db")
        with session_scope(self.db_url) as db:
            self.admin_id = create_agent(db, "root@harbor.example", "Root", "admin", "root-password-1").id
            self.agent_id = create_agent(db, "agent@harbor.example", "Sam", "agent", "agent-password-1").id
        self.message_ids: List[int] = []
        for conversation_id, channel in CONVERSATIONS:
            photo = {"attachments": [{"type": "image", "media_id": "AgACAgQAAxkB"}]}
            self.message_ids += [
                customer_says(self.db_url, conversation_id, "my card 4111 1111 1111 1111 was charged", channel),
                customer_says(self.db_url, conversation_id, "/share_attachment", channel, metadata=photo),
                bot_says(self.db_url, conversation_id, "Sorry to hear that, let me get someone."),
            ]
            escalate(self.db_url, conversation_id, priority=1)
        with session_scope(self.db_url) as db:
            db.add(CannedResponse(short_code="hello", content="Hello!", created_at=utcnow(), updated_at=utcnow()))
            db.add(  # the content library's item 1, so its edit, retire, restore and preview reach a real item
                ContentItem(
                    slug="tip-winter-driving",
                    category="safety_tip",
                    title="Winter driving",
                    summary="Tyres first.",
                    body="- Fit winter tyres",
                    content_hash="seeded",
                    created_at=utcnow(),
                    updated_at=utcnow(),
                )
            )
            db.add(
                ConversationNote(
                    conversation_id="whatsapp:15550001111", agent_id=self.admin_id, body="x", created_at=utcnow()
                )
            )
        settings_ = make_settings(self.db_url, "http://rasa.test", sse_poll_seconds=0.05, sse_max_seconds=0.2)
        self.statuses: List[int] = []
        self.succeeded: Set[str] = set()  # operations that answered 2xx at least once
        self.app = create_app(
            settings_, rasa=RasaClient("http://rasa.test", "t", transport=httpx.MockTransport(rasa_answers))
        )
        self.settings = settings_

    def fresh_token(self) -> str:
        with session_scope(self.db_url) as db:
            admin = db.get(Agent, self.admin_id)
            if not admin.active or admin.role != "admin":  # the generator may have found PATCH /agents/{id}
                admin.active, admin.role = True, "admin"
                db.commit()
            token, _ = auth.create_api_token(db, self.settings, admin, "schemathesis", 1, None)
        return token


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inbox]:
    yield Inbox(tmp_path_factory.mktemp("schemathesis"))
    dispose_engines()


@pytest.fixture(scope="module")
def inbox_schema(inbox: Inbox):  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", inbox.app)
    schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True)
    known = {
        "conversation_id": [conversation_id for conversation_id, _ in CONVERSATIONS],
        "message_id": inbox.message_ids,
        "agent_id": [inbox.agent_id],
        "canned_id": [1],
        "token_id": [1, 2],
        "index": [0],
    }

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):  # type: ignore[no-untyped-def]
        """Half the time, ids that exist: random ids alone would only ever meet a 404."""
        if not isinstance(path_parameters, dict) or not path_parameters:
            return st.just(path_parameters)
        existing = {
            name: st.sampled_from(known[name]) if name in known else st.just(value)
            for name, value in path_parameters.items()
        }
        return st.one_of(st.just(path_parameters), st.fixed_dictionaries(existing))

    @schema.hook
    def flatmap_body(context, body):  # type: ignore[no-untyped-def]
        """About half the time, every string in the body carries a unicode edge case. Hypothesis never generates
        lone surrogates (they are not text), yet any client can send one as a JSON escape: the body goes as
        bytes, JSON with ASCII escapes, exactly as such a client would send it."""
        if not isinstance(body, (dict, list)):
            return st.just(body)
        edged = st.sampled_from(EDGE_TEXT).map(lambda edge: json.dumps(with_edge(body, edge)).encode())
        return st.one_of(edged, st.just(body))

    return schema


schema = schemathesis.pytest.from_fixture("inbox_schema")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_no_request_gets_a_5xx(case, inbox: Inbox) -> None:  # type: ignore[no-untyped-def]
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {inbox.fresh_token()}"}, checks=[not_a_server_error]
    )
    inbox.statuses.append(response.status_code)
    if response.status_code < 300:
        inbox.succeeded.add(case.operation.label)
    assert response.status_code < 500, json.dumps({"request": case.as_curl_command(), "body": response.text[:500]})


def test_the_run_got_past_the_door(inbox: Inbox) -> None:
    """Runs after the operations: they were answered as an admin (not a wall of 401s) and often succeeded."""
    statuses = inbox.statuses
    assert len(statuses) > 200, len(statuses)
    assert sum(status == 401 for status in statuses) < len(statuses) * 0.1
    assert sum(200 <= status < 300 for status in statuses) > len(statuses) * 0.1
    assert len(inbox.succeeded) >= 20, sorted(inbox.succeeded)


def test_the_document_covers_the_api(inbox: Inbox) -> None:
    """The run above is only as wide as the document: every /api route but the document itself is in it."""
    document = inbox.app.openapi()
    documented = {path for path in document["paths"]}
    routes = {route.path for route in inbox.app.routes if getattr(route, "include_in_schema", False)}
    assert routes and routes <= documented
    assert len(documented) >= 20 and {"bearer", "session"} <= set(document["components"]["securitySchemes"])
