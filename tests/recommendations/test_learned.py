"""The recommender learns from what customers open and dismiss (issue 16), on a real migrated database (SQLite,
and PostgreSQL when a server answers): after `learn`, a visitor is offered what visitors who opened the same
things opened, with the reason said; a model row whose signature does not hold is never loaded; too little
feedback keeps popularity alone; the stored model names no customer or conversation."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import numpy as np
import pytest
from sqlalchemy import func, select, update

from recommendations import learned
from recommendations.__main__ import main as recommendations_cli
from recommendations.library import DEMO_LIBRARY, import_library, item_by_slug
from recommendations.recommender import LIKE_YOU, Recommendation, recommend_for_conversation
from storage.engine import session_scope
from storage.models import ContentEvent, ContentImpression, Conversation, RecommenderModel, utcnow
from tests.support.databases import migrated_seeded

# two tastes among the demo library's all-year items, and one item everybody opens (the popularity prior's top)
HOME = ("tip-home-inventory", "tip-water-leak-sensors", "explainer-valuables")
CAR = ("tip-car-theft-prevention", "tip-teen-drivers", "explainer-roadside")
EVERYONE = "howto-paperless"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database seeded with the demo book and the demo content library; no model served yet."""
    for url in migrated_seeded(request.param, tmp_path):
        with session_scope(url) as session:
            import_library(session, [DEMO_LIBRARY])
        learned.forget_served()
        yield url
        learned.forget_served()


def event(session, kind: str, slug: str, conversation_id: str, at: datetime, customer_id: Optional[int] = None) -> None:
    """An impression of ``slug`` and what the customer did with it, as the tracking redirect and the
    "not for me" button record them."""
    channel = conversation_id.split(":")[0]
    impression = ContentImpression(
        content_item_id=item_by_slug(session, slug).id,
        customer_id=customer_id,
        conversation_id=conversation_id,
        channel=channel,
        moment="answer_given",
        shown_at=at - timedelta(minutes=1),
    )
    session.add(impression)
    session.flush()
    session.add(
        ContentEvent(
            kind=kind,
            content_item_id=impression.content_item_id,
            impression_id=impression.id,
            customer_id=customer_id,
            conversation_id=conversation_id,
            channel=channel,
            at=at,
        )
    )


def visitor(n: int) -> str:
    """Real shapes of the channels' ids: WhatsApp numbers, Telegram chat ids, web chat socket sessions."""
    kind = n % 3
    if kind == 0:
        return f"whatsapp:1555{n:07d}"
    if kind == 1:
        return f"telegram:{700000000 + n}"
    return f"{n:032x}"


def crowd(session, now: datetime, tastes: int = 24, everyone: int = 30) -> None:
    """``tastes`` visitors of each taste open two of its items; ``everyone`` others open the all-round how-to."""
    rng = np.random.default_rng(5)
    n = 0
    for taste in (HOME, CAR):
        for _ in range(tastes):
            for slug in rng.choice(taste, size=2, replace=False):
                event(session, "open", str(slug), visitor(n), now - timedelta(days=int(rng.integers(1, 60))))
            n += 1
    for _ in range(everyone):
        event(session, "open", EVERYONE, visitor(n), now - timedelta(days=int(rng.integers(1, 60))))
        n += 1


def arrives(session, conversation_id: str, opened: str, now: datetime) -> None:
    session.add(Conversation(id=conversation_id, channel=conversation_id.split(":")[0], customer_identity="x"))
    session.flush()
    event(session, "open", opened, conversation_id, now - timedelta(minutes=30))


def shown(db_url: str, conversation_id: str, now: datetime) -> List[Recommendation]:
    with session_scope(db_url) as session:
        return recommend_for_conversation(session, conversation_id, "answer_given", k=3, now=now)


def slugs(recommendations: List[Recommendation]) -> List[str]:
    return [r.slug for r in recommendations]


def test_after_learning_a_visitor_is_offered_what_visitors_like_them_opened(db_url: str) -> None:
    now = utcnow()
    home, car = "whatsapp:15550001111", "telegram:123456789"
    with session_scope(db_url) as session:
        crowd(session, now)
        arrives(session, home, HOME[0], now)
        arrives(session, car, CAR[0], now)
    before: Dict[str, List[str]] = {c: slugs(shown(db_url, c, now)) for c in (home, car)}
    # popularity alone: both are offered the same things, whatever they opened
    assert before[home] == before[car], before
    with session_scope(db_url) as session:
        model_id = learned.learn(session, now=now)
    assert model_id is not None
    later = now + learned.CHECK_EVERY + timedelta(seconds=1)  # action servers look for a new model once a minute
    after = {c: shown(db_url, c, later) for c in (home, car)}
    assert set(slugs(after[home])[:2]) == set(HOME[1:]), slugs(after[home])
    assert set(slugs(after[car])[:2]) == set(CAR[1:]), slugs(after[car])
    assert all(r.reasons == (LIKE_YOU,) for r in after[home][:2] + after[car][:2])  # no other reason applies


def test_a_model_row_whose_signature_does_not_hold_is_never_loaded(db_url: str, caplog) -> None:
    now = utcnow()
    with session_scope(db_url) as session:
        crowd(session, now)
        arrives(session, "whatsapp:15550001111", HOME[0], now)
        model_id = learned.learn(session, now=now)
        before = recommend_for_conversation(session, "whatsapp:15550001111", "answer_given", k=3, now=now)
        # someone who can write to the database but does not hold the tracking secret swaps the blob
        session.execute(
            update(RecommenderModel).where(RecommenderModel.id == model_id).values(blob=b"cos\nsystem\n(S'id'\ntR.")
        )
    learned.forget_served()
    with caplog.at_level(logging.ERROR, logger="recommendations.learned"), session_scope(db_url) as session:
        assert learned.served_model(session, now) is None
        after = recommend_for_conversation(session, "whatsapp:15550001111", "answer_given", k=3, now=now)
    assert "bad signature" in caplog.text
    assert LIKE_YOU in before[0].reasons and all(LIKE_YOU not in r.reasons for r in after)


def test_too_little_feedback_keeps_popularity_alone(db_url: str, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    now = utcnow()
    with session_scope(db_url) as session:
        crowd(session, now, tastes=5, everyone=10)  # 20 learners, fewer than MIN_LEARNERS
        assert learned.learn(session, now=now) is None
        assert session.scalar(select(func.count()).select_from(RecommenderModel)) == 0
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert recommendations_cli(["learn"]) == 0
    assert "too little feedback" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        recommendations_cli(["learn", "--days", "0"])
    assert "whole number of days" in capsys.readouterr().err


def test_the_cli_fits_keeps_the_last_three_and_the_model_names_nobody(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    with session_scope(db_url) as session:
        crowd(session, utcnow())
    monkeypatch.setenv("DATABASE_URL", db_url)
    for _ in range(learned.KEEP_MODELS + 1):
        assert recommendations_cli(["learn"]) == 0
    out = capsys.readouterr().out
    assert "126 events of 78 customers" in out and "action servers load it within a minute" in out
    with session_scope(db_url) as session:
        rows = session.scalars(select(RecommenderModel).order_by(RecommenderModel.id)).all()
        assert len(rows) == learned.KEEP_MODELS
        for row in rows:
            assert b"whatsapp" not in row.blob and b"telegram" not in row.blob and b"conversation:" not in row.blob
            assert visitor(2).encode() not in row.blob


def test_the_learning_worker_refits_the_recommender_once_a_day(db_url: str) -> None:
    from learning.worker import RECOMMENDER_REFIT, Worker

    now = utcnow()
    with session_scope(db_url) as session:
        crowd(session, now)
    worker = Worker(db_url, loader=None)  # type: ignore[arg-type]  (retrain jobs are not what this test runs)
    first = worker.refit_recommender(now)
    assert first is not None
    assert worker.refit_recommender(now + timedelta(hours=23)) is None
    # another worker (a restart) asks the database, not its memory
    assert Worker(db_url, loader=None).refit_recommender(now + timedelta(hours=1)) is None  # type: ignore[arg-type]
    second = worker.refit_recommender(now + RECOMMENDER_REFIT + timedelta(minutes=1))
    assert second is not None and second > first


def test_a_model_that_cannot_score_leaves_the_recommendations_as_they_were(
    db_url: str, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    """A model pickled by another version of the code fails inside the action: the customer still gets the
    recommendations popularity gives, and the log says why."""
    import recommendations.recommender as recommender_module
    from recommendations.ranking import Ranker

    now = utcnow()
    with session_scope(db_url) as session:
        crowd(session, now)
        arrives(session, "whatsapp:15550001111", HOME[0], now)
    without = slugs(shown(db_url, "whatsapp:15550001111", now))
    with session_scope(db_url) as session:
        feedback, _ = learned.collect_feedback(session, now)
    ranker = learned.fit(feedback, [*HOME, *CAR, EVERYONE])
    assert isinstance(ranker, Ranker)
    del ranker._signals  # as an object pickled before a field was added or renamed reads
    broken = learned.LearnedRanker(ranker, model_id=7, fitted_at=now)
    monkeypatch.setattr(recommender_module, "served_model", lambda session, now=None: broken)
    with caplog.at_level(logging.ERROR, logger="recommendations.learned"):
        assert slugs(shown(db_url, "whatsapp:15550001111", now)) == without
    assert "learned ranker 7 could not" in caplog.text


def test_the_learned_ranker_judges_its_own_candidates_and_the_best_fifty() -> None:
    from recommendations.recommender import LEARNED_SCORED, _worth_a_learned_score

    small = np.arange(30)
    assert list(_worth_a_learned_score(np.linspace(1, 0, 30), small, [])) == list(range(30))
    pool = np.arange(1000, 2000)  # library positions
    scores = np.random.default_rng(3).random(1000)
    judged = _worth_a_learned_score(scores, pool, liked=[1999, 1000])
    best = set(np.argsort(-scores)[:LEARNED_SCORED].tolist())
    assert set(judged.tolist()) == best | {999, 0}
