"""Helpers for the recommendation-serving tests: a database holding the demo content library, settings with a
known tracking secret, and Rasa's way of turning `utter_message` kwargs into what an output channel is given."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, List

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from recommendations.library import DEMO_LIBRARY, import_library
from settings import Settings, load
from storage.engine import session_scope
from storage.migrate import upgrade
from storage.models import ContentItem

if TYPE_CHECKING:
    from runner.servers import ServerSet

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


def servers_with_library(workdir: Path, ready_timeout: float = 600) -> Iterator["ServerSet"]:
    """Rasa, the action server and the web chat page as `make run` starts them (migrated, seeded, the demo
    library imported), with tracked links pointing at this page server; stopped when the generator closes."""
    from runner.servers import Ports, ServerSet
    from tests.support.databases import migrated_sqlite
    from tests.support.network import free_port
    from tests.support.servers import server_logs

    db_url = migrated_sqlite(workdir / "coverline.db")
    with session_scope(db_url) as session:
        import_library(session, [DEMO_LIBRARY])
    webchat = free_port()
    servers = ServerSet(
        ports=Ports(rasa=free_port(), actions=free_port(), webchat=webchat),
        db_url=db_url,
        with_webchat=True,
        log_dir=workdir,
        extra_env={"WEBCHAT_PUBLIC_URL": f"http://127.0.0.1:{webchat}"},
    )
    servers.start()
    try:
        servers.wait_ready(timeout=ready_timeout)
    except Exception as error:
        servers.stop()
        raise RuntimeError(f"servers did not start:\n{server_logs(workdir)}") from error
    try:
        yield servers
    finally:
        servers.stop()
