"""Issue 12, finding 5 (ownership): an agent could assign to themselves, and resolve, a conversation another
agent holds; docs/inbox.md (Roles) says only admins act on another agent's conversation.

Every state-changing route under /api/conversations/{conversation_id} is found by walking the app, so a new
route has to be classed here: held by the assignee (403 for other agents, allowed for admins) or open to
the team (internal notes, which never reach the customer).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

from storage.engine import session_scope
from storage.models import AuditEntry, Conversation
from tests.support.inbox import (
    FakeRasaApi,
    LoggedIn,
    broker_for,
    customer_says,
    escalate,
    login,
)
from tests.support.inbox_fixtures import (  # noqa: F401 (fixtures)
    admin,
    agent,
    agents,
    app,
    cheap_password_hashing,
    db_url,
    fake_rasa,
    settings,
)

CONVERSATION = "whatsapp:15550001111"
BASE = "/api/conversations/{conversation_id}"
# state-changing routes on one conversation that only its assignee (or an admin) may use, with a body
HELD: Dict[str, Optional[Dict[str, Any]]] = {
    "/assign": {"agent_id": "me"},  # "me": filled in with the id of whoever asks
    "/take-over": None,
    "/replies": {"text": "I can take this one."},
    "/hand-back": None,
    "/resolve": None,
    "/messages/{message_id}/reveal": None,  # the original text behind masked personal data
}
OPEN_TO_THE_TEAM = {"/notes"}  # private notes: context for whoever holds it, never sent to the customer


def conversation_routes(inbox_app) -> List[Tuple[str, str]]:  # type: ignore[no-untyped-def]
    found = []
    for route in inbox_app.routes:
        if isinstance(route, APIRoute) and route.path.startswith(BASE + "/"):
            for method in route.methods - {"GET", "HEAD"}:
                found.append((method, route.path[len(BASE) :]))
    return sorted(found)


def held_by_agent(db_url: str, fake_rasa: FakeRasaApi, holder: LoggedIn, status: str) -> int:  # noqa: F811
    """The customer is with `holder`: assigned only ("escalated") or taken over ("open"); returns the id
    of the customer's message."""
    fake_rasa.on_event = broker_for(db_url)
    message_id = customer_says(db_url, CONVERSATION, "I want a person, my card 4111111111111111", channel="whatsapp")
    escalate(db_url, CONVERSATION, priority=1)
    me = holder.get("/api/auth/me").json()["agent"]["id"]
    action = "take-over" if status == "open" else "assign"
    response = holder.post(f"/api/conversations/{CONVERSATION}/{action}", {"agent_id": me})
    assert response.status_code == 200, response.text
    fake_rasa.requests.clear()
    return message_id


def state(url: str) -> Tuple[str, Optional[int]]:
    with session_scope(url) as db:
        conversation = db.get(Conversation, CONVERSATION)
        return conversation.status, conversation.assignee_id


def audited_by(url: str, agent_id: int) -> List[str]:
    with session_scope(url) as db:
        rows = db.scalars(
            select(AuditEntry.action).where(AuditEntry.agent_id == agent_id, AuditEntry.conversation_id == CONVERSATION)
        )
        return [action for action in rows if action != "login"]


def url(suffix: str, message_id: int) -> str:
    return f"/api/conversations/{CONVERSATION}" + suffix.format(message_id=message_id)


def body_for(suffix: str, agent_id: int) -> Optional[Dict[str, Any]]:
    body = HELD[suffix]
    return {"agent_id": agent_id} if body == {"agent_id": "me"} else body


def test_every_conversation_route_is_classed(app) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    assert {suffix for _, suffix in conversation_routes(app)} == set(HELD) | OPEN_TO_THE_TEAM


@pytest.mark.parametrize("status", ["escalated", "open"])
@pytest.mark.parametrize("suffix", sorted(HELD))
def test_another_agent_is_refused_403_and_nothing_changes(
    app,  # noqa: F811
    agent: LoggedIn,  # noqa: F811
    agents: Dict[str, int],  # noqa: F811
    fake_rasa: FakeRasaApi,  # noqa: F811
    db_url: str,  # noqa: F811
    status: str,
    suffix: str,
) -> None:
    message_id = held_by_agent(db_url, fake_rasa, agent, status)
    before = state(db_url)
    other = login(app, "agent2")
    response = other.post(url(suffix, message_id), body_for(suffix, agents["agent2"]))
    assert response.status_code == 403, (suffix, status, response.status_code, response.text)
    detail = response.json()["detail"]
    assert "Agent has this conversation" in detail and "admin" in detail
    assert state(db_url) == before == (status, agents["agent"])
    assert fake_rasa.requests == []  # the customer's bot was neither paused, resumed nor written to
    assert audited_by(db_url, agents["agent2"]) == []


def test_unassigning_someone_else_is_refused_too(app, agent: LoggedIn, agents, fake_rasa, db_url) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    held_by_agent(db_url, fake_rasa, agent, "escalated")
    other = login(app, "agent2")
    response = other.post(f"/api/conversations/{CONVERSATION}/assign", {"agent_id": None})
    assert response.status_code == 403 and state(db_url) == ("escalated", agents["agent"])


@pytest.mark.parametrize("suffix", sorted(HELD))
def test_admins_may_act_on_any_agents_conversation(
    admin: LoggedIn,  # noqa: F811
    agent: LoggedIn,  # noqa: F811
    agents: Dict[str, int],  # noqa: F811
    fake_rasa: FakeRasaApi,  # noqa: F811
    db_url: str,  # noqa: F811
    suffix: str,
) -> None:
    message_id = held_by_agent(db_url, fake_rasa, agent, "open")
    if suffix == "/take-over":
        held = admin.post(f"/api/conversations/{CONVERSATION}/take-over")
        assert held.status_code == 200 and state(db_url) == ("open", agents["admin"])
        return
    response = admin.post(url(suffix, message_id), body_for(suffix, agents["agent2"]))
    assert response.status_code in (200, 202), (suffix, response.text)


def test_the_holder_and_the_team_keep_their_rights(app, agent: LoggedIn, agents, fake_rasa, db_url) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    held_by_agent(db_url, fake_rasa, agent, "open")
    other = login(app, "agent2")
    assert (
        other.post(f"/api/conversations/{CONVERSATION}/notes", {"body": "Called us yesterday too"}).status_code == 201
    )
    assert other.get(f"/api/conversations/{CONVERSATION}").status_code == 200
    assert agent.post(f"/api/conversations/{CONVERSATION}/replies", {"text": "Hello!"}).status_code == 202
    assert agent.post(f"/api/conversations/{CONVERSATION}/hand-back").status_code == 200
    # handed back, it is nobody's: a colleague may take it now
    assert other.post(f"/api/conversations/{CONVERSATION}/take-over").status_code == 200
