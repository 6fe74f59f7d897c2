"""The content library in the inbox: every agent reads it, admins create, edit, retire and restore items.

Each change is checked by the importer's own rules (recommendations/library.py `check_item`), so an item the
inbox accepts is one a library file could hold. Changes stamp `updated_at` (and `retired_at`), which is what
the recommender's library cache watches (recommendations/items.py), so its next call sees them. Nothing is ever
deleted: impressions and events point at items. An item changed here belongs to the inbox from then on
(`source` = INBOX_SOURCE): a later import of the library files leaves it as the admin made it.
"""

from __future__ import annotations

from dataclasses import fields as spec_fields
from typing import Any, Dict, Optional, Tuple

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from inbox.errors import Conflict, InvalidInput, NotFound
from inbox.services import audit
from inbox.services.common import aware, flush_unique
from recommendations.library import (
    FIELDS,
    INBOX_SOURCE,
    LIST_FIELDS,
    ContentSpec,
    LibraryError,
    apply_spec,
    check_item,
    matching,
)
from recommendations.vocabulary import CATEGORIES, PRODUCT_LINES
from storage.models import Agent, ContentItem, utcnow

# An item's fields as the library's checks and ContentSpec know them, in ContentSpec's order; the file's `id` is
# the API's `slug`, a column of its own. The sequence-valued ones are stored as JSON arrays.
ITEM_FIELDS = tuple(spec_field.name for spec_field in spec_fields(ContentSpec) if spec_field.name in FIELDS)
SEQUENCE_FIELDS = (*LIST_FIELDS, "months")


def _fields(item: ContentItem) -> Dict[str, Any]:
    values = {name: getattr(item, name) for name in ITEM_FIELDS}
    return values | {name: list(values[name] or []) for name in SEQUENCE_FIELDS}


def as_dict(item: ContentItem) -> Dict[str, Any]:
    return {
        "id": item.id,
        "slug": item.slug,
        **_fields(item),
        "marketing": bool(item.marketing),
        "source": item.source,
        "created_at": aware(item.created_at),
        "updated_at": aware(item.updated_at),
        "retired_at": aware(item.retired_at) if item.retired_at else None,
    }


def list_items(
    db: Session,
    *,
    q: Optional[str] = None,
    category: Optional[str] = None,
    product_line: Optional[str] = None,
    retired: Optional[bool] = None,
    marketing: Optional[bool] = None,
    limit: int = 200,
    offset: int = 0,
) -> Dict[str, Any]:
    """Items by slug, filtered; `product_line` as the recommender reads it (an item for no line is for any),
    filtered in Python because the tag lists are JSON arrays (see `matching`)."""
    _known(category, CATEGORIES, "category")
    _known(product_line, PRODUCT_LINES, "product_line")
    query = select(ContentItem).order_by(ContentItem.slug)
    if q:
        pattern = f"%{like_pattern(q.strip().lower())}%"
        query = query.where(
            or_(
                func.lower(ContentItem.slug).like(pattern, escape="\\"),
                func.lower(ContentItem.title).like(pattern, escape="\\"),
                func.lower(ContentItem.summary).like(pattern, escape="\\"),
            )
        )
    if category:
        query = query.where(ContentItem.category == category)
    if retired is not None:
        query = query.where(ContentItem.retired_at.isnot(None) if retired else ContentItem.retired_at.is_(None))
    if marketing is not None:
        query = query.where(ContentItem.marketing.is_(marketing))
    rows = list(db.scalars(query))
    if product_line:
        rows = matching(rows, product_line=product_line)
    return {"items": [as_dict(row) for row in rows[offset : offset + limit]], "total": len(rows)}


def _known(value: Optional[str], allowed: Tuple[str, ...], name: str) -> None:
    if value and value not in allowed:
        raise InvalidInput(f"{name}: unknown {value!r}; allowed: {', '.join(allowed)}")


def like_pattern(text: str) -> str:
    """`text` for LIKE with its own % and _ taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def get_row(db: Session, content_id: int) -> ContentItem:
    item = db.get(ContentItem, content_id)
    if item is None:
        raise NotFound(f"Content item {content_id} not found.")
    return item


def get_item(db: Session, content_id: int) -> Dict[str, Any]:
    return as_dict(get_row(db, content_id))


def _raw(item: ContentItem) -> Dict[str, Any]:
    """A stored item in the shape of a library file's item, so an edit is checked as the whole item it makes."""
    return {"id": item.slug, **_fields(item)}


def _checked(raw: Dict[str, Any]) -> Any:
    """The importer's verdict on the item; its problems as one 422 (the file's `id` is the API's `slug`)."""
    try:
        return check_item({key: value for key, value in raw.items() if value is not None})
    except LibraryError as error:
        problems = [p.replace("field id:", "field slug:", 1) for p in error.problems]
        raise InvalidInput("; ".join(problems)) from error


def _save(db: Session, item: ContentItem) -> None:
    """Flush; a slug another item has (also when two admins race) is a 409."""
    flush_unique(db, item, ContentItem.slug, f"The slug {item.slug!r} is taken by another item.")


def create(db: Session, agent: Agent, slug: str, fields: Dict[str, Any], ip: Optional[str]) -> Dict[str, Any]:
    spec = _checked({**fields, "id": slug})
    now = utcnow()
    item = ContentItem(slug=spec.slug, created_at=now, updated_at=now)
    apply_spec(item, spec)
    db.add(item)
    _save(db, item)
    audit.record(db, "content_created", agent_id=agent.id, detail={"id": item.id, "slug": item.slug}, ip=ip)
    db.commit()
    return as_dict(item)


def update(db: Session, agent: Agent, content_id: int, changes: Dict[str, Any], ip: Optional[str]) -> Dict[str, Any]:
    """Apply `changes` (null clears a field) and check the whole item that results."""
    item = get_row(db, content_id)
    before = _raw(item)
    spec = _checked({**before, **changes})
    apply_spec(item, spec)
    changed = sorted(name for name in ITEM_FIELDS if _raw(item)[name] != before[name])
    item.updated_at = utcnow()
    _save(db, item)
    detail = {"id": item.id, "slug": item.slug, "changed": changed}
    audit.record(db, "content_updated", agent_id=agent.id, detail=detail, ip=ip)
    db.commit()
    return as_dict(item)


def retire(db: Session, agent: Agent, content_id: int, ip: Optional[str]) -> Dict[str, Any]:
    """Never recommended again; kept, because its impressions and events point at it."""
    item = get_row(db, content_id)
    if item.retired_at is not None:
        raise Conflict(f"{item.slug} is already retired.")
    now = utcnow()
    item.retired_at, item.updated_at, item.source = now, now, INBOX_SOURCE
    audit.record(db, "content_retired", agent_id=agent.id, detail={"id": item.id, "slug": item.slug}, ip=ip)
    db.commit()
    return as_dict(item)


def restore(db: Session, agent: Agent, content_id: int, ip: Optional[str]) -> Dict[str, Any]:
    item = get_row(db, content_id)
    if item.retired_at is None:
        raise Conflict(f"{item.slug} is not retired.")
    item.retired_at, item.updated_at, item.source = None, utcnow(), INBOX_SOURCE
    audit.record(db, "content_restored", agent_id=agent.id, detail={"id": item.id, "slug": item.slug}, ip=ip)
    db.commit()
    return as_dict(item)
