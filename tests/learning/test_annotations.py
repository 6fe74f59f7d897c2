"""Annotations: stored beside the model's label with the log untouched, refused with a reason when wrong,
one active per message even when two agents race, undone by an admin, accepted in bulk; on SQLite and on
PostgreSQL when it answers."""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, List

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from learning import annotations, review_queue
from learning.annotations import AlreadyAnnotated, AlreadyUndone, AnnotationNotFound, InvalidAnnotation
from storage.engine import session_scope
from storage.models import Agent, Annotation, Message
from tests.support.review_logs import Chat

TEXT = "my policy PX-88123 says hail is covered but you denied my claim"
LOG_COLUMNS = ("text", "intent", "confidence", "entities", "sentiment", "sent_at", "author", "direction")


@pytest.fixture
def people(db_url: str) -> Dict[str, int]:
    with session_scope(db_url) as db:
        rows = {
            "agent": Agent(email="agent@harbor.example", name="Ana", role="agent", password_hash="-"),
            "agent2": Agent(email="agent2@harbor.example", name="Bo", role="agent", password_hash="-"),
            "admin": Agent(email="admin@harbor.example", name="Ade", role="admin", password_hash="-"),
        }
        db.add_all(rows.values())
        db.flush()
        return {key: row.id for key, row in rows.items()}


@pytest.fixture
def chat(db_url: str) -> Chat:
    chat = Chat(db_url, "whatsapp:15550001111")
    policy = {"entity": "policy_number", "value": "PX-88123", "start": 10, "end": 18}
    policy["extractor"] = "RegexEntityExtractor"
    chat.customer(TEXT, "ask_coverage", 0.48, [policy], {"label": "negative", "confidence": 0.91})
    chat.bot("Hail damage is covered under comprehensive.", answer_source="knowledge")
    return chat


def log_row(db_url: str, message_id: int) -> Dict[str, Any]:
    with session_scope(db_url) as db:
        message = db.get(Message, message_id)
        return {column: getattr(message, column) for column in LOG_COLUMNS}


def in_queue(db_url: str) -> List[int]:
    with session_scope(db_url) as db:
        return [item.message.id for item in review_queue.queue(db, 0.6)[0]]


def test_an_annotation_keeps_the_models_label_and_leaves_the_log_alone(
    db_url: str, people: Dict[str, int], chat: Chat
) -> None:
    message_id = chat.ids[0]
    before = log_row(db_url, message_id)
    policy = {"entity": "policy_number", "value": "PX-88123", "start": 10, "end": 18}
    with session_scope(db_url) as db:
        annotation = annotations.annotate(
            db, message_id, people["agent"], "complaint", [policy], "negative", "should_have_handed_over"
        )
        annotation_id = annotation.id
    with session_scope(db_url) as db:
        stored = db.get(Annotation, annotation_id)
        assert (stored.original_intent, stored.original_confidence) == ("ask_coverage", 0.48)
        assert stored.original_sentiment == {"label": "negative", "confidence": 0.91}
        assert (stored.intent, stored.entities, stored.sentiment) == ("complaint", [policy], "negative")
        assert (stored.reply_verdict, stored.status, stored.bulk) == ("should_have_handed_over", "active", False)
        listed = annotations.list_annotations(db)
    assert [(a["id"], a["annotator"]["name"]) for a in listed] == [(annotation_id, "Ana")]
    assert log_row(db_url, message_id) == before


@pytest.mark.parametrize(
    "change, message",
    [
        ({"intent": "ask_about_iguanas"}, "Intent 'ask_about_iguanas' is not in the domain"),
        ({"intent": "nlu_fallback"}, "Intent 'nlu_fallback' is not in the domain"),
        ({"entities": [{"entity": "policy_number", "value": "PX-88123", "start": 60, "end": 68}]}, "outside"),
        ({"entities": [{"entity": "policy_number", "value": "PX-88124", "start": 10, "end": 18}]}, "not 'PX-88124'"),
        ({"entities": [{"entity": "policy_number", "value": "P", "start": -1, "end": 0}]}, "outside"),
        ({"entities": [{"entity": "pet_name", "value": "hail", "start": 24, "end": 28}]}, "not an entity"),
        ({"entities": [{"entity": "policy_number", "value": "PX", "start": "10", "end": 12}]}, "whole numbers"),
        ({"sentiment": "furious"}, "sentiment must be one of negative, neutral, positive"),
        ({"reply_verdict": "meh"}, "reply_verdict must be one of good, wrong, should_have_handed_over"),
    ],
)
def test_a_wrong_annotation_is_refused_with_the_reason(
    db_url: str, people: Dict[str, int], chat: Chat, change: Dict[str, Any], message: str
) -> None:
    values: Dict[str, Any] = {"intent": "complaint", "entities": [], "sentiment": None, "reply_verdict": None}
    values.update(change)
    with session_scope(db_url) as db, pytest.raises(InvalidAnnotation, match=message):
        annotations.annotate(db, chat.ids[0], people["agent"], **values)
    assert in_queue(db_url) == [chat.ids[0]]


def test_only_customer_messages_can_be_annotated(db_url: str, people: Dict[str, int], chat: Chat) -> None:
    with session_scope(db_url) as db:
        with pytest.raises(review_queue.NotACustomerMessage, match="is not a customer's written message"):
            annotations.annotate(db, chat.ids[1], people["agent"], "complaint")
        with pytest.raises(review_queue.MessageNotFound, match="no message 424242"):
            annotations.annotate(db, 424242, people["agent"], "complaint")


def test_annotated_leaves_the_queue_and_an_undo_brings_it_back(db_url: str, people: Dict[str, int], chat: Chat) -> None:
    message_id = chat.ids[0]
    assert in_queue(db_url) == [message_id]
    with session_scope(db_url) as db:
        first = annotations.annotate(db, message_id, people["agent"], "complaint").id
    assert in_queue(db_url) == []
    with session_scope(db_url) as db, pytest.raises(AlreadyAnnotated, match="already annotated \\(by Ana"):
        annotations.annotate(db, message_id, people["agent2"], "ask_coverage")
    with session_scope(db_url) as db:
        undone = annotations.undo(db, first, people["admin"])
        assert (undone.status, undone.undone_by_id) == ("undone", people["admin"]) and undone.undone_at is not None
    assert in_queue(db_url) == [message_id]
    with session_scope(db_url) as db:
        with pytest.raises(AlreadyUndone):
            annotations.undo(db, first, people["admin"])
        with pytest.raises(AnnotationNotFound):
            annotations.undo(db, 999_999, people["admin"])
        second = annotations.annotate(db, message_id, people["agent2"], "ask_coverage").id
    with session_scope(db_url) as db:
        assert [a["id"] for a in annotations.list_annotations(db, status=None)] == [second, first]
        assert [a["status"] for a in annotations.list_annotations(db, status="undone")] == ["undone"]


def test_two_agents_racing_on_one_message(db_url: str, people: Dict[str, int], chat: Chat) -> None:
    """Ana's annotation is written but not committed when Bo's arrives: Bo waits (on PostgreSQL on the
    unique index, on SQLite on the write lock), then is told someone was first; exactly one stays."""
    message_id = chat.ids[0]
    outcome: Dict[str, Any] = {}

    def bo() -> None:
        try:
            with session_scope(db_url) as db:
                annotations.annotate(db, message_id, people["agent2"], "ask_coverage")
            outcome["bo"] = "annotated"
        except AlreadyAnnotated as error:
            outcome["bo"] = str(error)

    with session_scope(db_url) as db:
        annotations.annotate(db, message_id, people["agent"], "complaint")
        rival = threading.Thread(target=bo)
        rival.start()
        time.sleep(0.5)
        assert "bo" not in outcome  # still waiting for Ana's transaction
    rival.join(timeout=30)
    assert "annotated" in outcome["bo"] and outcome["bo"] != "annotated"
    if db_url.startswith("postgresql"):  # both passed the check; the unique index stopped Bo's insert
        assert outcome["bo"] == f"Message {message_id} was annotated by someone else just now; reload it."
    with session_scope(db_url) as db:
        active = db.scalars(select(Annotation).where(Annotation.status == "active")).all()
        winners = [(a.message_id, a.annotator_id, a.intent) for a in active]
    assert winners == [(message_id, people["agent"], "complaint")]


def test_the_database_holds_one_active_annotation_per_message(db_url: str, people: Dict[str, int], chat: Chat) -> None:
    """The guard the race relies on, whoever writes: two active rows for one message cannot be stored."""
    row = dict(message_id=chat.ids[0], intent="complaint", entities=[], status="active")
    with session_scope(db_url) as db:
        db.add(Annotation(annotator_id=people["agent"], **row))
    with pytest.raises(IntegrityError), session_scope(db_url) as db:
        db.add(Annotation(annotator_id=people["agent2"], **row))
    with session_scope(db_url) as db:
        db.add(Annotation(annotator_id=people["agent2"], **{**row, "status": "undone"}))


def test_bulk_accept_takes_the_models_labels_and_skips_with_reasons(
    db_url: str, people: Dict[str, int], chat: Chat
) -> None:
    annotated = chat.ids[0]
    claim = chat.customer("where is claim CL-204117", "claim_status", 0.55, sentiment={"label": "neutral"})
    fallback = chat.customer("blorp", "nlu_fallback", 0.2)
    bot_reply = chat.bot("Sorry, I didn't get that.", utter_action="utter_ask_rephrase")
    with session_scope(db_url) as db:
        annotations.annotate(db, annotated, people["agent"], "complaint")
    with session_scope(db_url) as db:
        result = annotations.bulk_accept(db, [claim, annotated, fallback, bot_reply, 777_777, claim], people["admin"])
        accepted = [(a.message_id, a.intent, a.sentiment, a.bulk, a.annotator_id) for a in result.accepted]
        skipped = {s["message_id"]: s["reason"] for s in result.skipped}
    assert accepted == [(claim, "claim_status", "neutral", True, people["admin"])]
    assert set(skipped) == {annotated, fallback, bot_reply, 777_777}
    assert "already annotated" in skipped[annotated]
    assert "'nlu_fallback' is not an intent of the domain" in skipped[fallback]
    assert "not a customer's written message" in skipped[bot_reply]
    assert "no message 777777" in skipped[777_777]
    assert in_queue(db_url) == [fallback]


def test_bulk_accept_keeps_logged_entities_only_where_they_are_spans(db_url: str, people: Dict[str, int]) -> None:
    chat = Chat(db_url, "telegram:123456789", channel="telegram")
    spans = [
        {"entity": "claim_number", "value": "CL-204117", "start": 9, "end": 18, "extractor": "RegexEntityExtractor"},
        {"entity": "incident_date", "value": "2026-12-03", "start": 19, "end": 28, "extractor": "Duckling"},
    ]
    message_id = chat.customer("my claim CL-204117 yesterday", "claim_status", 0.9, spans)
    with session_scope(db_url) as db:
        result = annotations.bulk_accept(db, [message_id], people["admin"])
        assert result.accepted[0].entities == [{"entity": "claim_number", "value": "CL-204117", "start": 9, "end": 18}]


def test_migration_0009_adds_and_removes_the_table(db_url: str) -> None:
    """`python -m storage.migrate` builds the table with its guard; downgrading past 0009 removes it and
    leaves the interaction log alone."""
    import sqlalchemy as sa
    from alembic import command

    from storage.engine import dispose_engines, get_engine
    from storage.migrate import alembic_config

    def inspector() -> sa.engine.reflection.Inspector:
        dispose_engines()
        return sa.inspect(get_engine(db_url))

    indexes = {i["name"]: i for i in inspector().get_indexes("annotations")}
    assert indexes["uq_annotations_active_message"]["unique"]
    command.downgrade(alembic_config(db_url), "0008_conversation_status")
    assert "annotations" not in inspector().get_table_names()
    assert "messages" in inspector().get_table_names()
    command.upgrade(alembic_config(db_url), "head")
    assert "annotations" in inspector().get_table_names()
