"""The JSON API: one router per resource, combined here under /api."""

from fastapi import APIRouter

from inbox.api import (
    agents,
    alerts,
    analytics,
    audit,
    auth,
    canned,
    content,
    conversations,
    escalations,
    events,
    harvest,
    learning,
    messages,
    notes,
    review,
)

api_router = APIRouter(prefix="/api")
for module in (
    auth,
    conversations,
    messages,
    notes,
    escalations,
    canned,
    agents,
    audit,
    events,
    review,
    harvest,
    alerts,
    analytics,
    learning,
    content,
):
    api_router.include_router(module.router)
