"""Helpers for the recommendation-serving tests: a database holding the demo content library, settings with a
known tracking secret, and Rasa's way of turning `utter_message` kwargs into what an output channel is given."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, TypeVar
from urllib.parse import urlsplit

import requests
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from recommendations.library import DEMO_LIBRARY, import_library
from settings import Settings, load
from storage.engine import session_scope
from storage.migrate import upgrade
from storage.models import ContentEvent, ContentImpression, ContentItem

if TYPE_CHECKING:
    from runner.servers import ServerSet

TRACKING_SECRET = "tracking-secret-for-tests-0123456789abcdef"
PUBLIC_URL = "https://chat.harbor-mutual.example"
BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"  # a person
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


T = TypeVar("T")


@dataclass(frozen=True)
class Policyholder:
    """A demo customer (demo_data/customers.yml) as they prove who they are in a chat: one of their auto policies
    and their date of birth, as they would type them."""

    policy_number: str
    birth_date: str


MARIA_ALVAREZ = Policyholder("PX-88123", "03/14/1984")
AISHA_RAHMAN = Policyholder("PX-77310", "05/30/1989")


def claim_turns(holder: Policyholder) -> List[str]:
    """A collision claim in the customer's words: the claim form's answers, then the date of birth that verifies
    them (the claim is filed once the customer is verified; a verified customer is not asked again)."""
    return [
        "I need to file a claim, someone hit my car",
        holder.policy_number,
        "collision",
        "yesterday",
        "a van backed into my parked car at the grocery store and crushed the front bumper",
        holder.birth_date,
    ]


def file_claim(say: Callable[[str], T], text_of: Callable[[T], str], holder: Policyholder = MARIA_ALVAREZ) -> T:
    """The claim conversation up to the turn that files it. `say` sends one customer message on some channel and
    returns the bot's answer to it; `text_of` reads what that answer says."""
    said = ""
    for text in claim_turns(holder):
        answer = say(text)
        said = text_of(answer)
        if "claim number is CL-" in said:
            return answer
    raise AssertionError(f"no claim filed; last answer: {said}")


def shown(db_url: str, conversation_id: str) -> List[str]:
    """The slugs of the items shown in this conversation, in the order their impressions were first recorded."""
    with session_scope(db_url) as session:
        return list(
            session.scalars(
                select(ContentItem.slug)
                .join(ContentImpression, ContentImpression.content_item_id == ContentItem.id)
                .where(ContentImpression.conversation_id == conversation_id)
                .order_by(ContentImpression.id)
            )
        )


def checklist_for(db_url: str, slug: str) -> List[str]:
    """The incident types a claim checklist is for (empty for anything that is not a claim checklist)."""
    with session_scope(db_url) as session:
        item = session.scalars(select(ContentItem).where(ContentItem.slug == slug)).one()
        return list(item.incident_types or []) if item.category == "claim_checklist" else []


def event_count(db_url: str, kind: str, conversation_id: str) -> int:
    """How many `kind` events (impression, open, dismiss, conversion) this conversation's content has."""
    with session_scope(db_url) as session:
        return len(
            session.scalars(
                select(ContentEvent.id).where(
                    ContentEvent.kind == kind, ContentEvent.conversation_id == conversation_id
                )
            ).all()
        )


def open_public_link(page_server_url: str, url: str, public_url: str = PUBLIC_URL) -> requests.Response:
    """A GET of a link customers were given under `public_url` (WEBCHAT_PUBLIC_URL), as the deployment's TLS proxy
    hands it to the page server: the same path and query, the public host in Host. Redirects are not followed."""
    public, link = urlsplit(public_url), urlsplit(url)
    assert (link.scheme, link.netloc) == (public.scheme, public.netloc), f"{url} is not under {public_url}"
    local = page_server_url + link.path + (f"?{link.query}" if link.query else "")
    headers = {"Host": link.netloc, "X-Forwarded-Proto": link.scheme, "User-Agent": BROWSER}
    return requests.get(local, headers=headers, allow_redirects=False, timeout=30)


def servers_with_library(
    workdir: Path,
    ready_timeout: float = 600,
    *,
    credentials: Optional[Path] = None,
    extra_env: Optional[Dict[str, str]] = None,
) -> Iterator["ServerSet"]:
    """Rasa, the action server and the web chat page as `make run` starts them (migrated, seeded, the demo
    library imported), with tracked links pointing at this page server unless `extra_env` names another
    WEBCHAT_PUBLIC_URL; `credentials` replaces bot/credentials.yml. Stopped when the generator closes."""
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
        extra_env={"WEBCHAT_PUBLIC_URL": f"http://127.0.0.1:{webchat}", **(extra_env or {})},
        **({"credentials": credentials} if credentials is not None else {}),
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
