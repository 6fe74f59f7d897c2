"""Server-sent events: new messages, escalations and agents' actions, as they reach the database."""

from __future__ import annotations

import asyncio
import json
import time
from typing import AsyncIterator, Optional

from fastapi import APIRouter, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from inbox.deps import CurrentAgent, DbSession, SettingsDep
from inbox.services.events import Cursor, changes_since, current_cursor
from inbox.settings import Settings
from storage.engine import session_scope

router = APIRouter(tags=["events"])
HEARTBEAT_SECONDS = 15.0


def _frame(event: str, data: dict, event_id: Optional[str] = None) -> str:
    lines = [f"event: {event}"]
    if event_id:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(jsonable_encoder(data), separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


def _poll(url: str, cursor: Cursor):  # type: ignore[no-untyped-def]
    with session_scope(url) as db:  # a fresh short transaction per tick: no lock held between ticks
        return changes_since(db, cursor)


async def stream(request: Request, settings: Settings, cursor: Cursor) -> AsyncIterator[str]:
    """Poll every `sse_poll_seconds`; end after `sse_max_seconds` (the browser reconnects with
    Last-Event-ID and loses nothing), so no connection or worker is held forever."""
    yield f"retry: 2000\nid: {cursor.encode()}\nevent: ready\ndata: {{}}\n\n"
    started = last_beat = time.monotonic()
    while time.monotonic() - started < settings.sse_max_seconds:
        if await request.is_disconnected():
            return
        events, cursor = await run_in_threadpool(_poll, settings.database_url, cursor)
        for index, (name, data) in enumerate(events):
            yield _frame(name, data, cursor.encode() if index == len(events) - 1 else None)
        if not events and time.monotonic() - last_beat > HEARTBEAT_SECONDS:
            yield ": keep-alive\n\n"
            last_beat = time.monotonic()
        await asyncio.sleep(settings.sse_poll_seconds)


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "events: ready, message, escalation, conversation"}
    },
)
def events(
    *,
    request: Request,
    last_event_id: Optional[str] = Header(None, max_length=100),
    agent: CurrentAgent,
    db: DbSession,
    settings: SettingsDep,
) -> StreamingResponse:
    """`text/event-stream` of `message` (a new transcript line), `escalation` (new in the queue) and
    `conversation` (assigned, taken over, handed back, resolved, noted) events; starts from now, or from
    Last-Event-ID when the browser reconnects."""
    cursor = Cursor.decode(last_event_id) or current_cursor(db)
    db.close()  # the stream polls with its own short sessions
    return StreamingResponse(
        stream(request, settings, cursor),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
