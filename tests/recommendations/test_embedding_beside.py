"""The recommender embeds the customer's question on its own thread while it reads the rest of the profile: the
customer gets the same recommendations as when it embedded after the reads, the message being answered (from the
tracker, not yet in the log) is the one embedded, and an encoder that fails there still leaves rules and
popularity to answer. Real migrated SQLite, the real int8 encoder, real channel ids."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import timedelta
from pathlib import Path
from typing import List, Sequence

import numpy as np
import pytest

import recommendations.recommender as recommender
from recommendations.candidates import ItemVectors
from recommendations.library import DEMO_LIBRARY, import_library
from recommendations.profile import Said
from storage.engine import session_scope
from storage.models import Conversation, Message, utcnow
from tests.support.databases import migrated_sqlite

WHATSAPP = "whatsapp:15550003333"
TELEGRAM = "telegram:555000777"


@pytest.fixture()
def db_url(tmp_path: Path) -> str:
    url = migrated_sqlite(tmp_path / "coverline.db")
    with session_scope(url) as session:
        import_library(session, [DEMO_LIBRARY])
    return url


def customer_said(url: str, conversation_id: str, texts: Sequence[str]) -> None:
    now = utcnow()
    with session_scope(url) as session:
        session.add(Conversation(id=conversation_id, channel=conversation_id.split(":")[0]))
        session.flush()
        for n, text in enumerate(texts):
            session.add(
                Message(
                    conversation_id=conversation_id,
                    event_key=f"{conversation_id}:{n}",
                    direction="inbound",
                    author="customer",
                    channel=conversation_id.split(":")[0],
                    text=text,
                    intent="ask_tips",
                    confidence=0.9,
                    sentiment={"label": "neutral", "confidence": 0.8},
                    sent_at=now - timedelta(minutes=len(texts) - n),
                )
            )


def slugs(url: str, conversation_id: str, latest: Said | None = None) -> List[str]:
    with session_scope(url) as session:
        found = recommender.recommend_for_conversation(session, conversation_id, "on_request", k=3, latest=latest)
    return [r.slug for r in found]


class RecordingEncoder:
    """The recommender's encoder, noting which thread embedded which text."""

    def __init__(self, encoder) -> None:  # type: ignore[no-untyped-def]
        self.encoder = encoder
        self.calls: List[tuple[str, str]] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 1:
            self.calls.append((threading.current_thread().name, texts[0]))
        return self.encoder.encode(texts)


class FailingEncoder(RecordingEncoder):
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 1 and "winter" in texts[0]:
            raise RuntimeError("encoder out of memory")
        return super().encode(texts)


def test_the_question_is_embedded_beside_the_reads_with_the_same_recommendations(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer_said(db_url, WHATSAPP, ["hello", "any tips for winter driving on icy roads?"])
    encoder = RecordingEncoder(recommender.recommendation_encoder())
    monkeypatch.setattr(recommender, "shared_item_vectors", lambda: vectors)
    vectors = ItemVectors(encoder)

    beside = slugs(db_url, WHATSAPP)
    assert encoder.calls[-1] == ("recommender-embedding_0", "any tips for winter driving on icy roads? hello")
    assert any("winter" in slug for slug in beside), beside

    vectors.forget_queries()
    monkeypatch.setattr(recommender, "embed_beside", lambda vectors, text: None)  # as before: after the reads
    after = slugs(db_url, WHATSAPP)
    assert encoder.calls[-1] == (threading.current_thread().name, "any tips for winter driving on icy roads? hello")
    assert after == beside


def test_the_message_being_answered_is_embedded_before_the_log_has_it(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer_said(db_url, TELEGRAM, ["hi there"])
    encoder = RecordingEncoder(recommender.recommendation_encoder())
    vectors = ItemVectors(encoder)
    monkeypatch.setattr(recommender, "shared_item_vectors", lambda: vectors)
    found = slugs(db_url, TELEGRAM, latest=Said("how do I keep my pipes from freezing in winter?", "ask_tips", None))
    embedded = [text for thread, text in encoder.calls if thread.startswith("recommender-embedding")]
    assert embedded == ["how do I keep my pipes from freezing in winter? hi there"]
    assert found, "a question about frozen pipes gets something to read"


def test_an_encoder_failing_on_its_thread_leaves_rules_and_popularity_to_answer(
    db_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    customer_said(db_url, WHATSAPP, ["any tips for winter driving?"])
    vectors = ItemVectors(FailingEncoder(recommender.recommendation_encoder()))
    monkeypatch.setattr(recommender, "shared_item_vectors", lambda: vectors)
    found = slugs(db_url, WHATSAPP)
    assert len(found) == 3  # the customer is still offered something
    assert "content similarity failed" in caplog.text


def _recommend_in_child(url: str, conversation_id: str) -> List[str]:
    from storage.engine import dispose_engines

    dispose_engines()  # the parent's connections are not this process's
    return slugs(url, conversation_id)


def test_a_process_forked_after_a_recommendation_embeds_on_a_thread_of_its_own(db_url: str) -> None:
    """A server that forks workers after a recommendation (a test run, a pre-fork warm-up) must not hand its
    children a pool whose thread they do not have: they would wait for the vector for ever."""
    customer_said(db_url, WHATSAPP, ["any tips for winter driving?"])
    customer_said(db_url, TELEGRAM, ["how do I keep my pipes from freezing?"])
    assert slugs(db_url, WHATSAPP)  # this process's embedding thread is running now
    with multiprocessing.get_context("fork").Pool(1) as pool:
        found = pool.apply_async(_recommend_in_child, (db_url, TELEGRAM)).get(timeout=120)
    assert len(found) == 3
