"""Take over, reply, hand back and resolve reach Rasa's HTTP API (a fake one on 127.0.0.1) with the token
and the documented event bodies; state rules answer 409; every action leaves an audit row."""

from __future__ import annotations

from sqlalchemy import func, select

from storage.engine import session_scope
from storage.models import AuditEntry, Conversation, Escalation, Message
from tests.support.inbox import RASA_TOKEN, FakeRasaApi, LoggedIn, broker_for, customer_says, escalate, login

EVENTS_PATH = "/conversations/web-1/tracker/events"


def audit_rows(db_url: str, action: str) -> list:
    with session_scope(db_url) as db:
        return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def conversation(db_url: str, conversation_id: str = "web-1") -> Conversation:
    with session_scope(db_url) as db:
        return db.get(Conversation, conversation_id)


def escalated(db_url: str) -> int:
    customer_says(db_url, "web-1", "This is the third time I ask!!", sentiment={"label": "negative", "confidence": 0.9})
    return escalate(db_url, "web-1", priority=1)


def test_take_over_reply_hand_back_reach_rasa(agent: LoggedIn, fake_rasa: FakeRasaApi, db_url, agents) -> None:  # type: ignore[no-untyped-def]
    fake_rasa.on_event = broker_for(db_url)
    escalation_id = escalated(db_url)

    taken = agent.post("/api/conversations/web-1/take-over")
    assert taken.status_code == 200, taken.text
    assert taken.json()["status"] == "open" and taken.json()["assignee"]["id"] == agents["agent"]
    reply = agent.post("/api/conversations/web-1/replies", {"text": "  Hi, I'm Agent from claims. Let me look.  "})
    assert reply.status_code == 202 and reply.json()["status"] == "sent"
    back = agent.post("/api/conversations/web-1/hand-back")
    assert back.status_code == 200 and back.json()["status"] == "pending" and back.json()["assignee"] is None

    assert [r.path for r in fake_rasa.requests] == [EVENTS_PATH] * 3
    for request in fake_rasa.requests:
        assert request.token == RASA_TOKEN
        assert request.query["output_channel"] == ["latest"]
        assert request.query["execute_side_effects"] == ["true"]
    assert [r.body for r in fake_rasa.requests] == [
        {"event": "pause"},
        {
            "event": "bot",
            "text": "Hi, I'm Agent from claims. Let me look.",
            "metadata": {"author": "agent", "agent_id": agents["agent"], "agent": "Agent"},
        },
        {"event": "resume"},
    ]
    with session_scope(db_url) as db:
        # the reply is in the interaction log once, written by "Rasa's broker", not by the inbox
        agent_rows = db.scalars(select(Message).where(Message.author == "agent")).all()
        assert [(m.text, m.answer_source, m.agent_id) for m in agent_rows] == [
            ("Hi, I'm Agent from claims. Let me look.", "agent", agents["agent"])
        ]
        escalation = db.get(Escalation, escalation_id)
        assert escalation.open is False and escalation.outcome == "handed_back"
        assert escalation.closed_by_id == agents["agent"] and escalation.assigned_at is not None
        assert db.get(Conversation, "web-1").status == "pending"
    detail = agent.get("/api/conversations/web-1").json()
    # the transcript says who answered, not just that a person did
    assert [(m["author"], m["agent_name"]) for m in detail["messages"]] == [("customer", None), ("agent", "Agent")]
    for action in ("take_over", "reply", "hand_back"):
        rows = audit_rows(db_url, action)
        assert len(rows) == 1 and rows[0].agent_id == agents["agent"] and rows[0].conversation_id == "web-1"
    assert audit_rows(db_url, "reply")[0].detail == {"characters": 39}  # the length, not a copy of the text


def test_reply_needs_a_taken_over_conversation(agent: LoggedIn, fake_rasa: FakeRasaApi, db_url) -> None:  # type: ignore[no-untyped-def]
    escalated(db_url)
    response = agent.post("/api/conversations/web-1/replies", {"text": "hello"})
    assert response.status_code == 409 and "Take the conversation over" in response.json()["detail"]
    assert fake_rasa.requests == [] and audit_rows(db_url, "reply") == []


def test_wrong_states_are_409(agent: LoggedIn, fake_rasa: FakeRasaApi, db_url, app) -> None:  # type: ignore[no-untyped-def]
    customer_says(db_url, "web-1", "hi")
    assert agent.post("/api/conversations/web-1/hand-back").status_code == 409  # the bot has it
    assert agent.post("/api/conversations/web-1/take-over").status_code == 200  # agents may step in any time
    again = agent.post("/api/conversations/web-1/take-over")
    assert again.status_code == 409 and "already" in again.json()["detail"]
    other = login(app, "agent2")
    stolen = other.post("/api/conversations/web-1/take-over")
    assert stolen.status_code == 403 and "Agent has this conversation" in stolen.json()["detail"]
    assert other.post("/api/conversations/web-1/replies", {"text": "me too"}).status_code == 403
    assert agent.post("/api/conversations/web-1/resolve").status_code == 200
    assert agent.post("/api/conversations/web-1/resolve").status_code == 409
    assert [r.body["event"] for r in fake_rasa.requests] == ["pause", "resume"]


def test_resolve_closes_escalations_and_resumes_a_paused_bot(agent: LoggedIn, fake_rasa: FakeRasaApi, db_url) -> None:  # type: ignore[no-untyped-def]
    escalation_id = escalated(db_url)
    resolved = agent.post("/api/conversations/web-1/resolve")
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    assert [r.body for r in fake_rasa.requests] == [{"event": "resume"}]
    with session_scope(db_url) as db:
        escalation = db.get(Escalation, escalation_id)
        assert (escalation.open, escalation.outcome) == (False, "resolved") and escalation.resolved_at
    assert agent.get("/api/escalations").json() == []
    assert len(audit_rows(db_url, "resolve")) == 1


def test_resolving_a_bot_conversation_does_not_call_rasa(agent: LoggedIn, fake_rasa: FakeRasaApi, db_url) -> None:  # type: ignore[no-untyped-def]
    customer_says(db_url, "web-1", "thanks, all good")
    assert agent.post("/api/conversations/web-1/resolve").status_code == 200
    assert fake_rasa.requests == []


def test_when_rasa_refuses_nothing_changes(agent: LoggedIn, fake_rasa: FakeRasaApi, db_url) -> None:  # type: ignore[no-untyped-def]
    escalated(db_url)
    fake_rasa.status = 500
    response = agent.post("/api/conversations/web-1/take-over")
    assert response.status_code == 502 and "Rasa refused the pause event" in response.json()["detail"]
    state = conversation(db_url)
    assert state.status == "escalated" and state.assignee_id is None
    assert audit_rows(db_url, "take_over") == []


def test_when_rasa_is_down_the_agent_is_told(app, agent: LoggedIn, db_url) -> None:  # type: ignore[no-untyped-def]
    from inbox.rasa_client import RasaClient

    escalated(db_url)
    app.state.rasa = RasaClient("http://127.0.0.1:9", "t", timeout=2)  # discard port: nothing listens
    response = agent.post("/api/conversations/web-1/take-over")
    assert response.status_code == 502 and "Rasa did not answer" in response.json()["detail"]


def test_conversation_ids_reach_rasa_unencoded(agent: LoggedIn, fake_rasa: FakeRasaApi, db_url) -> None:  # type: ignore[no-untyped-def]
    """Rasa does not decode its path: `whatsapp%3A…` would be another conversation (tests/security has the
    real router and every channel's id shape)."""
    customer_says(db_url, "whatsapp:15550001111", "hi", channel="whatsapp")
    assert agent.post("/api/conversations/whatsapp:15550001111/take-over").status_code == 200
    assert fake_rasa.requests[0].path == "/conversations/whatsapp:15550001111/tracker/events"
    assert fake_rasa.requests[0].token == RASA_TOKEN


def test_ids_a_url_cannot_carry_are_refused_before_rasa(agent: LoggedIn, fake_rasa: FakeRasaApi, db_url) -> None:  # type: ignore[no-untyped-def]
    customer_says(db_url, "tg:123 x?y#z&token=evil", "hi")
    refused = agent.post("/api/conversations/tg%3A123%20x%3Fy%23z%26token%3Devil/take-over")
    assert refused.status_code == 422 and "cannot address" in refused.json()["detail"]
    assert fake_rasa.requests == []


def test_assign_rules_and_audit(app, admin: LoggedIn, agent: LoggedIn, db_url, agents) -> None:  # type: ignore[no-untyped-def]
    escalation_id = escalated(db_url)
    refused = agent.post("/api/conversations/web-1/assign", {"agent_id": agents["agent2"]})
    assert refused.status_code == 403 and "themselves" in refused.json()["detail"]
    mine = agent.post("/api/conversations/web-1/assign", {"agent_id": agents["agent"]})
    assert mine.status_code == 200 and mine.json()["assignee"]["name"] == "Agent"
    other = login(app, "agent2")
    assert other.post("/api/conversations/web-1/assign", {"agent_id": None}).status_code == 403
    moved = admin.post("/api/conversations/web-1/assign", {"agent_id": agents["agent2"]})
    assert moved.status_code == 200 and moved.json()["assignee"]["id"] == agents["agent2"]
    assert admin.post("/api/conversations/web-1/assign", {"agent_id": 999}).status_code == 404
    assert agent.post("/api/conversations/nope/assign", {"agent_id": agents["agent"]}).status_code == 404
    rows = audit_rows(db_url, "assign")
    assert [(r.agent_id, r.target_agent_id) for r in rows] == [
        (agents["agent"], agents["agent"]),
        (agents["admin"], agents["agent2"]),
    ]
    with session_scope(db_url) as db:
        assert db.get(Escalation, escalation_id).assigned_at is not None
    admin.patch(f"/api/agents/{agents['agent']}", {"active": False})
    disabled = admin.post("/api/conversations/web-1/assign", {"agent_id": agents["agent"]})
    assert disabled.status_code == 409


def test_notes_are_private_and_audited(agent: LoggedIn, fake_rasa: FakeRasaApi, db_url, agents) -> None:  # type: ignore[no-untyped-def]
    escalated(db_url)
    created = agent.post("/api/conversations/web-1/notes", {"body": "Customer called twice; check claim CL-204117"})
    assert created.status_code == 201
    note = created.json()
    assert note["agent_name"] == "Agent" and note["body"].startswith("Customer called twice")
    assert agent.get("/api/conversations/web-1/notes").json() == [note]
    assert agent.get("/api/conversations/web-1").json()["notes"] == [note]
    assert fake_rasa.requests == []  # never sent anywhere
    with session_scope(db_url) as db:
        assert db.scalar(select(func.count(Message.id)).where(Message.text.like("%called twice%"))) == 0
    rows = audit_rows(db_url, "note")
    assert len(rows) == 1 and rows[0].detail == {"note_id": note["id"]}


def test_agent_admin_and_audit_api(admin: LoggedIn, agent: LoggedIn, db_url, agents) -> None:  # type: ignore[no-untyped-def]
    created = admin.post(
        "/api/agents",
        {"email": "New@Harbor.example", "name": "Nia New", "role": "agent", "password": "a-long-password"},
    )
    assert created.status_code == 201 and created.json()["email"] == "new@harbor.example"
    assert "password" not in created.json() and "password_hash" not in created.json()
    me = agents["admin"]
    assert admin.patch(f"/api/agents/{me}", {"role": "agent"}).status_code == 409  # no self-demotion
    assert admin.patch(f"/api/agents/{me}", {"active": False}).status_code == 409
    promoted = admin.patch(f"/api/agents/{created.json()['id']}", {"role": "admin", "name": "Nia"})
    assert promoted.json()["role"] == "admin" and promoted.json()["name"] == "Nia"
    assert {a["name"] for a in agent.get("/api/agents/directory").json()} == {"Admin", "Agent", "Agent2", "Nia"}
    entries = admin.get("/api/audit").json()
    assert [e["action"] for e in entries[:2]] == ["agent_updated", "agent_created"]
    assert entries[1]["agent_name"] == "Admin" and entries[1]["target_agent_id"] == created.json()["id"]
    only_logins = admin.get("/api/audit?action=login").json()
    assert {e["agent_name"] for e in only_logins} == {"Admin", "Agent"}
    older = admin.get(f"/api/audit?before_id={entries[0]['id']}&limit=1").json()
    assert [e["id"] for e in older] == [entries[1]["id"]]
    assert admin.get("/api/audit?since=2999-01-01T00:00:00Z").json() == []
    page = admin.get("/admin/audit")
    assert page.status_code == 200 and "Audit log" in page.text
    assert agent.get("/admin/audit").status_code == 403


def test_two_agents_taking_over_at_once_cannot_both_win(
    agent: LoggedIn, fake_rasa: FakeRasaApi, db_url, agents
) -> None:  # type: ignore[no-untyped-def]
    escalated(db_url)

    def rival_takes_it_meanwhile(conversation_id: str, event: dict) -> None:
        with session_scope(db_url) as db:  # lands between our check and our update
            row = db.get(Conversation, conversation_id)
            row.status, row.assignee_id = "open", agents["agent2"]

    fake_rasa.on_event = rival_takes_it_meanwhile
    response = agent.post("/api/conversations/web-1/take-over")
    assert response.status_code == 409 and "Someone else changed" in response.json()["detail"]
    assert conversation(db_url).assignee_id == agents["agent2"]
    assert audit_rows(db_url, "take_over") == []


def test_every_audited_action_is_written(app, admin: LoggedIn, fake_rasa: FakeRasaApi, db_url, agents) -> None:  # type: ignore[no-untyped-def]
    from inbox.services.audit import ACTIONS
    from tests.support.alert_inbox import customer_storm, stored_alert
    from tests.support.inbox import client_for

    escalated(db_url)
    client_for(app).post("/api/auth/login", json={"email": "admin@harbor.example", "password": "wrong"})
    agent = login(app, "agent")
    agent.post("/api/conversations/web-1/assign", {"agent_id": agents["agent"]})
    agent.post("/api/conversations/web-1/take-over")
    agent.post("/api/conversations/web-1/replies", {"text": "Hello"})
    agent.post("/api/conversations/web-1/notes", {"body": "private"})
    agent.post("/api/conversations/web-1/hand-back")
    agent.post("/api/conversations/web-1/resolve")
    photo = {"attachments": [{"type": "image", "media_id": "AgAC"}]}
    photo_id = customer_says(db_url, "tg-1", "/share_attachment", "telegram", "share_attachment", metadata=photo)
    fake_rasa.media["telegram/AgAC"] = (b"\xff\xd8", "image/jpeg")
    agent.get(f"/api/conversations/tg-1/messages/{photo_id}/attachments/0")
    admin.post(f"/api/conversations/tg-1/messages/{photo_id}/reveal")
    token_id = agent.post("/api/auth/tokens", {"label": "script"}).json()["id"]
    agent.delete(f"/api/auth/tokens/{token_id}")
    question = customer_says(db_url, "tg-1", "is hail on my roof covered?", "telegram", "ask_coverage")
    annotation = agent.post(f"/api/review/messages/{question}/annotation", {"intent": "ask_coverage"}).json()
    admin.delete(f"/api/review/annotations/{annotation['id']}")
    admin.post("/api/review/bulk-accept", {"message_ids": [question]})
    fake_rasa.on_event = broker_for(db_url)  # agents' replies logged: resolving proposes them as past replies
    for handoff in ("whatsapp:15550001111", "telegram:123456789"):
        customer_says(db_url, handoff, "is hail damage on my car covered?", handoff.split(":")[0], "ask_coverage")
        escalate(db_url, handoff, priority=2)
        agent.post(f"/api/conversations/{handoff}/take-over")
        agent.post(f"/api/conversations/{handoff}/replies", {"text": "Yes, hail is covered under comprehensive."})
        agent.post(f"/api/conversations/{handoff}/resolve")
    first, second = (proposal["id"] for proposal in agent.get("/api/harvest/proposals").json())
    agent.post(f"/api/harvest/proposals/{first}/approve")
    agent.post(f"/api/harvest/proposals/{second}/reject")
    agent.post("/api/auth/password", {"current_password": "agent-password-123", "new_password": "agent-password-456"})
    agent.post("/api/auth/logout")
    created = admin.post("/api/agents", {"email": "n@harbor.example", "name": "N", "password": "long-enough-pw"}).json()
    admin.patch(f"/api/agents/{created['id']}", {"name": "Nora"})
    admin.patch(f"/api/agents/{created['id']}", {"active": False})
    canned = admin.post("/api/canned-responses", {"short_code": "hi", "content": "Hello!"}).json()
    admin.patch(f"/api/canned-responses/{canned['id']}", {"content": "Hello there!"})
    admin.delete(f"/api/canned-responses/{canned['id']}")
    alert_id = stored_alert(db_url, customer_storm(db_url))  # a spike alert someone takes on, then closes
    assert admin.post(f"/api/alerts/{alert_id}/acknowledge").status_code == 200
    assert admin.post(f"/api/alerts/{alert_id}/resolve").status_code == 200
    job = admin.post("/api/learning/retrain").json()  # queued for the learning worker, then called off
    assert admin.post(f"/api/learning/jobs/{job['id']}/cancel").status_code == 200
    tip = {"slug": "tip-x", "category": "safety_tip", "title": "T", "summary": "S", "body": "B"}
    item = admin.post("/api/content", tip).json()  # the content library: created, edited, retired, restored
    assert admin.patch(f"/api/content/{item['id']}", {"title": "Tip"}).status_code == 200
    assert admin.post(f"/api/content/{item['id']}/retire").status_code == 200
    assert admin.post(f"/api/content/{item['id']}/restore").status_code == 200
    with session_scope(db_url) as db:
        written = {row.action for row in db.scalars(select(AuditEntry))}
        disabled = db.scalar(select(AuditEntry).where(AuditEntry.action == "agent_disabled"))
        assert (disabled.agent_id, disabled.target_agent_id) == (agents["admin"], created["id"])
    # written outside the inbox's API: by the learning worker and the model registry, each tested where it runs
    # (tests/inbox/test_learning_jobs.py, tests/learning/test_registry.py), and by a customer withdrawing marketing
    # consent in chat (actions/marketing_consent.py, tests/unit/test_marketing_consent.py)
    elsewhere = {"retrain_job_started", "retrain_job_finished", "marketing_consent_withdrawn"} | {
        a for a in ACTIONS if a.startswith("model_")
    }
    assert written == set(ACTIONS) - elsewhere


def test_oversized_bodies_are_refused_before_reading(agent: LoggedIn, db_url) -> None:  # type: ignore[no-untyped-def]
    escalated(db_url)
    response = agent.post("/api/conversations/web-1/notes", {"body": "x" * 1_100_000})
    assert response.status_code == 413 and "over" in response.json()["detail"]


def test_a_reply_on_rasas_rest_channel_says_it_cannot_be_pushed(
    agent: LoggedIn, fake_rasa: FakeRasaApi, db_url
) -> None:  # type: ignore[no-untyped-def]
    customer_says(db_url, "rest-1", "hello", channel="rest")
    agent.post("/api/conversations/rest-1/take-over")
    response = agent.post("/api/conversations/rest-1/replies", {"text": "Hi there"})
    assert response.status_code == 202 and response.json()["status"] == "stored_only"
    assert "cannot push" in response.json()["detail"]
    assert fake_rasa.requests[-1].body["text"] == "Hi there"
