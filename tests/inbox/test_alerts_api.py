"""Spike alerts through the inbox's API, on SQLite and PostgreSQL: the list and its filters, one alert with the
customer messages behind it (linked to their conversations, personal data masked, webhook tokens never shown),
acknowledge and resolve with their audit rows, who may resolve, and a 4xx with a message for every refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
from sqlalchemy import select

from inbox.main import create_app
from inbox.services.agents import create_agent
from storage.engine import session_scope
from storage.models import Alert, AuditEntry
from tests.support.alert_inbox import customer_storm, stored_alert
from tests.support.databases import migrated_seeded
from tests.support.inbox import PASSWORDS, FakeRasaApi, LoggedIn, client_for, login, make_settings

WEBHOOK = "https://hooks.slack.example/services/T000/B000/very-secret-token"


@pytest.fixture(params=["sqlite", "postgresql"])
def alert_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, seeded database with an admin and two agents: SQLite, and PostgreSQL when it answers."""
    for url in migrated_seeded(request.param, tmp_path, "alerts.db"):
        with session_scope(url) as db:
            for email, name, role in (
                ("admin@harbor.example", "Admin", "admin"),
                ("agent@harbor.example", "Agent", "agent"),
                ("agent2@harbor.example", "Agent2", "agent"),
            ):
                create_agent(db, email, name, role, PASSWORDS.get(role, PASSWORDS["agent"]))
        yield url


@pytest.fixture
def signed_in(alert_db: str, fake_rasa: FakeRasaApi) -> Dict[str, LoggedIn]:
    app = create_app(make_settings(alert_db, fake_rasa.url))
    return {role: login(app, role) for role in ("admin", "agent", "agent2")}


@pytest.fixture
def storm(alert_db: str) -> Tuple[int, List[int]]:
    messages = customer_storm(alert_db)
    return stored_alert(alert_db, messages, webhooks=[WEBHOOK], emails=["social@insurer.example"]), messages


def audit_rows(url: str) -> List[Tuple[str, int, dict, str]]:
    with session_scope(url) as db:
        rows = db.scalars(
            select(AuditEntry)
            .where(AuditEntry.action.in_(["alert_acknowledged", "alert_resolved"]))
            .order_by(AuditEntry.id)
        )
        return [(row.action, row.agent_id, row.detail, row.ip) for row in rows]


def agent_id(url: str, email: str) -> int:
    from storage.models import Agent

    with session_scope(url) as db:
        return db.scalar(select(Agent.id).where(Agent.email == email))


def test_the_list_is_newest_first_with_counts_and_filters(
    alert_db: str, signed_in: Dict[str, LoggedIn], storm: Tuple[int, List[int]]
) -> None:
    first, messages = storm
    second = stored_alert(alert_db, messages[:1], scope_value="complaint", minutes_ago=1)
    agent = signed_in["agent"]
    body = agent.get("/api/alerts").json()
    assert [a["id"] for a in body["items"]] == [second, first]
    assert body["counts"] == {"raised": 2, "acknowledged": 0, "resolved": 0}
    assert body["items"][1]["summary"] == "twitter: negative share 12 % → 71 % in the last 15 minutes, 17 messages"
    assert body["items"][1]["message_count"] == 3 and body["items"][1]["raised_at"].endswith("+00:00")
    assert body["items"][1]["rule"]["name"] == "negative-share-per-channel"
    assert agent.post(f"/api/alerts/{first}/acknowledge").status_code == 200
    assert [a["id"] for a in agent.get("/api/alerts?status=raised").json()["items"]] == [second]
    assert [a["id"] for a in agent.get("/api/alerts?status=acknowledged").json()["items"]] == [first]
    assert [a["id"] for a in agent.get("/api/alerts?status=open").json()["items"]] == [second, first]
    assert agent.get("/api/alerts?status=resolved").json()["items"] == []
    assert [a["id"] for a in agent.get(f"/api/alerts?status=all&before_id={second}").json()["items"]] == [first]
    assert [a["id"] for a in agent.get("/api/alerts?limit=1").json()["items"]] == [second]


def test_an_alert_lists_the_customer_messages_behind_it_with_their_conversations(
    signed_in: Dict[str, LoggedIn], storm: Tuple[int, List[int]]
) -> None:
    alert_id, messages = storm
    response = signed_in["agent"].get(f"/api/alerts/{alert_id}")
    assert response.status_code == 200, response.text
    detail = response.json()
    assert [m["id"] for m in detail["messages"]] == messages
    first = detail["messages"][0]
    assert (first["conversation_id"], first["conversation_url"]) == ("twitter:1001", "/conversations/twitter:1001")
    assert (first["channel"], first["intent"], first["sentiment"]["label"]) == ("twitter", "claim_status", "negative")
    assert first["text"] == "Your app has been down for two hours and my claim vanished"
    phone = detail["messages"][1]
    assert "867-5309" not in phone["text"] and phone["masked"]  # masked as in transcripts
    deliveries = {d["channel"]: d for d in detail["deliveries"]}
    assert deliveries["webhook"]["recipient"] == "webhook hooks.slack.example"
    assert deliveries["email"]["recipient"] == "social@insurer.example"
    assert "very-secret-token" not in response.text  # a webhook URL is its token: never shown


def test_acknowledge_once_then_resolve_each_audited(
    alert_db: str, signed_in: Dict[str, LoggedIn], storm: Tuple[int, List[int]]
) -> None:
    alert_id, _ = storm
    agent, admin = signed_in["agent"], signed_in["admin"]
    acknowledged = agent.post(f"/api/alerts/{alert_id}/acknowledge")
    assert acknowledged.status_code == 200, acknowledged.text
    body = acknowledged.json()
    assert body["status"] == "acknowledged" and body["acknowledged_by"]["name"] == "Agent"
    again = admin.post(f"/api/alerts/{alert_id}/acknowledge")
    assert again.status_code == 409 and again.json()["detail"] == f"Alert {alert_id} is already acknowledged by Agent."
    resolved = agent.post(f"/api/alerts/{alert_id}/resolve")  # the acknowledger may resolve
    assert resolved.status_code == 200 and resolved.json()["resolved_by"]["name"] == "Agent"
    twice = admin.post(f"/api/alerts/{alert_id}/resolve")
    assert twice.status_code == 409 and "already resolved by Agent" in twice.json()["detail"]
    late = admin.post(f"/api/alerts/{alert_id}/acknowledge")
    assert late.status_code == 409 and "already resolved" in late.json()["detail"]
    me = agent_id(alert_db, "agent@harbor.example")
    assert audit_rows(alert_db) == [
        ("alert_acknowledged", me, {"alert_id": alert_id}, "testclient"),
        ("alert_resolved", me, {"alert_id": alert_id}, "testclient"),
    ]
    entries = admin.get("/api/audit?action=alert_acknowledged").json()
    assert [(e["agent_name"], e["detail"]) for e in entries] == [("Agent", {"alert_id": alert_id})]


def test_only_admins_and_the_acknowledger_may_resolve(
    alert_db: str, signed_in: Dict[str, LoggedIn], storm: Tuple[int, List[int]]
) -> None:
    alert_id, messages = storm
    agent, other, admin = signed_in["agent"], signed_in["agent2"], signed_in["admin"]
    refused = agent.post(f"/api/alerts/{alert_id}/resolve")
    assert refused.status_code == 403 and "acknowledge it first" in refused.json()["detail"]
    assert agent.post(f"/api/alerts/{alert_id}/acknowledge").status_code == 200
    refused = other.post(f"/api/alerts/{alert_id}/resolve")
    assert refused.status_code == 403 and "Only an admin or the agent who acknowledged" in refused.json()["detail"]
    assert audit_rows(alert_db) == [
        ("alert_acknowledged", agent_id(alert_db, "agent@harbor.example"), {"alert_id": alert_id}, "testclient")
    ]
    unacknowledged = stored_alert(alert_db, messages)
    assert admin.post(f"/api/alerts/{unacknowledged}/resolve").status_code == 200  # an admin needs no acknowledge
    with session_scope(alert_db) as db:
        statuses = {a.id: a.status for a in db.scalars(select(Alert))}
    assert statuses == {alert_id: "acknowledged", unacknowledged: "resolved"}


def test_refusals_are_4xx_with_a_message(
    alert_db: str, fake_rasa: FakeRasaApi, signed_in: Dict[str, LoggedIn], storm: Tuple[int, List[int]]
) -> None:
    alert_id, _ = storm
    agent = signed_in["agent"]
    for method, path in (
        ("GET", "/api/alerts/999999"),
        ("POST", "/api/alerts/999999/acknowledge"),
        ("POST", "/api/alerts/999999/resolve"),
    ):
        response = agent.client.request(method, path, headers={"X-CSRF-Token": agent.csrf})
        assert response.status_code == 404 and response.json()["detail"] == "No alert 999999.", path
    for path in ("/api/alerts/0", "/api/alerts/abc", f"/api/alerts/{2**40}", "/api/alerts?status=bogus"):
        assert agent.get(path).status_code == 422, path
    app = create_app(make_settings(alert_db, fake_rasa.url))
    anonymous = client_for(app)
    assert anonymous.get("/api/alerts").status_code == 401
    assert anonymous.post(f"/api/alerts/{alert_id}/acknowledge").status_code == 401
    for header in ({}, {"X-CSRF-Token": "wrong"}):
        forged = agent.client.post(f"/api/alerts/{alert_id}/acknowledge", headers=header)
        assert forged.status_code == 403 and "CSRF" in forged.json()["detail"]
    assert audit_rows(alert_db) == []
    # a bearer token needs no CSRF header: browsers do not send it by themselves
    token = signed_in["agent2"].post("/api/auth/tokens", {"label": "ops", "days": 1}).json()["token"]
    bearer = client_for(app).post(f"/api/alerts/{alert_id}/acknowledge", headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 200 and bearer.json()["acknowledged_by"]["name"] == "Agent2"


def test_the_api_is_documented(signed_in: Dict[str, LoggedIn]) -> None:
    paths = signed_in["agent"].get("/api/openapi.json").json()["paths"]
    assert set(paths["/api/alerts"]) == {"get"} and set(paths["/api/alerts/{alert_id}"]) == {"get"}
    acknowledge = paths["/api/alerts/{alert_id}/acknowledge"]["post"]
    assert {"200", "403", "404", "409"} <= set(acknowledge["responses"])
    assert "post" in paths["/api/alerts/{alert_id}/resolve"]


def test_the_pages_show_the_banner_slot_and_the_audit_filter(
    signed_in: Dict[str, LoggedIn], storm: Tuple[int, List[int]]
) -> None:
    alert_id, _ = storm
    agent, admin = signed_in["agent"], signed_in["admin"]
    for path in ("/alerts", f"/alerts/{alert_id}", "/", "/review"):
        page = agent.get(path)
        assert page.status_code == 200, path
        assert 'id="alert-banner"' in page.text and "/static/alerts.js" in page.text, path
    assert f'data-selected="{alert_id}"' in agent.get(f"/alerts/{alert_id}").text
    audit_page = admin.get("/admin/audit").text
    assert "<option>alert_acknowledged</option>" in audit_page and "<option>alert_resolved</option>" in audit_page
    assert agent.get("/static/alerts.js").status_code == 200 and agent.get("/static/alerts.css").status_code == 200
