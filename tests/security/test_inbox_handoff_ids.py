"""Issue 12, finding 2: handoff for social-channel customers reached a different conversation.

The inbox percent-encoded the conversation id; Rasa's Sanic router matches the raw path and never decodes
it, so `whatsapp:15550001111` was paused and answered as `whatsapp%3A15550001111`. Here the URLs the inbox's
Rasa client really sends (httpx, as on the wire) are resolved by the real Rasa server's own router, for each
connector's id shape; ids no URL can carry intact are refused before Rasa is called. The same flow against
a running Rasa server is in test_inbox_live_handoff_ids.py.
"""

from __future__ import annotations

from typing import List
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select

from inbox.errors import InvalidInput
from inbox.rasa_client import RasaClient
from storage.engine import session_scope
from storage.models import AuditEntry, Conversation
from tests.support.inbox import (
    FakeRasaApi,
    LoggedIn,
    customer_says,
    escalate,
)
from tests.support.inbox_fixtures import (  # noqa: F401 (fixtures)
    agent,
    agents,
    app,
    cheap_password_hashing,
    db_url,
    fake_rasa,
    settings,
)

# (channel, Rasa sender_id) as each connector makes it: bot/channels/webhooks.py conversation_id() is
# f"{channel}:{platform user id}" with the connector's name() (Messenger's is "facebook", X's "twitter");
# web chat's is the uuid4 hex bot/channels/socketio.py issues.
ID_SHAPES = [
    ("socketio", "3f2a9c0e4b1d4e5f8a7b6c5d4e3f2a1b"),
    ("facebook", "facebook:6789012345678901"),  # Messenger page-scoped id
    ("instagram", "instagram:1254459154682919"),  # Instagram-scoped id
    ("whatsapp", "whatsapp:15550001111"),  # E.164 digits, no "+"
    ("telegram", "telegram:-1001234567890"),  # a supergroup's chat id is negative
    ("telegram", "telegram:123456789"),  # a private chat's is the user id
    ("twitter", "twitter:3001969357"),  # X user id
    ("wechat", "wechat:oUpF8-uMuAJO_M2pxb1Q9zNjWeS6o"),  # OpenID: letters, digits, "-" and "_"
]


@pytest.fixture(scope="module")
def rasa_router():  # type: ignore[no-untyped-def]
    """The real Rasa server's routes (rasa.server.create_app), without a model: only routing is asked."""
    from rasa.server import create_app

    rasa_app = create_app(auth_token="token")
    if not rasa_app.router.finalized:
        rasa_app.router.finalize()
    return rasa_app.router


def sent_paths(calls: List[httpx.Request]) -> List[str]:
    return [request.url.raw_path.decode("ascii").partition("?")[0] for request in calls]


@pytest.mark.parametrize("channel,conversation_id", ID_SHAPES, ids=[i for _, i in ID_SHAPES])
def test_pause_reply_resume_reach_the_tracker_rasa_routes_to(rasa_router, channel: str, conversation_id: str) -> None:  # type: ignore[no-untyped-def]
    calls: List[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={"events": []})

    client = RasaClient("http://rasa.test:5005", "token", transport=httpx.MockTransport(answer))
    client.pause(conversation_id)
    client.send_agent_reply(conversation_id, "Hi, Sam here.", 7, "Sam")
    client.resume(conversation_id)

    assert len(calls) == 3
    for path in sent_paths(calls):
        route, _, params = rasa_router.get(path, "POST", None)
        assert route.path == "conversations/<conversation_id:path>/tracker/events"
        assert params["conversation_id"] == conversation_id, f"Rasa would act on {params['conversation_id']!r}"


UNADDRESSABLE = [
    "rest:john doe",  # a space would travel as %20, which Rasa keeps
    "rest:a?b",  # would start the query string
    "rest:a#b",  # would be dropped as a fragment
    "rest:100%",  # an escape would be read as its three characters
    "rest:josé",  # non-ASCII travels percent-encoded
    "rest:a\x01b",  # control characters
    "rest:a\x7fb",
    "..",  # a path step, normalised away
]


@pytest.mark.parametrize("conversation_id", UNADDRESSABLE + ["a/b", "a\x00b", "x" * 256, ""])
def test_ids_no_url_carries_intact_are_refused_with_a_reason(conversation_id: str) -> None:
    calls: List[httpx.Request] = []
    client = RasaClient("http://rasa.test", "token", transport=httpx.MockTransport(lambda r: calls.append(r)))  # type: ignore[arg-type,func-returns-value]
    with pytest.raises(InvalidInput) as refused:
        client.pause(conversation_id)
    assert "conversation id" in refused.value.message.lower()
    assert calls == []


@pytest.mark.parametrize("conversation_id", UNADDRESSABLE)
def test_the_inbox_answers_422_and_changes_nothing(
    agent: LoggedIn,  # noqa: F811
    fake_rasa: FakeRasaApi,  # noqa: F811
    db_url: str,  # noqa: F811
    conversation_id: str,
) -> None:
    """Rasa's REST channel takes any sender id; such a conversation is listed and readable, but the inbox
    says plainly that it cannot pause, answer or resume it instead of acting on a stranger's tracker."""
    customer_says(db_url, conversation_id, "I want to talk to a person", channel="rest")
    escalate(db_url, conversation_id, priority=1)
    # the inbox's own routes decode the path (Starlette), so any id reaches them percent-encoded
    path = "/api/conversations/" + (quote(conversation_id, safe="") if conversation_id != ".." else "%2E%2E")

    assert agent.get(path).status_code == 200
    for action in ("take-over", "hand-back", "resolve"):
        response = agent.post(f"{path}/{action}")
        assert response.status_code == 422, (action, response.status_code, response.text)
        assert "Rasa's HTTP API cannot address" in response.json()["detail"]
    assert fake_rasa.requests == []
    with session_scope(db_url) as db:
        conversation = db.get(Conversation, conversation_id)
        assert (conversation.status, conversation.assignee_id) == ("escalated", None)
        assert db.scalars(select(AuditEntry).where(AuditEntry.conversation_id == conversation_id)).all() == []
