"""The recommender: the items for one customer at one moment, best first, each with the reasons behind it.

    score = rule weight × rule priority + similarity weight × similarity + prior + product fit + season
            + learned

- rule priority: recommendations/candidates.py (claim checklist 3 ... seasonal tip 0.5);
- similarity: cosine of the recent questions to the item (MiniLM), counted when positive;
- prior: popularity from opens in content_events (log-scaled to 0..0.3) when there is any; on a cold start
  the library's editorial order (0..0.05), a tie-breaker only;
- product fit: +0.2 for an item about a product line the customer holds, claims on or was quoted, −0.2 for one
  about only other lines (known customers; anonymous ones are not judged on it);
- season: −0.5 for an item out of its months that no rule asked for;
- learned: 0..0.3, how strongly customers like this one (what they opened, dismissed and hold) took the item,
  from the ranker fitted on content_events (recommendations/learned.py); the best candidate gets 0.3. Zero for a
  customer the model knows nothing of, and when there is no model yet (too little feedback).
The moment sets the two weights: when the customer has just asked something (an answer, a request), their words
lead; after a claim, a quote or a greeting, what the insurer knows leads. The weights come from that reasoning,
not from fitting: the Harbor judged set is an acceptance test only. The learned term shares popularity's scale:
what other customers did reorders items whose other terms are within 0.3 of each other (a rule's priority or a
close question usually counts for more).

Constraints (recommendations/constraints.py) are applied before scoring (what may never be shown) and after
(daily cap, variety), so no score can override them.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Dict, List, Mapping, Optional, Sequence, Set, Tuple

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from recommendations.candidates import (
    ItemVectors,
    TextEncoder,
    in_season,
    rule_features,
    rule_priorities,
    rule_reasons,
    similarities,
)
from recommendations.constraints import diverse_top, permitted, room_today, shown_again_today, within_cap
from recommendations.items import Library, LibraryCache, LibraryItem, as_library
from recommendations.learned import LearnedRanker, served_model
from recommendations.profile import CustomerProfile, Said, load_profile
from storage.models import ContentEvent, ContentItem, utcnow

if TYPE_CHECKING:
    from retrieval.encoder import Encoder

logger = logging.getLogger(__name__)

# (rule weight, similarity weight) per moment
MOMENT_WEIGHTS: Dict[str, Tuple[float, float]] = {
    "claim_filed": (1.0, 1.5),
    "quote_given": (1.0, 1.5),
    "greeting": (1.0, 1.0),  # "hi" says little; what we know about them says more
    "answer_given": (0.5, 3.0),
    "on_request": (0.5, 3.0),
}
POPULARITY_WEIGHT, EDITORIAL_WEIGHT = 0.3, 0.05
LEARNED_WEIGHT = 0.3
LEARNED_CANDIDATES = 10  # items that customers who took the same things took join the candidates
LEARNED_SCORED = 50  # the learned ranker judges its candidates and at most this many of the best others
LEARNED_REASON = 0.5  # a learned score (best = 1) at least this high is said: "customers like you opened it"
LIKE_YOU = "opened by customers like you"
FIT_BONUS, OUT_OF_SEASON = 0.2, -0.5
SIMILAR_CANDIDATES = 20  # the most similar items join the rule candidates
SIMILAR_REASON = 0.35  # cosine above which "close to what you asked" is worth saying
RELATED = "related to your conversation"
POPULARITY_DAYS = 90
POPULARITY_TTL = timedelta(seconds=60)


@dataclass(frozen=True)
class Recommendation:
    slug: str
    title: str
    summary: str
    category: str
    marketing: bool
    score: float
    reasons: Tuple[str, ...]
    item_id: Optional[int] = None
    situation: bool = False  # backed by the customer's own claim, bill or renewal (what a greeting speaks of)


class Prior:
    """Item popularity (open counts) as a score in 0..POPULARITY_WEIGHT; editorial order when nobody opened yet."""

    def __init__(self, opens: Optional[Mapping[str, int]] = None) -> None:
        self.opens = {slug: n for slug, n in (opens or {}).items() if n > 0}
        self._top = math.log1p(max(self.opens.values())) if self.opens else 0.0
        self._scores: Optional[Tuple[Library, np.ndarray]] = None

    @property
    def cold(self) -> bool:
        return not self.opens

    def score(self, library: Library, position: int) -> float:
        if self.cold:
            return EDITORIAL_WEIGHT * float(library.editorial[position])
        return POPULARITY_WEIGHT * math.log1p(self.opens.get(library.items[position].slug, 0)) / self._top

    def scores(self, library: Library) -> np.ndarray:
        """`score(library, position)` for every item, worked out once per library snapshot with the same float
        arithmetic (math.log1p, not numpy's), kept with this prior."""
        kept = self._scores
        if kept is None or kept[0] is not library:
            kept = (library, np.array([self.score(library, i) for i in range(len(library))], dtype=np.float64))
            self._scores = kept
        return kept[1]

    def order(self, library: Library) -> np.ndarray:
        """Positions from the most to the least popular (editorial order when cold)."""
        if self.cold:
            return np.argsort(-library.editorial, kind="stable")
        opens = np.array([self.opens.get(item.slug, 0) for item in library.items])
        return np.argsort(-opens, kind="stable")


def _involved_products(profile: CustomerProfile) -> Tuple[str, ...]:
    products = [*profile.held_products, *(c.product for c in profile.claims), *(q.product for q in profile.quotes)]
    return tuple(dict.fromkeys(products))


def _fit(item: LibraryItem, profile: CustomerProfile, products: Sequence[str]) -> float:
    if profile.anonymous or not item.product_lines or not products:
        return 0.0
    return FIT_BONUS if item.fits_products(products) else -FIT_BONUS


def _most_similar(cosine: np.ndarray, allowed_mask: np.ndarray, count: int) -> List[int]:
    if not cosine.any():
        return []
    masked = np.where(allowed_mask, cosine, -np.inf)
    count = min(count, int(allowed_mask.sum()))
    if count == 0:
        return []
    top = np.argpartition(-masked, count - 1)[:count] if count < len(masked) else np.arange(len(masked))
    return [int(i) for i in top if np.isfinite(masked[i])]


def recommend(
    profile: CustomerProfile,
    moment: str,
    library: Library | Sequence[LibraryItem],
    k: int = 3,
    today: Optional[date] = None,
    vectors: Optional[ItemVectors] = None,
    prior: Optional[Prior] = None,
    learned: Optional[LearnedRanker] = None,
) -> List[Recommendation]:
    """The best `k` items for this customer at this moment, never breaking a constraint; fewer (or none) when
    the daily cap is reached or too few items are allowed.

    Scored as arrays over the candidate pool (rule priorities for the whole library, then one vector sum per
    term, in the order of the formula above, so each score is the same float a per-item loop gives); reasons are
    worked out only for the items shown."""
    today = today or date.today()
    library = as_library(library)
    prior = prior or Prior()
    room = room_today(profile, k)
    again = shown_again_today(profile, moment)
    allowed_mask = permitted(library, profile, today, moment)
    if (room == 0 and not again) or not allowed_mask.any():
        return []
    rule_weight, similarity_weight = MOMENT_WEIGHTS.get(moment, (1.0, 1.5))
    priority = rule_priorities(profile, moment, library, today, allowed_mask)
    cosine = similarities(profile, library, vectors)
    similar = _most_similar(cosine, allowed_mask, SIMILAR_CANDIDATES)
    liked_candidates = learned.candidates(profile, library, allowed_mask, LEARNED_CANDIDATES) if learned else []
    similar += liked_candidates
    pool = np.union1d(np.flatnonzero(priority > 0), np.array(similar, dtype=np.int64)).astype(np.int64)
    similarity = cosine[pool].astype(np.float64)
    season = np.where((priority[pool] > 0) | _in_season(library, today)[pool], 0.0, OUT_OF_SEASON)
    scores = (
        rule_weight * priority[pool]
        + similarity_weight * np.maximum(similarity, 0.0)
        + prior.scores(library)[pool]
        + _fits(library, profile)[pool]
        + season
    )
    liked: Set[int] = set()
    if learned is not None:
        judged = _worth_a_learned_score(scores, pool, liked_candidates)
        taste = np.zeros(len(pool))
        taste[judged] = learned.scores(profile, library, pool[judged])
        scores = scores + LEARNED_WEIGHT * taste
        liked = {int(pool[i]) for i in judged if taste[i] >= LEARNED_REASON}
    order = np.argsort(-scores, kind="stable")
    # (item, (position, score, reason when the prior filled it in))
    scored: List[Tuple[LibraryItem, Tuple[int, float, Optional[str]]]] = [
        (library.items[pool[i]], (int(pool[i]), float(scores[i]), None)) for i in order
    ]
    if len(scored) < room:  # too few candidates (a cold, anonymous "hi"): the prior fills in
        taken = set(pool.tolist())
        reason = "editors' pick" if prior.cold else "popular with other customers"
        filled = []
        for position in prior.order(library):
            if len(scored) + len(filled) >= room + SIMILAR_CANDIDATES:
                break
            item = library.items[position]
            if position not in taken and allowed_mask[position] and in_season(item, today):
                filled.append((item, (int(position), prior.score(library, int(position)), reason)))
        scored = sorted(scored + filled, key=lambda entry: -entry[1][1])
    top = within_cap(diverse_top(scored, k), room, again) if again else diverse_top(scored, room)
    return [_recommendation(profile, moment, today, cosine, entry, liked) for entry in top]


def _recommendation(
    profile: CustomerProfile,
    moment: str,
    today: date,
    cosine: np.ndarray,
    entry: Tuple[LibraryItem, Tuple[int, float, Optional[str]]],
    liked: Set[int] = frozenset(),
) -> Recommendation:
    item, (position, score, filled_reason) = entry
    situation = False
    if filled_reason is not None:
        reasons: List[str] = [filled_reason]
    else:
        candidate = rule_reasons(profile, moment, item, today)
        candidate.similarity = float(cosine[position])
        if candidate.similarity >= SIMILAR_REASON:
            candidate.reasons.append("close to what you asked")
        if position in liked:
            candidate.reasons.append(LIKE_YOU)
        if not candidate.reasons:
            candidate.reasons.append(RELATED)
        reasons = candidate.reasons
        situation = candidate.situation
    return Recommendation(
        slug=item.slug,
        title=item.title,
        summary=item.summary,
        category=item.category,
        marketing=item.marketing,
        score=round(score, 4),
        reasons=tuple(reasons),
        item_id=item.item_id,
        situation=situation,
    )


def _worth_a_learned_score(scores: np.ndarray, pool: np.ndarray, liked: Sequence[int]) -> np.ndarray:
    """Indices into ``pool`` the learned ranker scores: its own candidates and the LEARNED_SCORED best by the
    other terms. A library of a few hundred items has a smaller pool (every item judged); in one of 10,000, a
    seasonal rule can put a thousand tips in it, and the ranker's trees over all of them cost more than the rest
    of the recommendation (benchmarks/results/recommendations_latency.md), for items the learned 0.3 would have
    to lift over fifty others."""
    if len(pool) <= LEARNED_SCORED:
        return np.arange(len(pool))
    best = np.argpartition(-scores, LEARNED_SCORED - 1)[:LEARNED_SCORED]
    own = np.flatnonzero(np.isin(pool, np.asarray(liked, dtype=np.int64)))
    return np.union1d(best, own)


def _in_season(library: Library, today: date) -> np.ndarray:
    """`in_season(item, today)` for every item."""
    f = rule_features(library)
    return ~f.has_months | f.in_month(today.month)


def _fits(library: Library, profile: CustomerProfile) -> np.ndarray:
    """`_fit(item, profile, products)` for every item."""
    products = _involved_products(profile)
    if profile.anonymous or not products:
        return np.zeros(len(library))
    f = rule_features(library)
    return np.where(f.has_lines, np.where(f.fits(products), FIT_BONUS, -FIT_BONUS), 0.0)


# -- serving: what the actions call ---------------------------------------------------------------------------

_caches: Dict[str, LibraryCache] = {}
_vectors: List[ItemVectors] = []
_priors: Dict[str, Tuple[datetime, Prior]] = {}
_lock = threading.Lock()


def _database_key(session: Session) -> str:
    return str(session.get_bind().url)


def _library(session: Session) -> Library:
    with _lock:
        cache = _caches.setdefault(_database_key(session), LibraryCache())
    return cache.library(session)


def popularity_prior(session: Session, now: Optional[datetime] = None) -> Prior:
    """Opens per item over the last 90 days, re-read at most once a minute of `now` (a prior need not be to the
    second, and the grouping query is the dearest of a recommendation's)."""
    now = now or utcnow()
    key = _database_key(session)
    cached = _priors.get(key)
    if cached is not None and timedelta(0) <= now - cached[0] < POPULARITY_TTL:
        return cached[1]
    rows = session.execute(
        select(ContentItem.slug, func.count(ContentEvent.id))
        .join(ContentEvent, ContentEvent.content_item_id == ContentItem.id)
        .where(ContentEvent.kind == "open", ContentEvent.at >= now - timedelta(days=POPULARITY_DAYS))
        .group_by(ContentItem.slug)
    ).all()
    prior = Prior({slug: int(count) for slug, count in rows})
    _priors[key] = (now, prior)
    return prior


def recommendation_encoder() -> "Encoder":
    """The recommender's own MiniLM, its linear layers in int8 (retrieval/encoder.py): the question's embedding
    was the largest part of a recommendation, and int8 about halves it (22.3 -> 10.1 ms of CPU on one thread for a
    three-question text, benchmarks/results/recommendations_encoder.md) for the same judged NDCG@3 (0.664). A
    second instance, not the retrieval answerer's, whose float vectors its calibrated thresholds need; ~70 MiB
    more per process."""
    from retrieval.encoder import Encoder

    return Encoder(threads=1, int8=True, traced=True)


def shared_item_vectors(encoder: Optional[TextEncoder] = None) -> Optional[ItemVectors]:
    """Item vectors over the recommender's encoder (one per process). None when the encoder cannot load:
    recommendations then go on from rules and popularity alone."""
    with _lock:
        if not _vectors:
            if encoder is None:
                try:
                    encoder = recommendation_encoder()
                except Exception:
                    logger.exception("no sentence encoder: recommending without content similarity")
                    return None
            _vectors.append(ItemVectors(encoder))
        return _vectors[0]


def warm_up() -> None:
    """Load and quantise the recommender's encoder before the first customer waits for it (a second or two of
    CPU); the library is embedded on the first recommendation, which has a database session."""
    vectors = shared_item_vectors()
    if vectors is not None:
        vectors.encoder.encode(["warm up"])


def recommend_for_conversation(
    session: Session,
    conversation_id: str,
    moment: str,
    k: int = 3,
    now: Optional[datetime] = None,
    latest: Optional[Said] = None,
    profile: Optional[CustomerProfile] = None,
) -> List[Recommendation]:
    """What to show the customer of this conversation now. Pure reading: the caller records the impressions.
    `latest`: the message being answered (the action's tracker has it before the interaction log does);
    `profile`: one the caller has just read for this conversation (the greeting decides on it first)."""
    now = now or utcnow()
    profile = profile or load_profile(session, conversation_id, now, latest)
    vectors = shared_item_vectors()
    library, prior = _library(session), popularity_prior(session, now)
    learned = served_model(session, now)
    try:
        return recommend(profile, moment, library, k, now.date(), vectors=vectors, prior=prior, learned=learned)
    except (OSError, RuntimeError):
        if vectors is None:
            raise
        logger.exception("content similarity failed: recommending from rules and popularity alone")
        return recommend(profile, moment, library, k, now.date(), prior=prior, learned=learned)
