"""The content library the bot recommends from (docs/recommendations.md): every agent lists, reads and previews
items; only admins create, edit, retire and restore them."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Path, Query, Request

from inbox.deps import AdminAgent, CurrentAgent, DbSession, SettingsDep, client_ip
from inbox.schemas import MAX_ID, ContentIn, ContentOut, ContentPage, ContentPreviewOut, ContentUpdate, Detail
from inbox.services import content, content_preview

router = APIRouter(prefix="/content", tags=["content library"])
ERRORS = {
    403: {"model": Detail},
    404: {"model": Detail},
    409: {"model": Detail, "description": "slug taken, or already retired / not retired"},
}
ContentId = Path(..., ge=1, le=MAX_ID)


@router.get("", response_model=ContentPage)
def list_content(
    *,
    q: Optional[str] = Query(None, max_length=200, description="in the slug, title or summary"),
    category: Optional[str] = None,
    product_line: Optional[str] = Query(None, description="items for this line, and those for any line"),
    retired: Optional[bool] = None,
    marketing: Optional[bool] = None,
    limit: int = Query(200, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_ID),
    agent: CurrentAgent,
    db: DbSession,
) -> dict:
    return content.list_items(
        db,
        q=q,
        category=category,
        product_line=product_line,
        retired=retired,
        marketing=marketing,
        limit=limit,
        offset=offset,
    )


@router.get("/{content_id}", response_model=ContentOut, responses=ERRORS)
def get_content(*, content_id: int = ContentId, agent: CurrentAgent, db: DbSession) -> dict:
    return content.get_item(db, content_id)


@router.get("/{content_id}/preview", response_model=ContentPreviewOut, responses=ERRORS)
def preview_content(
    *,
    content_id: int = ContentId,
    channel: str = Query(..., max_length=20, description=", ".join(content_preview.CHANNELS)),
    agent: CurrentAgent,
    db: DbSession,
    settings: SettingsDep,
) -> dict:
    """The item as `channel` would receive it: the bot's exact messages, and the same as readable bubbles."""
    item = content.get_row(db, content_id)
    return content_preview.preview(item, channel, settings.content_public_url)


@router.post("", response_model=ContentOut, status_code=201, responses=ERRORS)
def create_content(*, body: ContentIn, request: Request, admin: AdminAgent, db: DbSession) -> dict:
    fields = body.dict(exclude_unset=True)
    slug = fields.pop("slug")
    return content.create(db, admin, slug, fields, client_ip(request))


@router.patch("/{content_id}", response_model=ContentOut, responses=ERRORS)
def update_content(
    *, body: ContentUpdate, request: Request, content_id: int = ContentId, admin: AdminAgent, db: DbSession
) -> dict:
    return content.update(db, admin, content_id, body.dict(exclude_unset=True), client_ip(request))


@router.post("/{content_id}/retire", response_model=ContentOut, responses=ERRORS)
def retire_content(*, request: Request, content_id: int = ContentId, admin: AdminAgent, db: DbSession) -> dict:
    """Never recommended again; never deleted (impressions point at it)."""
    return content.retire(db, admin, content_id, client_ip(request))


@router.post("/{content_id}/restore", response_model=ContentOut, responses=ERRORS)
def restore_content(*, request: Request, content_id: int = ContentId, admin: AdminAgent, db: DbSession) -> dict:
    return content.restore(db, admin, content_id, client_ip(request))
