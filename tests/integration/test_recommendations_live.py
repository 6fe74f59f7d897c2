"""Recommendations on the live servers (issue 16): a customer files a claim over REST and is offered its
checklist; opening the tracked link through the web chat page server redirects and logs the open once; "not
for me" is a button the customer taps, after which that item never comes back, even when asked for; a forged
link is refused.

The database is what `make run` builds: migrated, seeded, and the demo content library imported."""

from __future__ import annotations

import re
import uuid
from typing import Any, Dict, Iterator, List

import pytest
import requests

from runner.servers import ServerSet
from tests.support.content_serving import (
    AISHA_RAHMAN,
    MARIA_ALVAREZ,
    Policyholder,
    checklist_for,
    event_count,
    file_claim,
    servers_with_library,
    shown,
)
from tests.support.servers import joined, say

pytestmark = [pytest.mark.needs_model, pytest.mark.integration]

LINK = re.compile(r"https?://\S+/r/[A-Za-z0-9_-]+")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerSet]:
    yield from servers_with_library(tmp_path_factory.mktemp("recommendations-live"))


def claim_over_rest(servers: ServerSet, sender: str, holder: Policyholder = MARIA_ALVAREZ) -> List[Dict[str, Any]]:
    return file_claim(lambda text: say(servers.rasa_url, sender, text), joined, holder)


def offered(replies: List[Dict[str, Any]]) -> Dict[str, str]:
    """The recommendation's tracked links and "not for me" payloads, as the REST channel returns them."""
    text = joined(replies)
    buttons = [b for r in replies for b in r.get("buttons") or []]
    return {
        "links": LINK.findall(text),
        "dismiss": [b["payload"] for b in buttons if str(b.get("payload", "")).startswith("/dismiss_content")],
    }


def test_a_filed_claim_offers_its_checklist_and_the_link_logs_the_open_once(servers: ServerSet) -> None:
    sender = f"rest-{uuid.uuid4().hex[:8]}"
    found = offered(claim_over_rest(servers, sender))
    assert found["links"] and len(found["dismiss"]) == len(found["links"])
    first = shown(servers.db_url, sender)[0]
    assert "collision" in checklist_for(servers.db_url, first), first  # a checklist for this claim's incident

    for _ in range(2):  # a customer who opens it twice is one open
        answer = requests.get(found["links"][0], allow_redirects=False, timeout=30)
        assert answer.status_code == 302, answer.text
        assert "/content/checklist-auto-collision" in answer.headers["Location"] or answer.headers[
            "Location"
        ].startswith("http")
    assert event_count(servers.db_url, "open", sender) == 1

    token = found["links"][0].rsplit("/", 1)[1]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert requests.get(found["links"][0].replace(token, forged), allow_redirects=False, timeout=30).status_code in (
        400,
        403,
    )


def test_not_for_me_and_it_never_comes_back(servers: ServerSet) -> None:
    """Another customer than the first test's: the daily cap counts what a customer was shown in any conversation.
    A later moment would not prove the dismissal (nothing shown in the last week is pushed again anyway), so the
    customer asks for the checklist: before "not for me" the request brings it back, after it never."""
    sender = f"rest-{uuid.uuid4().hex[:8]}"
    first = offered(claim_over_rest(servers, sender, AISHA_RAHMAN))
    asked = offered(say(servers.rasa_url, sender, ASK_CRASH_CHECKLIST))
    assert first["dismiss"][0] in asked["dismiss"], (first, asked)  # the same impression, offered again on request

    answer = joined(say(servers.rasa_url, sender, first["dismiss"][0]))
    assert "won't suggest that again" in answer, answer
    assert event_count(servers.db_url, "dismiss", sender) == 1
    # the app keeps the other "Not for me: N" buttons on screen: a second one, after the first was answered, is a
    # tap too (read as typed words, it was taken for an upset customer and handed to a person)
    answer = joined(say(servers.rasa_url, sender, first["dismiss"][1]))
    assert "won't suggest that again" in answer and "a person" not in answer, answer
    assert event_count(servers.db_url, "dismiss", sender) == 2

    # the same request again: never the dismissed items (an item shown again in a conversation keeps its
    # impression, so it would come back with the same payload)
    again = say(servers.rasa_url, sender, ASK_CRASH_CHECKLIST)
    assert not set(first["dismiss"][:2]) & set(offered(again)["dismiss"]), joined(again)


# an ask_for_tips example of nlu_data (the recommender is under test here, not the NLU)
ASK_CRASH_CHECKLIST = "is there a checklist for what to do after a car accident"
