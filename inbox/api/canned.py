"""Canned responses: every agent reads them; admins create, edit and delete."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Path, Request, Response

from inbox.deps import AdminAgent, CurrentAgent, DbSession, client_ip
from inbox.schemas import MAX_ID, CannedIn, CannedOut, CannedUpdate, Detail
from inbox.services import canned

router = APIRouter(prefix="/canned-responses", tags=["canned responses"])
ERRORS = {403: {"model": Detail}, 404: {"model": Detail}, 409: {"model": Detail, "description": "short code taken"}}


@router.get("", response_model=list[CannedOut])
def list_canned(*, prefix: Optional[str] = None, agent: CurrentAgent, db: DbSession) -> list:
    return canned.list_canned(db, prefix)


@router.post("", response_model=CannedOut, status_code=201, responses=ERRORS)
def create_canned(*, body: CannedIn, request: Request, admin: AdminAgent, db: DbSession) -> dict:
    return canned.create(db, admin, body.short_code, body.content, client_ip(request))


@router.patch("/{canned_id}", response_model=CannedOut, responses=ERRORS)
def update_canned(
    *,
    body: CannedUpdate,
    request: Request,
    canned_id: int = Path(..., ge=1, le=MAX_ID),
    admin: AdminAgent,
    db: DbSession,
) -> dict:
    return canned.update(db, admin, canned_id, body.short_code, body.content, client_ip(request))


@router.delete("/{canned_id}", status_code=204, response_class=Response, responses=ERRORS)
def delete_canned(
    *,
    request: Request,
    canned_id: int = Path(..., ge=1, le=MAX_ID),
    admin: AdminAgent,
    db: DbSession,
) -> Response:
    canned.delete(db, admin, canned_id, client_ip(request))
    return Response(status_code=204)
