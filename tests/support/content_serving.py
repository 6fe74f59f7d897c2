"""Helpers for the recommendation-serving tests: a database holding the demo content library, settings with a
known tracking secret, and Rasa's way of turning `utter_message` kwargs into what an output channel is given."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from recommendations.library import DEMO_LIBRARY, import_library
from settings import Settings, load
from storage.engine import session_scope
from storage.migrate import upgrade
from storage.models import ContentItem

TRACKING_SECRET = "tracking-secret-for-tests-0123456789abcdef"
PUBLIC_URL = "https://chat.harbor-mutual.example"
SERVING_ENV = {
    "COVERLINE_TRACKING_SECRET": TRACKING_SECRET,
    "WEBCHAT_PUBLIC_URL": PUBLIC_URL,
    "COVERLINE_ENV": "dev",
}


def content_database(url: str) -> str:
    """`url` migrated, with the demo library imported."""
    upgrade(url)
    with session_scope(url) as session:
        import_library(session, [DEMO_LIBRARY])
    return url


def serving_settings(var_dir: Path, **extra: str) -> Settings:
    return load({**SERVING_ENV, **extra}, var_dir=var_dir)


def items_by_slug(url: str, *slugs: str) -> List[ContentItem]:
    with session_scope(url) as session:
        rows = {row.slug: row for row in session.scalars(select(ContentItem).where(ContentItem.slug.in_(slugs)))}
    return [rows[slug] for slug in slugs]


def channel_messages(kwargs_list: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """What Rasa hands an output channel's send_response for these utter_message kwargs (the action server's
    dispatcher names custom JSON `custom`, as Rasa does)."""
    dispatcher = CollectingDispatcher()
    for kwargs in kwargs_list:
        dispatcher.utter_message(**kwargs)
    return [{key: value for key, value in message.items() if value} for message in dispatcher.messages]


def rows_of(url: str, model: Any, **where: Any) -> List[Any]:
    """Every row of `model` matching `where`, oldest first."""
    with session_scope(url) as session:
        query = select(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return list(session.scalars(query.order_by(model.id)).all())
