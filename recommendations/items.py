"""The library as the recommender reads it: plain frozen items, loaded from SQL once and kept until it changes.

The recommender never touches ORM rows: an action recommends inside a few milliseconds, and building 10,000
`ContentItem` objects per call would cost more than the whole ranking. `LibraryCache` re-reads the table only
when its fingerprint (row count and newest `updated_at`/`retired_at`) moves, which an admin's edit, an import or
a retirement always does (recommendations/library.py stamps `updated_at`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from recommendations.library import ContentSpec
from storage.models import ContentItem


@dataclass(frozen=True)
class LibraryItem:
    slug: str
    category: str
    title: str
    summary: str
    product_lines: Tuple[str, ...] = ()
    life_events: Tuple[str, ...] = ()
    claim_stages: Tuple[str, ...] = ()
    incident_types: Tuple[str, ...] = ()
    months: Tuple[int, ...] = ()
    marketing: bool = False
    offers_product: Optional[str] = None
    valid_from: Optional[date] = None
    valid_to: Optional[date] = None
    editorial_rank: int = 0  # the library's own order (import order): the cold-start tie-breaker
    item_id: Optional[int] = None  # content_items.id, None for items not stored (benchmark)

    @property
    def text(self) -> str:
        """What similarity compares a question with: what a customer reads before opening it."""
        return f"{self.title}. {self.summary}"

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day <= self.valid_to)

    def fits_products(self, products: Sequence[str]) -> bool:
        """An item with no product lines is for every product line."""
        return not self.product_lines or any(p in self.product_lines for p in products)


def from_spec(spec: ContentSpec, rank: int = 0) -> LibraryItem:
    return LibraryItem(
        slug=spec.slug,
        category=spec.category,
        title=spec.title,
        summary=spec.summary,
        product_lines=tuple(spec.product_lines),
        life_events=tuple(spec.life_events),
        claim_stages=tuple(spec.claim_stages),
        incident_types=tuple(spec.incident_types),
        months=tuple(spec.months),
        marketing=spec.marketing,
        offers_product=spec.offers_product,
        valid_from=spec.valid_from,
        valid_to=spec.valid_to,
        editorial_rank=rank,
    )


def from_row(row: ContentItem) -> LibraryItem:
    return LibraryItem(
        slug=row.slug,
        category=row.category,
        title=row.title,
        summary=row.summary,
        product_lines=tuple(row.product_lines or ()),
        life_events=tuple(row.life_events or ()),
        claim_stages=tuple(row.claim_stages or ()),
        incident_types=tuple(row.incident_types or ()),
        months=tuple(row.months or ()),
        marketing=bool(row.marketing),
        offers_product=row.offers_product,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        editorial_rank=row.id,
        item_id=row.id,
    )


def fingerprint_query() -> Select:
    """Row count, newest `updated_at`, newest `retired_at`: read in every recommendation, so each is its own
    scalar subquery. One SELECT with the three aggregates reads every row with its body (SQLite's min/max
    optimisation needs a query with one min() or max() and nothing else; PostgreSQL likewise rewrites only a
    query of bare min/max aggregates into index look-ups), 4.9 ms of CPU at 10,000 items. Apart, the maxima are
    a look-up at the end of `ix_content_items_updated_at` (0017) and `ix_content_items_retired_category`, and
    the count reads an index rather than the table."""
    return select(
        select(func.count()).select_from(ContentItem).scalar_subquery(),
        select(func.max(ContentItem.updated_at)).scalar_subquery(),
        select(func.max(ContentItem.retired_at)).scalar_subquery(),
    )


def _fingerprint(session: Session) -> Tuple[object, ...]:
    return tuple(session.execute(fingerprint_query()).one())


def load_items(session: Session) -> List[LibraryItem]:
    """Every live (not retired) item, in editorial order; validity dates are the constraints' to apply."""
    rows = session.scalars(select(ContentItem).where(ContentItem.retired_at.is_(None)).order_by(ContentItem.id))
    return [from_row(row) for row in rows]


class LibraryCache:
    """The live items of one database, re-read only when the table changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fingerprint: Optional[Tuple[object, ...]] = None
        self._library = Library([])

    def library(self, session: Session) -> "Library":
        fingerprint = _fingerprint(session)
        with self._lock:
            if fingerprint != self._fingerprint:
                self._library = Library(load_items(session))
                self._fingerprint = fingerprint
            return self._library


class Library:
    """A snapshot of the live items with what every recommendation looks up, built once per snapshot: the
    constraints as arrays (checked for all items at once) and the items each rule can ask for, so a rule looks at
    its few dozen items rather than the whole library."""

    def __init__(self, items: Sequence[LibraryItem]) -> None:
        self.items: List[LibraryItem] = list(items)
        self.position: Dict[str, int] = {item.slug: i for i, item in enumerate(self.items)}
        never, always = date.min.toordinal(), date.max.toordinal()
        self.marketing = np.array([item.marketing for item in self.items], dtype=bool)
        self.offers = np.array([item.offers_product or "" for item in self.items], dtype=object)
        self.valid_from = np.array([i.valid_from.toordinal() if i.valid_from else never for i in self.items])
        self.valid_to = np.array([i.valid_to.toordinal() if i.valid_to else always for i in self.items])
        ranks = np.argsort(np.argsort([item.editorial_rank for item in self.items], kind="stable"), kind="stable")
        self.editorial = 1.0 - ranks / max(len(self.items), 1)  # 1 for the first item, towards 0 for the last
        self.by_incident = _group(self.items, lambda item: item.incident_types)
        self.by_stage = _group(self.items, lambda item: item.claim_stages)
        self.by_category = _group(self.items, lambda item: (item.category,))
        self.by_offer = _group(self.items, lambda item: (item.offers_product,) if item.offers_product else ())
        self.by_month = _group(self.items, lambda item: item.months)
        self._vectors: Dict[int, np.ndarray] = {}
        self._derived: Dict[str, object] = {}

    def __len__(self) -> int:
        return len(self.items)

    def vectors(self, owner: object, compute: Callable[[Sequence[LibraryItem]], np.ndarray]) -> np.ndarray:
        """The item matrix `owner` (an ItemVectors) computed for this snapshot, computed once."""
        key = id(owner)
        if key not in self._vectors:
            self._vectors[key] = compute(self.items)
        return self._vectors[key]

    def derived(self, name: str, compute: Callable[["Library"], object]) -> object:
        """Something a module works out from this snapshot once (e.g. which how-tos are about renewal)."""
        if name not in self._derived:
            self._derived[name] = compute(self)
        return self._derived[name]


def _group(items: Sequence[LibraryItem], keys: Callable[[LibraryItem], Iterable[object]]) -> Dict[object, List[int]]:
    groups: Dict[object, List[int]] = {}
    for position, item in enumerate(items):
        for key in keys(item):
            groups.setdefault(key, []).append(position)
    return groups


def as_library(items: "Library | Sequence[LibraryItem]") -> Library:
    return items if isinstance(items, Library) else Library(items)
