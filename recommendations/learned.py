"""What other customers' opens and dismissals teach: the ranker of recommendations/ranking.py fitted on
content_events, served as one term of the recommender's formula (recommendations/recommender.py).

Feedback, over the last LEARN_DAYS days: an open or a conversion is positive, "not for me" negative; an impression
alone teaches nothing (on a chat channel a card that was not opened may never have been looked at). A verified
customer is one learner across their conversations, and the product lines they hold are part of their history
(`product:auto`): the ranker reads them but never offers them. An anonymous conversation is a learner of its own.
With fewer than MIN_LEARNERS learners who opened something there is nothing to learn from yet: no model is fitted
and the recommender keeps its popularity prior alone (the cold start the issue asks for).

`python -m recommendations learn` fits one (the learning worker runs it daily) and stores it in
`recommender_models`, signed with HMAC-SHA256 under the tracking secret that the action server already holds:
a row whose signature does not hold is never unpickled. Each action server looks for a newer model at most
once a minute (one indexed query) and loads it when there is one.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import pickle
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from recommendations.items import Library
from recommendations.profile import CustomerProfile
from recommendations.ranking import Feedback, Ranker, RankerConfig
from recommendations.tracking import tracking_secret
from storage.models import ContentEvent, ContentItem, Policy, RecommenderModel, utcnow

logger = logging.getLogger(__name__)

LEARN_DAYS = 180
MIN_LEARNERS = 30  # learners with at least one open or conversion
KEEP_MODELS = 3  # older rows are deleted when a new one is stored (a rollback is a re-fit)
CHECK_EVERY = timedelta(seconds=60)
PRODUCT = "product:"  # history-only items: the product lines a verified customer holds
_SIGNING_CONTEXT = b"coverline/recommender-model/v1\x00"
POSITIVE_KINDS = ("open", "conversion")


@dataclass(frozen=True)
class LearnedRanker:
    """A stored model as the action server serves it."""

    ranker: Ranker
    model_id: int
    fitted_at: datetime

    def history(self, profile: CustomerProfile) -> List[str]:
        """What this customer opened and holds, as far as the model knows it."""
        return self.ranker.known([*profile.opened, *(PRODUCT + p for p in profile.held_products)])

    def candidates(self, profile: CustomerProfile, library: Library, allowed: np.ndarray, count: int) -> List[int]:
        """Library positions of up to ``count`` allowed items that customers who took the same things took."""
        try:
            history = self.history(profile)
            neighbours = self.ranker.neighbours(history, count * 3) if history else []
        except Exception:  # a model pickled by another version of the code: serve without it, say why
            logger.exception("learned ranker %s could not propose candidates: recommending without it", self.model_id)
            return []
        positions = (library.position.get(slug) for slug in neighbours)
        return [p for p in positions if p is not None and allowed[p]][:count]

    def scores(self, profile: CustomerProfile, library: Library, positions: np.ndarray) -> np.ndarray:
        """How strongly customers like this one took each item at ``positions``, scaled so the best is 1.0; all
        zeros when nothing this customer did is known to the model (popularity already speaks for the cold)."""
        out = np.zeros(len(positions))
        try:
            positives = self.history(profile)
            if not positives or len(positions) == 0:
                return out
            slugs = [library.items[int(i)].slug for i in positions]
            negatives = self.ranker.known(profile.dismissed)
            raw = self.ranker.score(None, slugs, positives=positives, negatives=negatives)
        except Exception:  # a model pickled by another version of the code: serve without it, say why
            logger.exception("learned ranker %s could not score: recommending without it", self.model_id)
            return out
        raw = np.clip(raw, 0.0, None)
        top = float(raw.max())
        return raw / top if top > 0 else out


# -- fitting ----------------------------------------------------------------------------------------------------


def learner(customer_id: Optional[int], conversation_id: Optional[str]) -> str:
    return f"customer:{customer_id}" if customer_id is not None else f"conversation:{conversation_id}"


def collect_feedback(session: Session, now: datetime, days: int = LEARN_DAYS) -> Tuple[List[Feedback], int]:
    """Feedback events of the last ``days`` (and the held products of the customers among them), and how many
    events were read."""
    since = now - timedelta(days=days)
    rows = session.execute(
        select(ContentEvent.kind, ContentEvent.customer_id, ContentEvent.conversation_id, ContentItem.slug)
        .join(ContentItem, ContentItem.id == ContentEvent.content_item_id)
        .where(ContentEvent.kind.in_((*POSITIVE_KINDS, "dismiss")), ContentEvent.at >= since)
        .order_by(ContentEvent.id)
    ).all()
    feedback = [Feedback(learner(c, conv), slug, positive=kind in POSITIVE_KINDS) for kind, c, conv, slug in rows]
    customers = {c for _, c, _, _ in rows if c is not None}
    if customers:
        today = now.date()
        with_events = select(ContentEvent.customer_id).where(
            ContentEvent.at >= since, ContentEvent.customer_id.isnot(None)
        )
        held = session.execute(
            select(Policy.customer_id, Policy.product)
            .where(
                Policy.customer_id.in_(with_events),
                Policy.status == "active",
                Policy.start_date <= today,
                Policy.end_date >= today,
            )
            .distinct()
        ).all()
        feedback += [Feedback(learner(c, None), PRODUCT + product) for c, product in held]
    return feedback, len(rows)


def fit(feedback: Sequence[Feedback], items: Sequence[str], seed: int = 0) -> Optional[Ranker]:
    """A ranker over the library's ``items`` (the only ones it may offer); None when too few learners opened
    anything for a model to say more than popularity."""
    learners = {f.customer for f in feedback if f.positive and not str(f.item).startswith(PRODUCT)}
    if len(learners) < MIN_LEARNERS:
        return None
    products = sorted({f.item for f in feedback if str(f.item).startswith(PRODUCT)})
    return Ranker(RankerConfig(seed=seed)).fit(feedback, items=[*items, *products], rankable=items)


def signature(secret: bytes, blob: bytes) -> str:
    return hmac.new(secret, _SIGNING_CONTEXT + blob, hashlib.sha256).hexdigest()


def learn(
    session: Session, now: Optional[datetime] = None, days: int = LEARN_DAYS, secret: Optional[bytes] = None
) -> Optional[int]:
    """Fit on the feedback in the database and store the model; its id, or None when there is too little."""
    now = now or utcnow()
    began = time.perf_counter()
    feedback, events = collect_feedback(session, now, days)
    items = list(session.scalars(select(ContentItem.slug).order_by(ContentItem.id)))
    ranker = fit(feedback, items)
    if ranker is None:
        return None
    blob = pickle.dumps(ranker.for_serving(), protocol=pickle.HIGHEST_PROTOCOL)
    row = RecommenderModel(
        fitted_at=now,
        since=now - timedelta(days=days),
        events=events,
        customers=len({f.customer for f in feedback}),
        items=len(ranker.items),
        seconds=round(time.perf_counter() - began, 3),
        blob=blob,
        signature=signature(secret or tracking_secret(), blob),
    )
    session.add(row)
    session.flush()
    kept = select(RecommenderModel.id).order_by(RecommenderModel.id.desc()).limit(KEEP_MODELS).scalar_subquery()
    session.execute(
        delete(RecommenderModel).where(RecommenderModel.id.notin_(kept)).execution_options(synchronize_session=False)
    )
    return int(row.id)


# -- serving ----------------------------------------------------------------------------------------------------


def load(session: Session, model_id: int, secret: Optional[bytes] = None) -> Optional[LearnedRanker]:
    """The stored model, if its signature holds (else None, logged: someone wrote a row they could not sign)."""
    row = session.get(RecommenderModel, model_id)
    if row is None:
        return None
    if not hmac.compare_digest(signature(secret or tracking_secret(), row.blob), row.signature):
        logger.error("recommender model %s has a bad signature: not loaded, recommending without it", model_id)
        return None
    try:
        ranker = pickle.loads(row.blob)  # noqa: S301  (signed above with our own secret)
    except Exception:  # signed by us, but by another version of the code (a class that moved): refit
        logger.exception("recommender model %s could not be read: recommending without it", model_id)
        return None
    if not isinstance(ranker, Ranker):
        logger.error("recommender model %s is not a ranker: not loaded", model_id)
        return None
    return LearnedRanker(ranker, model_id, row.fitted_at)


_served: Dict[str, Tuple[datetime, Optional[int], Optional[LearnedRanker]]] = {}
_lock = threading.Lock()


def served_model(
    session: Session, now: Optional[datetime] = None, secret: Optional[bytes] = None
) -> Optional[LearnedRanker]:
    """The newest stored model, looked for at most once a minute of ``now`` per database."""
    now = now or utcnow()
    key = str(session.get_bind().url)
    with _lock:
        cached = _served.get(key)
    if cached is not None and timedelta(0) <= now - cached[0] < CHECK_EVERY:
        return cached[2]
    newest = session.scalar(select(func.max(RecommenderModel.id)))
    if cached is not None and cached[1] == newest:
        model = cached[2]
    else:
        model = load(session, newest, secret) if newest is not None else None
    with _lock:
        _served[key] = (now, newest, model)
    return model


def forget_served() -> None:
    """Drop what the process keeps (tests; a process that changed databases)."""
    with _lock:
        _served.clear()
