"""Candidates for one customer at one moment: from rules (what the insurer knows they need) and from content
similarity (what they are asking about), each with the reason a person would give.

Rule priorities are fixed by what matters to a customer right now, not fitted:
- 3.0 the checklist for the incident of a claim just reported or waiting for documents: what to do today;
- 2.5 the guide for the stage a claim is at; payment how-tos when a bill is overdue (cover is at stake);
- 2.0 renewal guides when a policy renews within 30 days;
- 1.5 at a quote: explainers and offers for the quoted product;
- 1.0 items about a claim's incident type (e.g. rental cover after a collision);
- 0.5 in-season safety tips for a product line the customer holds (or, anonymous, any).

Similarity is the cosine between the MiniLM embedding of the customer's recent questions (joined into one text)
and each item's title and summary, both from the recommender's own int8 instance of the bot's MiniLM
(`recommender.recommendation_encoder`). Item vectors are computed once per text and kept (`ItemVectors`).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import date
from typing import Callable, Dict, Iterable, List, Optional, Protocol, Sequence, Tuple

import numpy as np

from recommendations.items import Library, LibraryItem
from recommendations.profile import CustomerProfile

CHECKLIST, STAGE_GUIDE, OVERDUE, RENEWAL, QUOTED, INCIDENT, SEASONAL = 3.0, 2.5, 2.5, 2.0, 1.5, 1.0, 0.5
RENEWAL_DAYS = 30
QUERY_CACHE = 4096
CHECKLIST_STAGES = ("reported", "documents_requested")  # a checklist helps while evidence is still being gathered
# billing how-tos by topic, from the words a title or summary uses: the library has no topic field, and a
# renewal guide that does not say "renew" would not be found by a customer either
RENEWAL_WORDS = re.compile(r"\brenew", re.IGNORECASE)
PAYMENT_WORDS = re.compile(
    r"missed a payment|grace period|ways to pay|pay your bill|what you owe|\bbalance\b|\bdue date\b", re.IGNORECASE
)


class TextEncoder(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass
class Candidate:
    item: LibraryItem
    priority: float = 0.0
    similarity: float = 0.0
    reasons: List[str] = field(default_factory=list)
    situation: bool = False  # a rule of the customer's own situation fired: their claim, a bill, a renewal

    def add_rule(self, priority: float, reason: str) -> None:
        self.priority = max(self.priority, priority)
        if reason not in self.reasons:
            self.reasons.append(reason)


def in_season(item: LibraryItem, day: date) -> bool:
    return not item.months or day.month in item.months


def _claim_rules(profile: CustomerProfile, item: LibraryItem) -> List[Tuple[float, str]]:
    found = []
    for claim in profile.claims:
        if not item.fits_products([claim.product]):
            continue
        about_incident = claim.incident_type in item.incident_types
        if item.category == "claim_checklist" and about_incident and claim.stage in CHECKLIST_STAGES:
            found.append((CHECKLIST, f"checklist for your {claim.product} claim ({claim.incident_type})"))
        elif item.category == "claim_guide" and claim.stage in item.claim_stages:
            if not item.incident_types or about_incident:
                found.append((STAGE_GUIDE, f"what happens next: your claim is at '{claim.stage}'"))
        elif about_incident and not item.claim_stages:
            found.append((INCIDENT, f"about {claim.incident_type}, like your claim"))
    return found


def _account_rules(profile: CustomerProfile, item: LibraryItem) -> List[Tuple[float, str]]:
    found = []
    if item.category != "billing_howto":
        return found
    if profile.payment_overdue_days > 0 and PAYMENT_WORDS.search(item.text):
        found.append((OVERDUE, f"a payment is {profile.payment_overdue_days} days overdue"))
    renewing = [p.product for p in profile.policies if 0 <= p.renewal_in_days <= RENEWAL_DAYS]
    if renewing and item.fits_products(renewing) and RENEWAL_WORDS.search(item.text):
        found.append((RENEWAL, f"your {renewing[0]} policy renews within {RENEWAL_DAYS} days"))
    return found


def _moment_rules(profile: CustomerProfile, moment: str, item: LibraryItem, day: date) -> List[Tuple[float, str]]:
    found = []
    if moment == "quote_given":
        for quote in profile.quotes:
            sells = item.offers_product == quote.product
            explains = item.category == "product_explainer" and quote.product in item.product_lines
            if sells or explains:
                found.append((QUOTED, f"about {quote.product} insurance, which you were quoted"))
    if item.category == "safety_tip" and item.months and in_season(item, day):
        if profile.anonymous or item.fits_products(profile.held_products):
            found.append((SEASONAL, "in season now"))
    return found


def _topic(library: Library, name: str, words: "re.Pattern[str]") -> List[int]:
    def compute(lib: Library) -> List[int]:
        return [i for i in lib.by_category.get("billing_howto", []) if words.search(lib.items[i].text)]

    return library.derived(f"billing:{name}", compute)  # type: ignore[return-value]


def _rule_pool(profile: CustomerProfile, moment: str, library: Library, day: date) -> List[int]:
    """The only items any rule can ask for, found through the library's groups rather than by a full scan."""
    pool: List[int] = []
    for claim in profile.claims:
        pool += library.by_incident.get(claim.incident_type, [])
        pool += library.by_stage.get(claim.stage, [])
    if profile.payment_overdue_days > 0:
        pool += _topic(library, "payment", PAYMENT_WORDS)
    if any(0 <= p.renewal_in_days <= RENEWAL_DAYS for p in profile.policies):
        pool += _topic(library, "renewal", RENEWAL_WORDS)
    if moment == "quote_given":
        for quote in profile.quotes:
            pool += library.by_offer.get(quote.product, [])
            pool += [
                i
                for i in library.by_category.get("product_explainer", [])
                if quote.product in library.items[i].product_lines
            ]
    pool += [i for i in library.by_month.get(day.month, []) if library.items[i].category == "safety_tip"]
    return list(dict.fromkeys(pool))


def rule_candidates(
    profile: CustomerProfile, moment: str, library: Library, day: date, permitted: np.ndarray
) -> Dict[int, Candidate]:
    """Every permitted item a rule asks for (by position in the library), with its highest priority and reasons,
    one item at a time: the rules as written, which `rule_priorities` must agree with
    (tests/recommendations/test_rule_priorities.py)."""
    found: Dict[int, Candidate] = {}
    for position in _rule_pool(profile, moment, library, day):
        if permitted[position]:
            candidate = rule_reasons(profile, moment, library.items[position], day)
            if candidate.reasons:
                found[position] = candidate
    return found


@dataclass(frozen=True)
class RuleFeatures:
    """What the rules read from each item, as one boolean array per value over the whole library, so the rules
    run as a few dozen array operations instead of three Python functions per item (a claim's incident and
    stage groups and the month's tips are hundreds of items in a 10,000-item library)."""

    categories: Dict[str, np.ndarray]
    lines: Dict[str, np.ndarray]
    incidents: Dict[str, np.ndarray]
    stages: Dict[str, np.ndarray]
    offers: Dict[str, np.ndarray]
    months: Dict[int, np.ndarray]
    has_lines: np.ndarray
    has_incidents: np.ndarray
    has_stages: np.ndarray
    has_months: np.ndarray
    payment: np.ndarray
    renewal: np.ndarray

    def _mask(self, table: Dict, key: object) -> np.ndarray:
        found = table.get(key)
        return found if found is not None else np.zeros(len(self.has_lines), dtype=bool)

    def category(self, name: str) -> np.ndarray:
        return self._mask(self.categories, name)

    def about(self, incident: str) -> np.ndarray:
        return self._mask(self.incidents, incident)

    def at_stage(self, stage: str) -> np.ndarray:
        return self._mask(self.stages, stage)

    def offering(self, product: str) -> np.ndarray:
        return self._mask(self.offers, product)

    def in_month(self, month: int) -> np.ndarray:
        return self._mask(self.months, month)

    def line(self, product: str) -> np.ndarray:
        return self._mask(self.lines, product)

    def fits(self, products: Sequence[str]) -> np.ndarray:
        """`LibraryItem.fits_products` for every item."""
        fits = ~self.has_lines
        for product in dict.fromkeys(products):
            fits = fits | self.line(product)
        return fits


def _masks(items: Sequence[LibraryItem], values: Callable[[LibraryItem], Iterable[object]]) -> Dict:
    masks: Dict[object, np.ndarray] = {}
    for position, item in enumerate(items):
        for value in values(item):
            masks.setdefault(value, np.zeros(len(items), dtype=bool))[position] = True
    return masks


def rule_features(library: Library) -> RuleFeatures:
    """The library snapshot's rule arrays, worked out once per snapshot."""

    def compute(lib: Library) -> RuleFeatures:
        items = lib.items
        flags = lambda test: np.array([bool(test(item)) for item in items], dtype=bool)  # noqa: E731
        return RuleFeatures(
            categories=_masks(items, lambda item: (item.category,)),
            lines=_masks(items, lambda item: item.product_lines),
            incidents=_masks(items, lambda item: item.incident_types),
            stages=_masks(items, lambda item: item.claim_stages),
            offers=_masks(items, lambda item: (item.offers_product,) if item.offers_product else ()),
            months=_masks(items, lambda item: item.months),
            has_lines=flags(lambda item: item.product_lines),
            has_incidents=flags(lambda item: item.incident_types),
            has_stages=flags(lambda item: item.claim_stages),
            has_months=flags(lambda item: item.months),
            payment=flags(lambda item: PAYMENT_WORDS.search(item.text)),
            renewal=flags(lambda item: RENEWAL_WORDS.search(item.text)),
        )

    return library.derived("rule_features", compute)  # type: ignore[return-value]


def rule_priorities(
    profile: CustomerProfile, moment: str, library: Library, day: date, permitted: np.ndarray
) -> np.ndarray:
    """The highest rule priority of every item (0 where no rule asks for it or it is not permitted): the
    priorities of `rule_candidates`, rule for rule, for the whole library at once. The reasons are worked out by
    `rule_reasons` for the few items that are shown."""
    f = rule_features(library)
    priority = np.zeros(len(library))

    def rule(mask: np.ndarray, value: float) -> None:
        np.maximum(priority, np.where(mask, value, 0.0), out=priority)

    checklist, guide = f.category("claim_checklist"), f.category("claim_guide")
    for claim in profile.claims:  # _claim_rules: one branch per item and claim, first match wins
        fits, about = f.fits([claim.product]), f.about(claim.incident_type)
        first = checklist & about & (claim.stage in CHECKLIST_STAGES)
        second = ~first & guide & f.at_stage(claim.stage)
        third = ~first & ~second & about & ~f.has_stages
        rule(fits & first, CHECKLIST)
        rule(fits & second & (~f.has_incidents | about), STAGE_GUIDE)
        rule(fits & third, INCIDENT)
    billing = f.category("billing_howto")
    if profile.payment_overdue_days > 0:
        rule(billing & f.payment, OVERDUE)
    renewing = [p.product for p in profile.policies if 0 <= p.renewal_in_days <= RENEWAL_DAYS]
    if renewing:
        rule(billing & f.fits(renewing) & f.renewal, RENEWAL)
    if moment == "quote_given":
        explainer = f.category("product_explainer")
        for quote in profile.quotes:
            rule(f.offering(quote.product) | (explainer & f.line(quote.product)), QUOTED)
    tips = f.category("safety_tip") & f.has_months & f.in_month(day.month)
    rule(tips if profile.anonymous else tips & f.fits(profile.held_products), SEASONAL)
    priority[~permitted] = 0.0
    return priority


def rule_reasons(profile: CustomerProfile, moment: str, item: LibraryItem, day: date) -> Candidate:
    """One item's rules with their reasons, as `rule_candidates` gives them."""
    candidate = Candidate(item)
    situation = _claim_rules(profile, item) + _account_rules(profile, item)
    for priority, reason in situation + _moment_rules(profile, moment, item, day):
        candidate.add_rule(priority, reason)
    candidate.situation = bool(situation)
    return candidate


class ItemVectors:
    """Item embeddings with the given encoder: computed once per distinct text and kept for the process; the
    stacked matrix is kept with each library snapshot."""

    def __init__(self, encoder: TextEncoder) -> None:
        self.encoder = encoder
        self._lock = threading.Lock()
        self._by_text: Dict[str, np.ndarray] = {}
        self._queries: Dict[str, np.ndarray] = {}

    def _compute(self, items: Sequence[LibraryItem]) -> np.ndarray:
        texts = [item.text for item in items]
        missing = list(dict.fromkeys(text for text in texts if text not in self._by_text))
        if missing:
            for text, vector in zip(missing, self.encoder.encode(missing), strict=True):
                self._by_text[text] = np.asarray(vector, dtype=np.float32)
        return np.vstack([self._by_text[text] for text in texts]) if texts else np.zeros((0, 1), np.float32)

    def matrix(self, library: Library) -> np.ndarray:
        with self._lock:
            return library.vectors(self, self._compute)

    def forget_queries(self) -> None:
        """Drop the kept question vectors (a benchmark measuring the embedding in every call)."""
        with self._lock:
            self._queries.clear()

    def query(self, text: str) -> np.ndarray:
        """The question's vector; the last few thousand are kept, since one turn often recommends twice (after an
        answer, then on request) from the same recent questions."""
        with self._lock:
            cached = self._queries.get(text)
        if cached is not None:
            return cached
        vector = np.asarray(self.encoder.encode([text]), dtype=np.float32)[0]
        with self._lock:
            if len(self._queries) >= QUERY_CACHE:
                self._queries.pop(next(iter(self._queries)))
            self._queries[text] = vector
        return vector


def question_text(profile: CustomerProfile) -> str:
    """The customer's recent questions as one text (at most three)."""
    return " ".join(profile.recent_questions[:3]).strip()


def similarities(profile: CustomerProfile, library: Library, vectors: Optional[ItemVectors]) -> np.ndarray:
    """Cosine of the recent questions to each item (zeros when there is nothing to compare or no encoder)."""
    text = question_text(profile)
    if not text or vectors is None or not len(library):
        return np.zeros(len(library), dtype=np.float32)
    return vectors.matrix(library) @ vectors.query(text)
