"""The review queue's API as agents and admins use it: the queue best first with reasons, a message with its
conversation and the model's top intents, annotate / undo / bulk accept with roles and the audit trail,
and a 4xx with a message for every bad input. On SQLite; the flow once more on PostgreSQL when it answers."""

from __future__ import annotations

import json
import threading
from typing import Any, Dict, List

import httpx
import pytest
from sqlalchemy import select

from inbox.main import create_app
from inbox.rasa_client import RasaClient
from inbox.services.agents import create_agent
from storage.engine import session_scope
from storage.migrate import upgrade
from storage.models import AuditEntry, Message
from storage.seed import seed
from tests.support.inbox import PASSWORDS, RASA_TOKEN, FakeRasaApi, LoggedIn, client_for, login, make_settings
from tests.support.review_logs import Chat

POLICY = {"entity": "policy_number", "value": "PX-88123", "start": 10, "end": 18}
RANKING = [
    {"name": "nlu_fallback", "confidence": 0.41},
    {"name": "file_claim", "confidence": 0.31},
    {"name": "claim_status", "confidence": 0.12},
    {"name": "complaint", "confidence": 0.08},
    {"name": "ask_coverage", "confidence": 0.05},
    {"name": "request_human", "confidence": 0.02},
    {"name": "greet", "confidence": 0.01},
]


@pytest.fixture
def logged(db_url: str) -> Dict[str, int]:
    ids = {}
    pipe = Chat(db_url, "whatsapp:15550001111")
    ids["pipe"] = pipe.customer("my policy PX-88123, is a burst pipe covered?", "ask_coverage", 0.88, [POLICY])
    ids["answer"] = pipe.retrieved_answer("Sudden burst pipes are covered; gradual leaks are not.", helpful=False)
    tree = Chat(db_url, "telegram:123456789", channel="telegram")
    tree.customer("hi", "greet", 0.99)
    tree.bot("Hi! How can I help?", utter_action="utter_greet")
    ids["tree"] = tree.customer("a tree fell on the shed what do i do", "nlu_fallback", 0.35)
    ids["rephrase"] = tree.bot("Sorry, I didn't get that.", utter_action="utter_ask_rephrase")
    ids["thanks"] = tree.customer("thank you!", "thank_you", 0.98)
    return ids


def queue_texts(client: LoggedIn, query: str = "") -> List[str]:
    response = client.get(f"/api/review/queue{query}")
    assert response.status_code == 200, response.text
    return [item["text"] for item in response.json()["items"]]


def audit_rows(db_url: str) -> List[tuple]:
    with session_scope(db_url) as db:
        rows = db.scalars(
            select(AuditEntry).where(AuditEntry.action.in_(["annotate", "annotation_undone", "bulk_accept"]))
        )
        return [(row.action, row.agent_id, row.conversation_id, row.detail) for row in rows]


def test_the_queue_is_best_first_with_reasons(agent: LoggedIn, logged: Dict[str, int]) -> None:
    body = agent.get("/api/review/queue").json()
    assert body["total"] == 2
    first, second = body["items"]
    assert (first["id"], first["channel"], first["score"]) == (logged["pipe"], "whatsapp", 5)
    assert first["reasons"] == [
        {"reason": "thumbs_down", "weight": 5, "why": "the customer gave the bot's answer to it a 👎"}
    ]
    assert (second["id"], [r["reason"] for r in second["reasons"]]) == (logged["tree"], ["fallback"])
    assert first["sent_at"].endswith("+00:00")
    assert queue_texts(agent, "?reason=fallback") == ["a tree fell on the shed what do i do"]
    assert queue_texts(agent, "?limit=1") == ["my policy PX-88123, is a burst pipe covered?"]


def test_the_floor_comes_from_the_settings(db_url: str, fake_rasa: FakeRasaApi, agents: Dict[str, int]) -> None:
    Chat(db_url, "messenger:4455667788", channel="messenger").customer("quote for my teen", "get_quote", 0.55)
    strict = login(create_app(make_settings(db_url, fake_rasa.url, review_confidence_floor=0.6)), "agent")
    lenient = login(create_app(make_settings(db_url, fake_rasa.url, review_confidence_floor=0.5)), "agent")
    assert queue_texts(strict) == ["quote for my teen"]
    assert queue_texts(lenient) == []


def test_a_take_over_in_the_inbox_puts_the_message_before_it_in_the_queue(
    agent: LoggedIn, db_url: str, fake_rasa: FakeRasaApi
) -> None:
    chat = Chat(db_url, "whatsapp:15550002222")
    chat.customer("I was hit by an uninsured driver", "file_claim", 0.94)
    chat.bot("I'm sorry to hear that. What's your policy number?", utter_action="utter_ask_policy_number")
    chat.customer("it was at a red light and he drove off", "inform", 0.81)
    assert agent.post("/api/conversations/whatsapp:15550002222/take-over").status_code == 200
    items = agent.get("/api/review/queue").json()["items"]
    assert [(i["text"], [r["reason"] for r in i["reasons"]]) for i in items] == [
        ("it was at a red light and he drove off", ["before_take_over"])
    ]


def parse_answering(ranking: List[Dict[str, Any]], seen: List[Dict[str, Any]]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append({"path": request.url.path, "token": request.url.params.get("token"), **json.loads(request.content)})
        return httpx.Response(200, json={"intent": ranking[0], "intent_ranking": ranking, "entities": []})

    return httpx.MockTransport(handler)


def test_a_message_with_its_conversation_and_the_models_top_intents(
    db_url: str, fake_rasa: FakeRasaApi, agents: Dict[str, int], logged: Dict[str, int]
) -> None:
    seen: List[Dict[str, Any]] = []
    rasa = RasaClient(fake_rasa.url, RASA_TOKEN, transport=parse_answering(RANKING, seen))
    agent = login(create_app(make_settings(db_url, fake_rasa.url), rasa), "agent")
    detail = agent.get(f"/api/review/messages/{logged['tree']}").json()
    assert seen == [{"path": "/model/parse", "token": RASA_TOKEN, "text": "a tree fell on the shed what do i do"}]
    assert detail["message"]["text"] == "a tree fell on the shed what do i do"
    assert [o["intent"] for o in detail["offered_intents"]] == [
        "file_claim",
        "claim_status",
        "complaint",
        "ask_coverage",
        "request_human",
    ]
    assert {o["source"] for o in detail["offered_intents"]} == {"model"}
    assert [(m["author"], m["text"]) for m in detail["context"]["before"]] == [
        ("customer", "hi"),
        ("bot", "Hi! How can I help?"),
    ]
    assert [(m["author"], m["text"]) for m in detail["context"]["after"]] == [
        ("bot", "Sorry, I didn't get that."),
        ("customer", "thank you!"),
    ]
    assert [(r["text"], r["answer_source"]) for r in detail["replies"]] == [("Sorry, I didn't get that.", "fallback")]
    assert [r["reason"] for r in detail["reasons"]] == ["fallback"]
    assert {"file_claim", "out_of_scope", "roadside_assistance"} <= set(detail["all_intents"])
    assert "nlu_fallback" not in detail["all_intents"] and "policy_number" in detail["all_entities"]
    assert detail["annotation"] is None


def test_without_rasa_the_logged_intent_is_offered(agent: LoggedIn, logged: Dict[str, int], db_url: str) -> None:
    """The fake Rasa answers /model/parse without a ranking; a Rasa that is down gives the same page."""
    detail = agent.get(f"/api/review/messages/{logged['pipe']}").json()
    assert detail["offered_intents"] == [{"intent": "ask_coverage", "confidence": None, "source": "log"}]
    down = login(create_app(make_settings(db_url, "http://127.0.0.1:9")), "agent")
    assert down.get(f"/api/review/messages/{logged['pipe']}").json()["offered_intents"][0]["source"] == "log"


def test_annotate_then_an_admin_undoes_it_and_the_audit_says_who(
    agent: LoggedIn, admin: LoggedIn, app, agents: Dict[str, int], db_url: str, logged: Dict[str, int]
) -> None:  # type: ignore[no-untyped-def]
    message_id = logged["pipe"]
    with session_scope(db_url) as db:
        logged_row = {c: getattr(db.get(Message, message_id), c) for c in ("text", "intent", "confidence", "entities")}
    body = {"intent": "ask_coverage", "entities": [POLICY], "sentiment": "neutral", "reply_verdict": "wrong"}
    response = agent.post(f"/api/review/messages/{message_id}/annotation", body)
    assert response.status_code == 201, response.text
    annotation = response.json()
    assert annotation["annotator"] == {"id": agents["agent"], "name": "Agent"}
    assert annotation["original"]["intent"] == "ask_coverage" and annotation["original"]["confidence"] == 0.88
    assert (annotation["reply_verdict"], annotation["status"], annotation["bulk"]) == ("wrong", "active", False)
    assert "my policy PX-88123, is a burst pipe covered?" not in queue_texts(agent)
    assert agent.get(f"/api/review/messages/{message_id}").json()["annotation"]["id"] == annotation["id"]

    rival = login(app, "agent2").post(f"/api/review/messages/{message_id}/annotation", {"intent": "complaint"})
    assert rival.status_code == 409 and "already annotated (by Agent" in rival.json()["detail"]
    assert agent.delete(f"/api/review/annotations/{annotation['id']}").status_code == 403

    undone = admin.delete(f"/api/review/annotations/{annotation['id']}")
    assert undone.status_code == 200 and undone.json()["undone_by"] == {"id": agents["admin"], "name": "Admin"}
    assert queue_texts(agent)[0] == "my policy PX-88123, is a burst pipe covered?"
    again = admin.delete(f"/api/review/annotations/{annotation['id']}")
    assert again.status_code == 409 and "already undone" in again.json()["detail"]

    assert audit_rows(db_url) == [
        ("annotate", agents["agent"], "whatsapp:15550001111", {
            "annotation_id": annotation["id"], "message_id": message_id, "intent": "ask_coverage",
            "original_intent": "ask_coverage",
        }),
        ("annotation_undone", agents["admin"], "whatsapp:15550001111", {
            "annotation_id": annotation["id"], "message_id": message_id,
        }),
    ]  # fmt: skip
    trail = admin.get("/api/audit?action=annotation_undone").json()
    assert [(e["agent_name"], e["target_agent_name"]) for e in trail] == [("Admin", "Agent")]
    with session_scope(db_url) as db:
        row = db.get(Message, message_id)
        assert {c: getattr(row, c) for c in logged_row} == logged_row
    listed = agent.get("/api/review/annotations?status=all").json()
    assert [(a["id"], a["status"]) for a in listed] == [(annotation["id"], "undone")]


def test_bulk_accept_is_for_admins(agent: LoggedIn, admin: LoggedIn, agents, db_url, logged) -> None:  # type: ignore[no-untyped-def]
    ids = [logged["pipe"], logged["thanks"], logged["tree"], logged["rephrase"]]
    assert agent.post("/api/review/bulk-accept", {"message_ids": ids}).status_code == 403
    response = admin.post("/api/review/bulk-accept", {"message_ids": ids})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(a["message_id"], a["intent"], a["bulk"]) for a in body["accepted"]] == [
        (logged["pipe"], "ask_coverage", True),
        (logged["thanks"], "thank_you", True),
    ]
    assert body["accepted"][0]["entities"] == [POLICY]
    assert [s["message_id"] for s in body["skipped"]] == [logged["tree"], logged["rephrase"]]
    assert queue_texts(agent) == ["a tree fell on the shed what do i do"]
    assert audit_rows(db_url) == [
        ("bulk_accept", agents["admin"], None, {
            "message_ids": [logged["pipe"], logged["thanks"]], "skipped": [logged["tree"], logged["rephrase"]],
        })
    ]  # fmt: skip


@pytest.mark.parametrize(
    "method, path, body, status, message",
    [
        ("post", "/api/review/messages/987654/annotation", {"intent": "greet"}, 404, "There is no message 987654"),
        ("post", "/api/review/messages/{rephrase}/annotation", {"intent": "greet"}, 422, "not a customer's"),
        ("post", "/api/review/messages/{pipe}/annotation", {"intent": "adopt_iguana"}, 422, "not in the domain"),
        (
            "post",
            "/api/review/messages/{pipe}/annotation",
            {"intent": "ask_coverage", "entities": [{**POLICY, "start": 40, "end": 48}]},
            422,
            "lies outside the message",
        ),
        (
            "post",
            "/api/review/messages/{pipe}/annotation",
            {"intent": "ask_coverage", "entities": [{**POLICY, "value": "PX-99999"}]},
            422,
            "not 'PX-99999'",
        ),
        ("post", "/api/review/messages/{pipe}/annotation", {"intent": "greet", "sentiment": "livid"}, 422, "sentiment"),
        ("post", "/api/review/messages/{pipe}/annotation", {"entities": []}, 422, "body.intent"),
        ("post", "/api/review/messages/99999999999/annotation", {"intent": "greet"}, 422, "message_id"),
        ("get", "/api/review/messages/{answer}", None, 422, "not a customer's"),
        ("get", "/api/review/messages/987654", None, 404, "There is no message"),
        ("get", "/api/review/queue?reason=boring", None, 422, "reason must be one of"),
        ("get", "/api/review/queue?limit=0", None, 422, "query.limit"),
        ("delete", "/api/review/annotations/987654", None, 404, "There is no annotation 987654"),
        ("post", "/api/review/bulk-accept", {"message_ids": []}, 422, "body.message_ids"),
        ("post", "/api/review/bulk-accept", {"message_ids": ["x"]}, 422, "body.message_ids"),
    ],
)
def test_bad_input_is_a_4xx_with_a_message(
    admin: LoggedIn, logged: Dict[str, int], method: str, path: str, body: Any, status: int, message: str
) -> None:
    path = path.format(**logged)
    response = getattr(admin, method)(path, body) if body is not None else getattr(admin, method)(path)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]


def test_routes_are_documented_and_protected(app, agent: LoggedIn, logged: Dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    paths = app.openapi()["paths"]
    assert {"/api/review/queue", "/api/review/messages/{message_id}", "/api/review/messages/{message_id}/annotation",
            "/api/review/annotations/{annotation_id}", "/api/review/bulk-accept"} <= set(paths)  # fmt: skip
    assert "409" in paths["/api/review/messages/{message_id}/annotation"]["post"]["responses"]
    assert client_for(app).get("/api/review/queue").status_code == 401
    no_csrf = agent.client.post(f"/api/review/messages/{logged['tree']}/annotation", json={"intent": "file_claim"})
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["detail"]


def test_two_agents_annotating_at_once(app, agents, logged: Dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    clients = [login(app, "agent"), login(app, "agent2")]
    statuses: List[int] = []
    barrier = threading.Barrier(2)

    def annotate(client: LoggedIn, intent: str) -> None:
        barrier.wait()
        statuses.append(
            client.post(f"/api/review/messages/{logged['tree']}/annotation", {"intent": intent}).status_code
        )

    threads = [
        threading.Thread(target=annotate, args=(clients[0], "file_claim")),
        threading.Thread(target=annotate, args=(clients[1], "complaint")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [201, 409]
    listed = clients[0].get(f"/api/review/annotations?message_id={logged['tree']}").json()
    assert len(listed) == 1


def test_review_on_postgresql(fresh_postgres_url: str, fake_rasa: FakeRasaApi) -> None:
    url = fresh_postgres_url
    upgrade(url)
    with session_scope(url) as db:
        seed(db)
        for email, name, role in (
            ("agent@harbor.example", "Agent", "agent"),
            ("admin@harbor.example", "Admin", "admin"),
        ):
            create_agent(db, email, name, role, PASSWORDS[role])
    chat = Chat(url, "whatsapp:15550009999")
    fallback = chat.customer("my dog ate the car keys, covered?", "nlu_fallback", 0.28)
    chat.bot("Sorry, I didn't get that.", utter_action="utter_ask_rephrase")
    app = create_app(make_settings(url, fake_rasa.url))
    agent, admin = login(app, "agent"), login(app, "admin")
    assert queue_texts(agent) == ["my dog ate the car keys, covered?"]
    created = agent.post(f"/api/review/messages/{fallback}/annotation", {"intent": "ask_coverage"})
    assert created.status_code == 201, created.text
    assert queue_texts(agent) == []
    assert admin.post(f"/api/review/messages/{fallback}/annotation", {"intent": "greet"}).status_code == 409
    assert admin.delete(f"/api/review/annotations/{created.json()['id']}").status_code == 200
    assert queue_texts(agent) == ["my dog ate the car keys, covered?"]
    assert [row[0] for row in audit_rows(url)] == ["annotate", "annotation_undone"]


def test_the_floor_is_read_from_the_environment() -> None:
    import settings

    assert settings.load({}).for_inbox().review_confidence_floor == 0.6
    assert settings.load({"COVERLINE_REVIEW_CONFIDENCE_FLOOR": "0.45"}).for_inbox().review_confidence_floor == 0.45
    with pytest.raises(settings.SettingsError, match="COVERLINE_REVIEW_CONFIDENCE_FLOOR='high'"):
        settings.load({"COVERLINE_REVIEW_CONFIDENCE_FLOOR": "high"})


def test_a_rasa_that_fails_to_parse_leaves_the_logged_intent(
    db_url: str, fake_rasa: FakeRasaApi, agents: Dict[str, int], logged: Dict[str, int]
) -> None:
    broken = httpx.MockTransport(lambda request: httpx.Response(500, json={"error": "no model loaded"}))
    agent = login(
        create_app(make_settings(db_url, fake_rasa.url), RasaClient(fake_rasa.url, RASA_TOKEN, transport=broken)),
        "agent",
    )
    response = agent.get(f"/api/review/messages/{logged['pipe']}")
    assert response.status_code == 200
    assert response.json()["offered_intents"] == [{"intent": "ask_coverage", "confidence": None, "source": "log"}]
