"""Harvested agents' replies through the inbox's API, as agents use it: resolving a handoff on WhatsApp
proposes the agent's reply with the customer's name, phone and policy number gone and the product guessed;
approving it (edits redacted again) gives a pending past reply that a running answerer then answers a new
wording of the question with, without a rebuild; rejecting adds nothing; every decision is audited; a
reply customers keep 👎-ing is listed as demoted, then retired; bad input is a 4xx with a message."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest
from sqlalchemy import select

from learning import harvest
from retrieval.encoder import Encoder
from storage.engine import session_scope
from storage.models import AuditEntry, PastReply
from tests.support.harvest import (
    IDENTITY,
    NEW_WORDING,
    PERSONAL,
    QUESTION,
    REPLY,
    SENDER,
    answerer_for,
    give_feedback,
    small_index,
)
from tests.support.inbox import FakeRasaApi, LoggedIn, broker_for, client_for, customer_says, escalate


def resolved_handoff(db_url: str, fake_rasa: FakeRasaApi, agent: LoggedIn, reply: str = REPLY) -> Dict:
    """A WhatsApp customer who named themselves asks, is handed over; the agent takes over, replies and
    resolves through the API; Rasa's broker (played by the fake) logs the reply. Returns the proposal."""
    fake_rasa.on_event = broker_for(db_url)
    customer_says(db_url, SENDER, QUESTION, "whatsapp", "ask_coverage", metadata={"channel_identity": IDENTITY})
    customer_says(db_url, SENDER, "can I talk to a person", "whatsapp", "request_human")
    escalate(db_url, SENDER, priority=2, reason="customer_request")
    assert agent.post(f"/api/conversations/{SENDER}/take-over").status_code == 200
    assert agent.post(f"/api/conversations/{SENDER}/replies", {"text": reply}).status_code in (200, 202)
    assert agent.post(f"/api/conversations/{SENDER}/resolve").status_code == 200
    proposals = agent.get("/api/harvest/proposals").json()
    assert len(proposals) == 1
    return proposals[0]


def test_a_resolved_handoff_is_proposed_without_personal_data(
    agent: LoggedIn, fake_rasa: FakeRasaApi, db_url: str
) -> None:
    proposal = resolved_handoff(db_url, fake_rasa, agent)
    assert proposal["status"] == "proposed" and proposal["product_line"] == "auto"
    for text in (proposal["question"], proposal["reply"]):
        assert not [p for p in PERSONAL if p.lower() in text.lower()], text
    assert "[name]" in proposal["reply"] and "[phone]" in proposal["reply"]
    assert "learner's permit" in proposal["question"] and "person" not in proposal["question"]
    assert len(proposal["source_message_ids"]["reply"]) == 1


def test_approved_it_answers_a_new_wording_without_a_rebuild(
    agent: LoggedIn, fake_rasa: FakeRasaApi, db_url: str, agents: Dict[str, int], tmp_path: Path
) -> None:
    encoder = Encoder()
    small_index(db_url, tmp_path / "index", encoder)
    answerer = answerer_for(db_url, tmp_path / "index", encoder)
    before = answerer.answer(NEW_WORDING)
    proposal = resolved_handoff(db_url, fake_rasa, agent)

    response = agent.post(f"/api/harvest/proposals/{proposal['id']}/approve")
    assert response.status_code == 200, response.text
    approved = response.json()
    assert approved["status"] == "approved" and approved["decided_by"]["id"] == agents["agent"]
    with session_scope(db_url) as db:
        row = db.get(PastReply, approved["past_reply_id"])
        assert (row.source, row.embedding_model, row.active) == ("inbox", None, True)

    assert answerer.refresh().added == 1
    answer = answerer.answer(NEW_WORDING)
    assert answer is not None and answer.record.reply_id == f"inbox-proposal-{proposal['id']}"
    assert answer.probability > before.probability
    assert "Sheena" not in answer.record.reply

    again = agent.post(f"/api/harvest/proposals/{proposal['id']}/reject")
    assert again.status_code == 409 and "already approved" in again.json()["detail"]
    with session_scope(db_url) as db:
        entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "reply_proposal_approved"))
        assert entry.agent_id == agents["agent"] and entry.conversation_id == SENDER
        assert entry.detail == {"proposal_id": proposal["id"], "past_reply_id": row.id, "edited": False}


def test_an_edited_approval_is_redacted_again(agent: LoggedIn, fake_rasa: FakeRasaApi, db_url: str) -> None:
    proposal = resolved_handoff(db_url, fake_rasa, agent)
    edit = {"reply": "Yes, Sheena: a learner is covered with a licensed adult beside them. Text 555-000-1111."}
    approved = agent.post(f"/api/harvest/proposals/{proposal['id']}/approve", edit).json()
    assert approved["edited"] is True
    assert approved["reply"] == "Yes, [name]: a learner is covered with a licensed adult beside them. Text [phone]."
    assert agent.get("/api/harvest/proposals?status=approved").json()[0]["id"] == proposal["id"]


def test_rejected_nothing_is_added(admin: LoggedIn, agent: LoggedIn, fake_rasa: FakeRasaApi, db_url: str) -> None:
    proposal = resolved_handoff(db_url, fake_rasa, agent)
    rejected = admin.post(f"/api/harvest/proposals/{proposal['id']}/reject")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert agent.get("/api/harvest/proposals").json() == []  # the default list is what is left to decide
    with session_scope(db_url) as db:
        assert db.scalars(select(PastReply).where(PastReply.source == "inbox")).all() == []
        assert db.scalar(select(AuditEntry).where(AuditEntry.action == "reply_proposal_rejected")) is not None


def test_bad_requests_are_4xx_with_a_message(app, agent: LoggedIn, fake_rasa: FakeRasaApi, db_url: str) -> None:  # type: ignore[no-untyped-def]
    proposal = resolved_handoff(db_url, fake_rasa, agent)
    url = f"/api/harvest/proposals/{proposal['id']}/approve"
    cases = [
        (agent.post(url, {"question": "   "}), 422, "empty"),
        (agent.post(url, {"reply": "x" * 9000}), 422, ""),
        (agent.post(url, {"product_line": "pets"}), 422, "Unknown product line"),
        (agent.post(url, {"reply": 12}), 422, ""),
        (agent.post("/api/harvest/proposals/999999/approve"), 404, "no reply proposal"),
        (agent.post("/api/harvest/proposals/0/reject"), 422, ""),
        (agent.get("/api/harvest/proposals?status=maybe"), 422, "Unknown status"),
        (client_for(app).get("/api/harvest/proposals"), 401, ""),
        (client_for(app).get("/api/harvest/demoted"), 401, ""),
    ]
    for response, status, words in cases:
        assert response.status_code == status, response.text
        assert words in str(response.json()["detail"])
    assert agent.get("/api/harvest/proposals").json()[0]["status"] == "proposed"  # nothing half-done


def test_demoted_and_retired_replies_are_listed(agent: LoggedIn, db_url: str) -> None:
    with session_scope(db_url) as db:
        db.add_all(
            [
                PastReply(external_id="HM-AUTO-001", question="Is hail covered?", reply="Yes, comprehensive."),
                PastReply(external_id="HM-AUTO-002", question="Deer?", reply="Comprehensive."),
            ]
        )
    give_feedback(db_url, "HM-AUTO-001", "+---")
    give_feedback(db_url, "HM-AUTO-002", "-----")
    assert agent.get("/api/harvest/demoted").json() == []
    with session_scope(db_url) as db:
        harvest.apply_feedback(db)  # what each action server's answerer does at its refresh
    listed = {row["external_id"]: row for row in agent.get("/api/harvest/demoted").json()}
    assert listed["HM-AUTO-001"]["state"] == "demoted" and listed["HM-AUTO-002"]["state"] == "retired"
    assert (listed["HM-AUTO-001"]["helpful"], listed["HM-AUTO-001"]["not_helpful"]) == (1, 3)
    assert listed["HM-AUTO-002"]["retired_at"] is not None and listed["HM-AUTO-002"]["recent_total"] == 5


@pytest.mark.parametrize("status", ["proposed", "approved", "rejected", "all"])
def test_every_status_lists(agent: LoggedIn, status: str) -> None:
    assert agent.get(f"/api/harvest/proposals?status={status}").json() == []
