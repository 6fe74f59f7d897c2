"""Canned responses: replies agents insert by short code; only admins change them."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from inbox.errors import InvalidInput, NotFound
from inbox.services import audit
from inbox.services.common import aware, flush_unique
from storage.models import Agent, CannedResponse, utcnow


def as_dict(item: CannedResponse) -> Dict[str, Any]:
    return {
        "id": item.id,
        "short_code": item.short_code,
        "content": item.content,
        "created_at": aware(item.created_at),
        "updated_at": aware(item.updated_at),
    }


def list_canned(db: Session, prefix: Optional[str] = None) -> List[Dict[str, Any]]:
    query = select(CannedResponse).order_by(CannedResponse.short_code)
    if prefix:
        query = query.where(CannedResponse.short_code.startswith(prefix.lower(), autoescape=True))
    return [as_dict(item) for item in db.scalars(query)]


def _get(db: Session, canned_id: int) -> CannedResponse:
    item = db.get(CannedResponse, canned_id)
    if item is None:
        raise NotFound(f"Canned response {canned_id} not found.")
    return item


def _save(db: Session, item: CannedResponse) -> None:
    """Flush; a short code another response has (also when two admins race) is a 409."""
    flush_unique(db, item, CannedResponse.short_code, f"The short code {item.short_code!r} is taken.")


def create(db: Session, agent: Agent, short_code: str, content: str, ip: Optional[str]) -> Dict[str, Any]:
    if not content.strip():
        raise InvalidInput("content must not be empty")
    item = CannedResponse(short_code=short_code.lower(), content=content.strip(), created_by_id=agent.id)
    db.add(item)
    _save(db, item)
    audit.record(db, "canned_created", agent_id=agent.id, detail={"id": item.id, "short_code": item.short_code}, ip=ip)
    db.commit()
    return as_dict(item)


def update(
    db: Session, agent: Agent, canned_id: int, short_code: Optional[str], content: Optional[str], ip: Optional[str]
) -> Dict[str, Any]:
    item = _get(db, canned_id)
    if short_code is not None:
        item.short_code = short_code.lower()
    if content is not None:
        if not content.strip():
            raise InvalidInput("content must not be empty")
        item.content = content.strip()
    item.updated_at = utcnow()
    _save(db, item)
    audit.record(db, "canned_updated", agent_id=agent.id, detail={"id": item.id, "short_code": item.short_code}, ip=ip)
    db.commit()
    return as_dict(item)


def delete(db: Session, agent: Agent, canned_id: int, ip: Optional[str]) -> None:
    item = _get(db, canned_id)
    db.delete(item)
    audit.record(
        db, "canned_deleted", agent_id=agent.id, detail={"id": canned_id, "short_code": item.short_code}, ip=ip
    )
    db.commit()
