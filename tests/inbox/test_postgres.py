"""The same inbox on a fresh PostgreSQL database: the migration, JSON sentiment filter, search, the queue,
a take over through the fake Rasa, and the audit trail (skipped only when PostgreSQL does not answer)."""

from __future__ import annotations

from sqlalchemy import select

from inbox.main import create_app
from inbox.services.agents import create_agent
from storage.engine import session_scope
from storage.migrate import upgrade
from storage.models import AuditEntry
from storage.seed import seed
from tests.support.inbox import PASSWORDS, FakeRasaApi, LoggedIn, client_for, customer_says, escalate, make_settings


def test_inbox_on_postgresql(fresh_postgres_url: str, fake_rasa: FakeRasaApi) -> None:
    url = fresh_postgres_url
    upgrade(url)
    with session_scope(url) as db:
        seed(db)
        agent_id = create_agent(db, "agent@harbor.example", "Agent", "agent", PASSWORDS["agent"]).id
    customer_says(url, "pg-1", "Furious about my 50% premium rise", sentiment={"label": "negative", "confidence": 0.9})
    customer_says(url, "pg-2", "lovely, thanks", channel="telegram", sentiment={"label": "positive", "confidence": 0.8})
    escalate(url, "pg-1", priority=2, minutes_ago=30)
    escalate(url, "pg-2", priority=1, minutes_ago=1)

    client = client_for(create_app(make_settings(url, fake_rasa.url)))
    login = client.post("/api/auth/login", json={"email": "agent@harbor.example", "password": PASSWORDS["agent"]})
    agent = LoggedIn(client, login.json()["csrf_token"])

    def ids(query: str) -> list:
        return [c["id"] for c in agent.get(f"/api/conversations?{query}").json()["items"]]

    assert ids("sentiment=negative") == ["pg-1"]
    assert ids("q=50%25%20PREMIUM") == ["pg-1"]
    assert ids("channel=telegram&status=escalated") == ["pg-2"]
    queue = agent.get("/api/escalations").json()
    assert [(q["conversation_id"], q["sla_state"]) for q in queue] == [("pg-2", "running"), ("pg-1", "breached")]
    assert agent.post("/api/conversations/pg-1/take-over").status_code == 200
    assert fake_rasa.requests[0].body == {"event": "pause"}
    assert agent.post("/api/conversations/pg-1/resolve").status_code == 200
    with session_scope(url) as db:
        actions = [(a.action, a.agent_id) for a in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == [("agent_created", None), ("login", agent_id), ("take_over", agent_id), ("resolve", agent_id)]
