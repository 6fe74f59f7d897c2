"""Canned responses through the API on SQLite and PostgreSQL: admins create, edit and delete them, agents read
them by prefix, a short code another response has is a 409 (inbox/services/common.py `flush_unique`, shared with
the content library's slugs) that leaves the response as it was, and every change is audited."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, List

import pytest
from sqlalchemy import select

from storage.engine import session_scope
from storage.models import AuditEntry
from tests.support.databases import migrated_seeded
from tests.support.inbox import LoggedIn


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The inbox's fixtures (settings, app, agents) on a migrated, seeded database of each kind."""
    yield from migrated_seeded(request.param, tmp_path, "inbox.db")


def audited(db_url: str) -> List[str]:
    with session_scope(db_url) as db:
        query = select(AuditEntry.action).where(AuditEntry.action.startswith("canned_")).order_by(AuditEntry.id)
        return list(db.scalars(query))


def test_canned_responses_admin_crud_agents_read(admin: LoggedIn, agent: LoggedIn, db_url: str) -> None:
    created = admin.post("/api/canned-responses", {"short_code": "Claim_Status", "content": "You can track it at …"})
    assert created.status_code == 201 and created.json()["short_code"] == "claim_status"
    admin.post("/api/canned-responses", {"short_code": "hours", "content": "We're open 8–8."})
    taken = admin.post("/api/canned-responses", {"short_code": "hours", "content": "dup"})
    assert taken.status_code == 409 and taken.json()["detail"] == "The short code 'hours' is taken."
    assert [c["short_code"] for c in agent.get("/api/canned-responses").json()] == ["claim_status", "hours"]
    assert [c["short_code"] for c in agent.get("/api/canned-responses?prefix=cl").json()] == ["claim_status"]
    canned_id = created.json()["id"]
    updated = admin.patch(f"/api/canned-responses/{canned_id}", {"content": "Track it in the app."})
    assert updated.status_code == 200 and updated.json()["content"] == "Track it in the app."
    assert admin.patch(f"/api/canned-responses/{canned_id}", {"short_code": "hours"}).status_code == 409
    assert [c["short_code"] for c in agent.get("/api/canned-responses").json()] == ["claim_status", "hours"]
    assert admin.delete(f"/api/canned-responses/{canned_id}").status_code == 204
    assert admin.delete(f"/api/canned-responses/{canned_id}").status_code == 404
    assert audited(db_url) == ["canned_created", "canned_created", "canned_updated", "canned_deleted"]
