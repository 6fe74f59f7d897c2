"""Recommendations on a social channel, through the real connectors (issue 16's acceptance: "file a claim → its
checklist offered; open the link → the open is logged; 'not for me' → it never returns").

Rasa, the action server and the web chat page server run as `make run` starts them, with the demo content library
imported and the social connectors enabled (tests/fixtures/channels_live_credentials.yml) against a fake platform
API in this process. A customer writes on Telegram (and on Messenger) in signed webhooks of the platform's own
format, as `telegram:<chat id>`; files a collision claim through the claim form, proving who they are the way a
social customer must (policy number, then date of birth); and is then offered the collision checklist in the
channel's native form: a Telegram inline keyboard (a URL button and a "Not for me" callback button per item) or a
Messenger generic template.

Links customers get must be public: Telegram refuses a URL button to a local address, so WEBCHAT_PUBLIC_URL is
a public host here, and the test opens a link as the deployment's TLS proxy hands it to the page server (same
path, public Host). Tapping "Not for me" is the platform's own button event (a Telegram `callback_query` with the
button's callback_data, a Messenger postback), and the item must not be offered again even when the customer asks
for it, which before the tap brought it back.
"""

from __future__ import annotations

import html
import json
import random
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest
from sqlalchemy import select

from runner.servers import ServerSet
from storage.engine import session_scope
from storage.models import ContentImpression, ContentItem
from tests.support import platforms as p
from tests.support.channels import ThreadedPlatform
from tests.support.content_serving import (
    AISHA_RAHMAN,
    MARIA_ALVAREZ,
    PUBLIC_URL,
    Policyholder,
    checklist_for,
    event_count,
    file_claim,
    open_public_link,
    servers_with_library,
)
from tests.support.social_customers import MessengerCustomer, Offer, SocialChat, SocialCustomer, TelegramCustomer

pytestmark = [pytest.mark.needs_model, pytest.mark.integration]

DISMISSED = "won't suggest that again"
# an ask_for_tips example of nlu_data (the recommender is under test here, not the NLU)
ASK_CRASH_CHECKLIST = "is there a checklist for what to do after a car accident"


@dataclass
class Live:
    servers: ServerSet
    api: ThreadedPlatform


@dataclass(frozen=True)
class Case:
    customer: Callable[[random.Random], SocialCustomer]
    # one demo customer per channel: the daily cap on items shown counts per customer, across conversations
    holder: Policyholder


CASES = {"telegram": Case(TelegramCustomer, MARIA_ALVAREZ), "facebook": Case(MessengerCustomer, AISHA_RAHMAN)}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    api = ThreadedPlatform()
    api_url = api.start()
    p.prepare_wechat(api.fake)  # every connector of the credentials file starts, WeChat's included
    servers = servers_with_library(
        tmp_path_factory.mktemp("recommendations-social-live"),
        credentials=p.CREDENTIALS,
        extra_env={**p.live_credentials_env(api_url), "WEBCHAT_PUBLIC_URL": PUBLIC_URL},
    )
    try:
        yield Live(next(servers), api)
    finally:
        servers.close()
        api.stop()


def offered_item(db_url: str, offer: Offer) -> ContentItem:
    """The item whose impression the offer's "not for me" payload names."""
    impression_id = int(json.loads(offer.dismiss_payload[offer.dismiss_payload.index("{") :])["content_impression"])
    with session_scope(db_url) as session:
        return session.scalars(
            select(ContentItem)
            .join(ContentImpression, ContentImpression.content_item_id == ContentItem.id)
            .where(ContentImpression.id == impression_id)
        ).one()


def callback_answers(live: Live) -> Any:
    return [c.json["callback_query_id"] for c in live.api.requests() if c.path.endswith("/answerCallbackQuery")]


@pytest.mark.parametrize("channel", list(CASES))
def test_a_claim_filed_in_the_chat_offers_its_checklist_the_open_is_logged_and_not_for_me_sticks(
    live: Live, channel: str
) -> None:
    case = CASES[channel]
    chat = SocialChat(live.servers, live.api, case.customer(random.Random(channel)))
    customer, db_url = chat.customer, live.servers.db_url
    assert chat.conversation_id == f"{channel}:{customer.user_id}"

    # 1. a collision claim, filed once the customer gave their policy number and date of birth
    replies = file_claim(chat.say, customer.text, case.holder)
    offers = customer.offers(replies)
    assert offers, f"nothing offered after the claim: {customer.text(replies)}"
    first = offers[0]
    checklist = offered_item(db_url, first)
    assert "collision" in checklist_for(db_url, checklist.slug), checklist.slug
    assert checklist.title[:20] in first.title  # the button or card names the checklist
    assert all(offer.url.startswith(f"{PUBLIC_URL}/r/") for offer in offers), [offer.url for offer in offers]

    # 2. the customer opens it twice: redirected to the checklist's page each time (the library's checklists have
    # no link of their own), one open logged
    page_url = f"{PUBLIC_URL}/content/{checklist.slug}"
    for _ in range(2):
        answer = open_public_link(live.servers.webchat_url, first.url)
        assert (answer.status_code, answer.headers.get("Location")) == (302, page_url), answer.text
    assert event_count(db_url, "open", chat.conversation_id) == 1
    page = open_public_link(live.servers.webchat_url, page_url)
    assert page.status_code == 200 and html.escape(checklist.title) in page.text

    # 3. the customer asks for it: a request may bring back what was shown, with the same "not for me"
    answer = chat.say(ASK_CRASH_CHECKLIST)
    asked = customer.offers(answer)
    assert first.dismiss_payload in [offer.dismiss_payload for offer in asked], customer.text(answer)

    # 4. "Not for me", tapped on the platform
    tapped_before = len(callback_answers(live))
    answer_text = customer.text(chat.tap(first))
    assert DISMISSED in answer_text, answer_text
    assert event_count(db_url, "dismiss", chat.conversation_id) == 1
    if channel == "telegram":  # the tapped button's spinner is stopped, as Telegram expects
        assert len(callback_answers(live)) == tapped_before + 1

    # 5. the same request again: never the dismissed checklist (a later moment would not prove it: nothing shown in
    # the last week is pushed again anyway)
    again = customer.offers(chat.say(ASK_CRASH_CHECKLIST))
    assert checklist.slug not in [offered_item(db_url, offer).slug for offer in again]
    assert first.dismiss_payload not in [offer.dismiss_payload for offer in again]
