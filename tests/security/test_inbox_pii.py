"""Issue 12, finding 6 (PII): card numbers, SSNs, emails and phones customers type were shown in clear in
the inbox and found by its search. Now every read masks them (transcript, list previews, the queue, the
escalation note, the live stream's message shape), search does not match on them, and the original text
of a message is shown only to an admin or the conversation's assignee, one audited reveal at a time.
"""

from __future__ import annotations

from typing import Dict, List

from sqlalchemy import select

from storage.engine import session_scope
from storage.models import AuditEntry
from tests.support.inbox import (
    LoggedIn,
    bot_says,
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

CUSTOMER = "whatsapp:15550001111"
SAID = [
    "My card 4111 1111 1111 1111 was charged twice!!",
    "my SSN is 123-45-6789 and email jane.doe@gmail.com",
    "call me on +1 (555) 010-2233",
]
MASKED = [
    "My card [card ending 1111] was charged twice!!",
    "my SSN is [SSN] and email [email]",
    "call me on [phone]",
]


def seeded(url: str) -> List[int]:
    ids = [customer_says(url, CUSTOMER, text, channel="whatsapp") for text in SAID]
    escalate(url, CUSTOMER, priority=1)
    with session_scope(url) as db:  # action_escalate keeps the customer's words as the escalation's note
        from storage.models import Escalation

        db.scalars(select(Escalation)).one().note = SAID[0]
    return ids


def reveals(url: str) -> List[AuditEntry]:
    with session_scope(url) as db:
        return list(db.scalars(select(AuditEntry).where(AuditEntry.action == "message_revealed")))


def test_the_transcript_and_every_list_show_masks(agent: LoggedIn, db_url: str) -> None:  # noqa: F811
    seeded(db_url)
    detail = agent.get(f"/api/conversations/{CUSTOMER}").json()
    assert [m["text"] for m in detail["messages"]] == MASKED
    assert [m["masked"] for m in detail["messages"]] == [["card"], ["ssn", "email"], ["phone"]]
    assert detail["escalations"][0]["note"] == MASKED[0]
    lines = agent.get(f"/api/conversations/{CUSTOMER}/messages").json()
    assert [m["text"] for m in lines] == MASKED
    listed = agent.get("/api/conversations").json()["items"][0]
    assert listed["last_message"]["text"] == MASKED[2]
    (queued,) = agent.get("/api/escalations").json()
    assert queued["note"] == MASKED[0] and queued["last_message"]["text"] == MASKED[2]
    everything = str(agent.get(f"/api/conversations/{CUSTOMER}").json()) + str(agent.get("/api/escalations").json())
    for secret in ("4111 1111 1111 1111", "123-45-6789", "jane.doe@gmail.com", "010-2233"):
        assert secret not in everything


def test_bot_lines_and_payloads_are_masked_too(agent: LoggedIn, db_url: str) -> None:  # noqa: F811
    customer_says(db_url, CUSTOMER, "hi", channel="whatsapp")
    bot_says(db_url, CUSTOMER, "We will write to jane.doe@gmail.com", data={"buttons": [{"title": "Call 5550102233"}]})
    (_, line) = agent.get(f"/api/conversations/{CUSTOMER}/messages").json()
    assert line["text"] == "We will write to [email]"
    assert "5550102233" not in str(line["payload"]) and line["masked"] == ["email", "phone"]


def test_search_does_not_match_on_personal_data(agent: LoggedIn, db_url: str) -> None:  # noqa: F811
    seeded(db_url)
    customer_says(db_url, "3f2a9c0e4b1d4e5f8a7b6c5d4e3f2a1b", "what does my policy cover?")

    def found(q: str) -> List[str]:
        return [c["id"] for c in agent.get("/api/conversations", params={"q": q}).json()["items"]]

    for q in ("4111 1111", "1111 1111 1111", "123-45-6789", "45-67", "jane.doe", "gmail", "010-2233", "(555)"):
        assert found(q) == [], q
    assert found("charged twice") == [CUSTOMER]  # the words around them still find the conversation
    assert found("ending 1111") == []  # nor does the mask's wording match (it is not what anyone wrote)
    assert found("policy cover") == ["3f2a9c0e4b1d4e5f8a7b6c5d4e3f2a1b"]
    assert found("15550001111") == [CUSTOMER]  # the conversation id is not message text: it stays searchable


def test_reveal_is_for_the_assignee_and_admins_and_each_one_is_audited(
    app,  # noqa: F811
    admin: LoggedIn,  # noqa: F811
    agent: LoggedIn,  # noqa: F811
    agents: Dict[str, int],  # noqa: F811
    db_url: str,  # noqa: F811
) -> None:
    card, ssn_email, _ = seeded(db_url)
    path = f"/api/conversations/{CUSTOMER}/messages/{{}}/reveal"

    unassigned = agent.post(path.format(card))
    assert unassigned.status_code == 403 and "assigned" in unassigned.json()["detail"]
    assert agent.post(f"/api/conversations/{CUSTOMER}/assign", {"agent_id": agents["agent"]}).status_code == 200
    other = login(app, "agent2")
    assert other.post(path.format(card)).status_code == 403
    assert reveals(db_url) == []

    shown = agent.post(path.format(card))
    assert shown.status_code == 200 and shown.json()["text"] == SAID[0] and shown.json()["masked"] == ["card"]
    assert admin.post(path.format(ssn_email)).json()["text"] == SAID[1]
    assert agent.post(path.format(card)).status_code == 200  # again: another row
    rows = reveals(db_url)
    assert [(r.agent_id, r.conversation_id, r.detail) for r in rows] == [
        (agents["agent"], CUSTOMER, {"message_id": card, "kinds": ["card"]}),
        (agents["admin"], CUSTOMER, {"message_id": ssn_email, "kinds": ["ssn", "email"]}),
        (agents["agent"], CUSTOMER, {"message_id": card, "kinds": ["card"]}),
    ]
    # the transcript is still masked for everyone afterwards: a reveal shows, it does not unmask
    assert agent.get(f"/api/conversations/{CUSTOMER}").json()["messages"][0]["text"] == MASKED[0]
    # the audit log can be filtered to reveals
    assert len(admin.get("/api/audit", params={"action": "message_revealed"}).json()) == 3


def test_reveal_needs_a_message_of_that_conversation(admin: LoggedIn, db_url: str) -> None:  # noqa: F811
    (card, _, _) = seeded(db_url)
    elsewhere = customer_says(db_url, "telegram:123456789", "my email is a@b.io", channel="telegram")
    assert admin.post(f"/api/conversations/{CUSTOMER}/messages/{elsewhere}/reveal").status_code == 404
    assert admin.post(f"/api/conversations/telegram:123456789/messages/{card}/reveal").status_code == 404
    assert admin.post(f"/api/conversations/{CUSTOMER}/messages/999999/reveal").status_code == 404
    assert reveals(db_url) == []
    assert admin.post(f"/api/conversations/{CUSTOMER}/messages/{card}/reveal").json()["text"] == SAID[0]
    assert len(reveals(db_url)) == 1
