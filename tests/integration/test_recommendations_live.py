"""Recommendations on the live servers (issue 16): a customer files a claim over REST and is offered its
checklist; opening the tracked link through the web chat page server redirects and logs the open once; "not
for me" is a button the customer taps, after which that item never comes back; a forged link is refused.

The database is what `make run` builds: migrated, seeded, and the demo content library imported."""

from __future__ import annotations

import re
import uuid
from typing import Any, Dict, Iterator, List

import pytest
import requests
from sqlalchemy import select

from runner.servers import ServerSet
from storage.engine import session_scope
from storage.models import ContentEvent, ContentImpression, ContentItem
from tests.support.content_serving import servers_with_library
from tests.support.servers import joined, say

pytestmark = [pytest.mark.needs_model, pytest.mark.integration]

CLAIM_TURNS = [
    "I need to file a claim, someone hit my car",
    "PX-88123",
    "collision",
    "yesterday",
    "a van backed into my parked car at the grocery store and crushed the front bumper",
    "03/14/1984",  # the policyholder's date of birth: the claim is filed once the customer is verified
]
LINK = re.compile(r"https?://\S+/r/[A-Za-z0-9_-]+")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerSet]:
    yield from servers_with_library(tmp_path_factory.mktemp("recommendations-live"))


def file_claim(servers: ServerSet, sender: str) -> List[Dict[str, Any]]:
    """The claim conversation up to the turn that files it (a verified customer is not asked again)."""
    for text in CLAIM_TURNS:
        replies = say(servers.rasa_url, sender, text)
        if "claim number is CL-" in joined(replies):
            return replies
    raise AssertionError(f"no claim filed; last answer: {joined(replies)}")


def offered(replies: List[Dict[str, Any]]) -> Dict[str, str]:
    """The recommendation's tracked links and "not for me" payloads, as the REST channel returns them."""
    text = joined(replies)
    buttons = [b for r in replies for b in r.get("buttons") or []]
    return {
        "links": LINK.findall(text),
        "dismiss": [b["payload"] for b in buttons if str(b.get("payload", "")).startswith("/dismiss_content")],
    }


def shown(db_url: str, sender: str) -> List[str]:
    with session_scope(db_url) as session:
        return list(
            session.scalars(
                select(ContentItem.slug)
                .join(ContentImpression, ContentImpression.content_item_id == ContentItem.id)
                .where(ContentImpression.conversation_id == sender)
                .order_by(ContentImpression.id)
            )
        )


def checklist_for(db_url: str, slug: str) -> List[str]:
    """The incident types a claim checklist is for (empty for anything that is not a claim checklist)."""
    with session_scope(db_url) as session:
        item = session.scalars(select(ContentItem).where(ContentItem.slug == slug)).one()
        return list(item.incident_types or []) if item.category == "claim_checklist" else []


def events(db_url: str, kind: str, sender: str) -> int:
    with session_scope(db_url) as session:
        return len(
            session.scalars(
                select(ContentEvent.id).where(ContentEvent.kind == kind, ContentEvent.conversation_id == sender)
            ).all()
        )


def test_a_filed_claim_offers_its_checklist_and_the_link_logs_the_open_once(servers: ServerSet) -> None:
    sender = f"rest-{uuid.uuid4().hex[:8]}"
    found = offered(file_claim(servers, sender))
    assert found["links"] and len(found["dismiss"]) == len(found["links"])
    first = shown(servers.db_url, sender)[0]
    assert "collision" in checklist_for(servers.db_url, first), first  # a checklist for this claim's incident

    for _ in range(2):  # a customer who opens it twice is one open
        answer = requests.get(found["links"][0], allow_redirects=False, timeout=30)
        assert answer.status_code == 302, answer.text
        assert "/content/checklist-auto-collision" in answer.headers["Location"] or answer.headers[
            "Location"
        ].startswith("http")
    assert events(servers.db_url, "open", sender) == 1

    token = found["links"][0].rsplit("/", 1)[1]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert requests.get(found["links"][0].replace(token, forged), allow_redirects=False, timeout=30).status_code in (
        400,
        403,
    )


def test_not_for_me_and_it_never_comes_back(servers: ServerSet) -> None:
    sender = f"rest-{uuid.uuid4().hex[:8]}"
    first = offered(file_claim(servers, sender))
    dismissed = shown(servers.db_url, sender)[0]
    answer = joined(say(servers.rasa_url, sender, first["dismiss"][0]))
    assert "won't suggest that again" in answer, answer
    assert events(servers.db_url, "dismiss", sender) == 1

    before = len(shown(servers.db_url, sender))
    file_claim(servers, sender)  # a second collision claim in the same conversation
    assert dismissed not in shown(servers.db_url, sender)[before:]
