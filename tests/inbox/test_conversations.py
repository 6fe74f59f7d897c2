"""Reading the inbox: list filters and search, the transcript's per-message fields, the escalation queue's
order and SLA clocks, and malformed input answered with a 4xx and a message."""

from __future__ import annotations

import pytest

from storage.engine import session_scope
from storage.models import Conversation
from tests.support.inbox import LoggedIn, bot_says, customer_says, escalate

NEGATIVE = {"label": "negative", "confidence": 0.93}
POSITIVE = {"label": "positive", "confidence": 0.88}


@pytest.fixture
def inbox_data(db_url, agents):  # type: ignore[no-untyped-def]
    customer_says(db_url, "web-1", "My claim is a disgrace", "socketio", "complain", NEGATIVE)
    bot_says(db_url, "web-1", "I'm passing you to a person.", answer_source="handoff")
    customer_says(db_url, "tg-1", "thanks, 100% sorted_out", "telegram", "thank", POSITIVE)
    customer_says(db_url, "wa-1", "Does home cover a burst pipe?", "whatsapp", "ask_coverage", None)
    bot_says(
        db_url,
        "wa-1",
        "Yes, sudden burst pipes are covered.",
        answer_source="retrieval",
        past_reply_id=None,
        retrieval_score=0.81,
    )
    customer_says(db_url, "web-1", "Still waiting!!", "socketio", "complain", NEGATIVE)
    with session_scope(db_url) as db:
        db.get(Conversation, "tg-1").status = "resolved"
        db.get(Conversation, "wa-1").assignee_id = agents["agent"]
        db.get(Conversation, "wa-1").status = "open"
    escalate(db_url, "web-1", priority=1)
    return agents


def ids(response) -> list:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_list_is_newest_first_across_channels(agent: LoggedIn, inbox_data) -> None:
    response = agent.get("/api/conversations")
    assert ids(response) == ["web-1", "wa-1", "tg-1"]
    body = response.json()
    assert body["total"] == 3 and body["channels"] == ["socketio", "telegram", "whatsapp"]
    web = body["items"][0]
    assert web["status"] == "escalated" and web["sentiment"] == NEGATIVE
    assert web["last_message"]["text"] == "Still waiting!!" and web["escalation"]["priority"] == 1
    assert body["items"][1]["assignee"] == {"id": inbox_data["agent"], "name": "Agent"}
    assert body["items"][1]["status"] == "open"


@pytest.mark.parametrize(
    "query, expected",
    [
        ("status=escalated", ["web-1"]),
        ("status=resolved", ["tg-1"]),
        ("status=open", ["wa-1"]),
        ("status=pending", []),
        ("channel=telegram", ["tg-1"]),
        ("sentiment=negative", ["web-1"]),
        ("sentiment=positive", ["tg-1"]),
        ("assignee=me", ["wa-1"]),
        ("assignee=none", ["web-1", "tg-1"]),
        ("q=burst%20PIPE", ["wa-1"]),
        ("q=100%25", ["tg-1"]),  # % is a literal, not a wildcard
        ("q=th_nks", []),  # _ too: it must not match "thanks"
        ("q=sorted_out", ["tg-1"]),
        ("q=wa-", ["wa-1"]),
        ("status=escalated&sentiment=negative&channel=socketio", ["web-1"]),
        ("limit=1&offset=1", ["wa-1"]),
    ],
)
def test_filters_and_search(agent: LoggedIn, inbox_data, query: str, expected: list) -> None:
    assert ids(agent.get(f"/api/conversations?{query}")) == expected


def test_assignee_filter_by_id(admin: LoggedIn, inbox_data) -> None:
    assert ids(admin.get(f"/api/conversations?assignee={inbox_data['agent']}")) == ["wa-1"]


def test_transcript_has_intent_confidence_sentiment_and_answer_source(agent: LoggedIn, inbox_data) -> None:
    detail = agent.get("/api/conversations/wa-1").json()
    customer, bot = detail["messages"]
    assert (customer["author"], customer["channel"], customer["intent"], customer["confidence"]) == (
        "customer",
        "whatsapp",
        "ask_coverage",
        0.91,
    )
    assert bot["author"] == "bot" and bot["answer_source"] == "retrieval" and bot["retrieval_score"] == 0.81
    web = agent.get("/api/conversations/web-1").json()
    assert [m["sentiment"] for m in web["messages"]] == [NEGATIVE, None, NEGATIVE]
    assert web["escalations"][0]["open"] is True and web["notes"] == []
    newer = agent.get(f"/api/conversations/web-1/messages?after_id={web['messages'][1]['id']}").json()
    assert [m["text"] for m in newer] == ["Still waiting!!"]


def test_queue_orders_by_priority_then_waiting_time_with_sla(agent: LoggedIn, db_url, inbox_data) -> None:
    for conversation_id, priority, minutes_ago in (
        ("q-low-old", 3, 90),
        ("q-urgent-new", 1, 1),
        ("q-normal-old", 2, 20),
        ("q-urgent-old", 1, 7),
    ):
        customer_says(db_url, conversation_id, "help")
        escalate(db_url, conversation_id, priority, minutes_ago=minutes_ago)
    queue = agent.get("/api/escalations").json()
    assert [item["conversation_id"] for item in queue] == [
        "q-urgent-old",
        "q-urgent-new",
        "web-1",
        "q-normal-old",
        "q-low-old",
    ]
    by_id = {item["conversation_id"]: item for item in queue}
    assert by_id["q-urgent-old"]["sla_minutes"] == 5 and by_id["q-urgent-old"]["sla_state"] == "breached"
    assert by_id["q-urgent-new"]["sla_state"] == "running"
    assert by_id["q-normal-old"]["sla_minutes"] == 15 and by_id["q-normal-old"]["sla_state"] == "breached"
    assert by_id["q-low-old"]["sla_minutes"] == 60 and by_id["q-low-old"]["waiting_seconds"] >= 90 * 60 - 5
    assert by_id["web-1"]["sentiment"] == NEGATIVE and by_id["web-1"]["channel"] == "socketio"
    assert by_id["q-urgent-new"]["sla_due_at"].endswith("+00:00")
    assert agent.get("/api/escalations/sla").json() == {"1": 5, "2": 15, "3": 60}


def test_sla_met_when_an_agent_replied_in_time(agent: LoggedIn, db_url, inbox_data) -> None:
    bot_says(db_url, "web-1", "Hi, I'm Sam from the claims team.", author="agent")
    item = agent.get("/api/escalations").json()[0]
    assert item["conversation_id"] == "web-1" and item["sla_state"] == "met" and item["first_response_at"]


@pytest.mark.parametrize(
    "method, path, body, status",
    [
        ("GET", "/api/conversations?status=sleeping", None, 422),
        ("GET", "/api/conversations?sentiment=furious", None, 422),
        ("GET", "/api/conversations?assignee=someone", None, 422),
        ("GET", "/api/conversations?limit=0", None, 422),
        ("GET", "/api/conversations?limit=abc", None, 422),
        ("GET", "/api/conversations?offset=-1", None, 422),
        ("GET", "/api/conversations?q=" + "x" * 201, None, 422),
        ("GET", "/api/conversations/nope", None, 404),
        ("GET", "/api/conversations/nope/messages", None, 404),
        ("GET", "/api/conversations/web-1/messages?after_id=-5", None, 422),
        ("GET", "/api/conversations/nope/notes", None, 404),
        ("POST", "/api/conversations/nope/notes", {"body": "x"}, 404),
        ("POST", "/api/conversations/web-1/notes", {"body": "   "}, 422),
        ("POST", "/api/conversations/web-1/notes", {"body": 5}, 201),  # pydantic v1 coerces to "5"
        ("POST", "/api/conversations/web-1/notes", {"text": "wrong field"}, 422),
        ("POST", "/api/conversations/web-1/notes", ["not", "an", "object"], 422),
        ("POST", "/api/conversations/web-1/replies", {"text": ""}, 422),
        ("POST", "/api/conversations/web-1/replies", {"text": "x" * 4001}, 422),
        ("POST", "/api/conversations/web-1/assign", {"agent_id": "abc"}, 422),
        ("POST", "/api/conversations/web-1/assign", {}, 422),
        ("POST", "/api/conversations/nope/take-over", None, 404),
        ("GET", "/api/audit", None, 403),
        ("GET", "/api/nothing-here", None, 404),
        ("DELETE", "/api/conversations", None, 405),
    ],
)
def test_malformed_input_gets_a_4xx_with_a_message(agent: LoggedIn, inbox_data, method, path, body, status) -> None:  # type: ignore[no-untyped-def]
    response = agent.client.request(method, path, json=body, headers={"X-CSRF-Token": agent.csrf})
    assert response.status_code == status, response.text
    if status >= 400:
        detail = response.json()["detail"]
        assert isinstance(detail, str) and detail


def test_invalid_json_body_is_a_422_not_a_500(agent: LoggedIn, inbox_data) -> None:
    response = agent.client.post(
        "/api/conversations/web-1/notes",
        content=b"{not json",
        headers={"X-CSRF-Token": agent.csrf, "Content-Type": "application/json"},
    )
    assert response.status_code == 422 and "JSON" in response.json()["detail"]


def test_admin_validation_errors(admin: LoggedIn, inbox_data) -> None:
    cases = [
        ("/api/agents", {"email": "x@y.z", "name": "X", "password": "short"}, 422),
        ("/api/agents", {"email": "not-an-email", "name": "X", "password": "long-enough-pw"}, 422),
        ("/api/agents", {"email": "a@b.example", "name": "X", "role": "root", "password": "long-enough-pw"}, 422),
        ("/api/agents", {"email": "AGENT@harbor.example", "name": "Dup", "password": "long-enough-pw"}, 409),
        ("/api/canned-responses", {"short_code": "has space", "content": "x"}, 422),
        ("/api/canned-responses", {"short_code": "ok", "content": ""}, 422),
    ]
    for path, body, status in cases:
        response = admin.post(path, body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["detail"]
    assert admin.patch("/api/agents/999", {"name": "Ghost"}).status_code == 404
    assert admin.patch("/api/canned-responses/999", {"content": "x"}).status_code == 404
    assert admin.get("/api/audit?action=dance").status_code == 422


def test_media_sent_without_words_show_in_the_list_and_the_transcript(agent: LoggedIn, db_url: str) -> None:
    photo = {"type": "image", "media_id": "AgACAgQ", "mime_type": "image/jpeg"}
    pdf = {"type": "file", "media_id": "BQACAgQ", "file_name": "repair-quote.pdf"}
    metadata = {"attachments": [photo, pdf]}
    customer_says(db_url, "tg-7", "/share_attachment", "telegram", "share_attachment", None, metadata=metadata)

    listed = agent.get("/api/conversations").json()["items"][0]
    detail = agent.get("/api/conversations/tg-7").json()

    assert listed["last_message"]["text"] == "[photo, document]"
    [message] = detail["messages"]
    assert message["text"] is None and message["payload"] == {"attachments": [photo, pdf]}


def test_a_tapped_button_shows_as_its_title_in_the_list(agent: LoggedIn, db_url: str) -> None:
    collision = '/inform{"incident_type": "collision"}'
    bot_says(db_url, "web-8", "What happened?", data={"buttons": [{"title": "Collision", "payload": collision}]})
    customer_says(db_url, "web-8", collision, "socketio", "inform", None, metadata={"button_payload": True})

    listed = agent.get("/api/conversations").json()["items"][0]
    [_, tapped] = agent.get("/api/conversations/web-8").json()["messages"]

    assert listed["last_message"]["text"] == "Collision"
    assert tapped["text"] == collision and tapped["payload"] == {"button": {"title": "Collision", "payload": collision}}
