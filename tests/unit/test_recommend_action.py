"""Recommendations inside the conversation, through the real actions, a real SQLite database with the demo
content library imported, and Telegram-shaped conversations: a filed claim is followed by its checklist with a
"not for me" button per item; the button dismisses that item for good; a forged or foreign id changes nothing;
no library means a claim confirmation alone, never an error."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.claims import ActionSubmitClaim
from actions.knowledge import ActionAnswerProductQuestion
from actions.recommend import (
    ENOUGH_FOR_TODAY,
    NOTHING_ON_THAT,
    ActionDismissContent,
    ActionGreet,
    ActionRecommendContent,
    offer_content,
)
from recommendations.candidates import rule_reasons
from recommendations.events import DISMISS_ENTITY, DISMISS_INTENT, dismiss_payload
from recommendations.items import from_row
from recommendations.library import DEMO_LIBRARY, import_library
from recommendations.profile import load_profile
from storage.engine import session_scope
from storage.models import ContentEvent, ContentImpression, ContentItem, utcnow
from tests.support.action_runs import verified
from tests.support.databases import migrated_sqlite

CLAIM = {
    "policy_number": "PX-88123",
    "incident_type": "collision",
    "incident_date": (date.today() - timedelta(days=1)).isoformat(),
    "incident_description": "A van reversed into my parked car and broke the headlight.",
}


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = migrated_sqlite(tmp_path / "coverline.db")
    monkeypatch.setenv("DATABASE_URL", url)
    return url


@pytest.fixture
def library(database: str) -> str:
    with session_scope(database) as session:
        import_library(session, [DEMO_LIBRARY])
    return database


def telegram_tracker(
    sender: str, slots: Dict[str, Any], intent: str = "inform", text: str = "", entities: List[Dict[str, Any]] = ()
) -> Tracker:
    latest = {"intent": {"name": intent, "confidence": 1.0}, "entities": list(entities), "text": text}
    events = [{"event": "user", "text": text, "input_channel": "telegram", "parse_data": latest}]
    return Tracker(sender, slots, latest, events, False, None, None, "action_listen")


def run(action: Any, tracker: Tracker) -> CollectingDispatcher:
    dispatcher = CollectingDispatcher()
    asyncio.run(action.run(dispatcher, tracker, {}))
    return dispatcher


def keyboard(dispatcher: CollectingDispatcher) -> List[List[Dict[str, str]]]:
    [custom] = [m["custom"] for m in dispatcher.messages if m.get("custom")]
    return custom["reply_markup"]["inline_keyboard"]


def impression_of(callback_data: str) -> str:
    assert callback_data.startswith(f"/{DISMISS_INTENT}")
    return json.loads(callback_data[len(DISMISS_INTENT) + 1 :])[DISMISS_ENTITY]


def dismiss(sender: str, callback_data: str) -> CollectingDispatcher:
    """The tap as Rasa hands it to the action: the payload's JSON becomes the entity."""
    value = impression_of(callback_data)
    tracker = telegram_tracker(sender, {}, DISMISS_INTENT, callback_data, [{"entity": DISMISS_ENTITY, "value": value}])
    return run(ActionDismissContent(), tracker)


def test_a_filed_claim_is_followed_by_its_checklist_in_a_telegram_keyboard(library: str) -> None:
    sender = verified("telegram:777000111", "PX-88123")
    dispatcher = run(ActionSubmitClaim(), telegram_tracker(sender, CLAIM))
    assert dispatcher.messages[0]["claim_reference"].startswith("CL-")  # the claim first, as before
    rows = keyboard(dispatcher)
    assert 1 <= len(rows) <= 3
    assert all(row[0]["url"].split("/r/")[1] and row[1]["callback_data"].startswith("/dismiss_content") for row in rows)
    with session_scope(library) as session:
        shown = session.execute(
            select(ContentItem.slug, ContentItem.category, ContentImpression.moment, ContentImpression.channel)
            .join(ContentImpression, ContentImpression.content_item_id == ContentItem.id)
            .where(ContentImpression.conversation_id == sender)
            .order_by(ContentImpression.position)
        ).all()
    assert shown[0] == ("checklist-auto-collision", "claim_checklist", "claim_filed", "telegram")
    assert len(shown) == len(rows)


def test_not_for_me_dismisses_that_item_for_good(library: str) -> None:
    sender = verified("telegram:777000222", "PX-88123")
    first = keyboard(run(ActionSubmitClaim(), telegram_tracker(sender, CLAIM)))
    said = dismiss(sender, first[0][1]["callback_data"])
    assert "won't suggest that again" in said.messages[0]["text"]
    with session_scope(library) as session:
        dismissed = session.scalar(
            select(ContentItem.slug)
            .join(ContentImpression, ContentImpression.content_item_id == ContentItem.id)
            .join(ContentEvent, ContentEvent.impression_id == ContentImpression.id)
            .where(ContentEvent.kind == "dismiss", ContentImpression.conversation_id == sender)
        )
    assert dismissed == "checklist-auto-collision"

    again = CollectingDispatcher()
    offer_content(again, telegram_tracker(sender, {}), "claim_filed")
    with session_scope(library) as session:
        offered_now = {
            session.get(
                ContentItem, session.get(ContentImpression, impression_of(row[1]["callback_data"])).content_item_id
            ).slug
            for row in keyboard(again)
        }
    assert "checklist-auto-collision" not in offered_now


def test_a_forged_or_foreign_dismissal_changes_nothing(library: str) -> None:
    owner = verified("telegram:777000333", "PX-88123")
    theirs = keyboard(run(ActionSubmitClaim(), telegram_tracker(owner, CLAIM)))[0][1]["callback_data"]
    for payload in (
        theirs,
        '/dismiss_content{"content_impression":"999999"}',
        '/dismiss_content{"content_impression":"x"}',
    ):
        said = dismiss("telegram:777000444", payload)  # someone else, replaying or guessing ids
        assert said.messages[0]["text"].startswith("Okay.")
    with session_scope(library) as session:
        assert session.scalar(select(ContentEvent.id).where(ContentEvent.kind == "dismiss")) is None


def test_without_a_library_the_claim_is_filed_and_nothing_else_is_said(database: str) -> None:
    sender = verified("telegram:777000555", "PX-88123")
    dispatcher = run(ActionSubmitClaim(), telegram_tracker(sender, CLAIM))
    assert len(dispatcher.messages) == 1 and dispatcher.messages[0]["claim_reference"].startswith("CL-")


def offered_slugs(database: str, sender: str, moment: str) -> List[str]:
    with session_scope(database) as session:
        return list(
            session.scalars(
                select(ContentItem.slug)
                .join(ContentImpression, ContentImpression.content_item_id == ContentItem.id)
                .where(ContentImpression.conversation_id == sender, ContentImpression.moment == moment)
                .order_by(ContentImpression.position)
            )
        )


def test_a_known_customer_with_a_claim_under_way_is_greeted_with_what_helps_next(library: str) -> None:
    """The renters customer whose bike theft claim waits for documents says hi on Telegram: the usual greeting,
    then why something is offered (their claim), then items for that claim in Telegram's keyboard."""
    sender = verified("telegram:777000666", "PX-40211")
    said = run(ActionGreet(), telegram_tracker(sender, {}, "greet", "hi there"))
    assert said.messages[0]["response"] == "utter_greet"
    [custom] = [m["custom"] for m in said.messages if m.get("custom")]
    assert custom["text"].startswith("Your renters claim is under way")
    assert keyboard(said)
    offered = offered_slugs(library, sender, "greeting")
    # about their claim (a theft, waiting for documents), not whatever is popular
    assert "guide-claim-documents-requested" in offered, offered
    assert any(slug.startswith(("checklist-home-burglary", "checklist-renters-theft")) for slug in offered), offered


def test_once_their_claims_items_were_shown_a_hello_comes_alone_not_with_filler(library: str) -> None:
    """Everything about the renters customer's theft claim was shown yesterday (nothing is pushed twice in a
    week): today's hello is the greeting alone. The recommender's next best were winter tips, offered under
    "Your renters claim is under way. These may help with what comes next"."""
    sender = verified("telegram:777000444", "PX-40211")
    yesterday = utcnow() - timedelta(days=1)
    with session_scope(library) as session:
        profile = load_profile(session, sender)
        about_the_claim = [
            item
            for item in session.scalars(select(ContentItem)).all()
            if rule_reasons(profile, "greeting", from_row(item), yesterday.date()).situation
        ]
        assert len(about_the_claim) >= 3
        for item in about_the_claim:
            session.add(ContentImpression(content_item_id=item.id, customer_id=profile.customer_id,
                                          conversation_id=sender, channel="telegram", moment="greeting",
                                          shown_at=yesterday))  # fmt: skip
    said = run(ActionGreet(), telegram_tracker(sender, {}, "greet", "hi"))
    assert said.messages == [{"response": "utter_greet", **_blank(said.messages[0])}], said.messages


def test_an_anonymous_or_settled_customer_gets_the_greeting_alone(library: str) -> None:
    """Nobody is pitched on "hi": not an unverified WhatsApp sender, nor a verified customer with nothing under
    way (the home policyholder whose hail claim is closed, premium not yet due, renewal months away)."""
    for sender in ("whatsapp:15550001111", verified("telegram:777000777", "PX-60452")):
        said = run(ActionGreet(), telegram_tracker(sender, {}, "greet", "hello"))
        assert said.messages == [{"response": "utter_greet", **_blank(said.messages[0])}]
        assert offered_slugs(library, sender, "greeting") == []


def _blank(message: Dict[str, Any]) -> Dict[str, Any]:
    """rasa_sdk fills every field of a dispatched message; only `response` is ours."""
    return {k: v for k, v in message.items() if k != "response"}


def test_tips_on_request_offer_what_reads_like_the_question(library: str) -> None:
    sender = "telegram:777000888"
    said = run(ActionRecommendContent(), telegram_tracker(sender, {}, "ask_for_tips", "any tips for driving in snow?"))
    [custom] = [m["custom"] for m in said.messages if m.get("custom")]
    assert custom["text"].startswith("Here's what we have on that:")
    assert "tip-winter-driving" in offered_slugs(library, sender, "on_request")


def test_a_request_the_library_has_nothing_on_gets_an_honest_answer_not_filler(library: str) -> None:
    sender = "telegram:777000999"
    text = "any tips for tuning my electric guitar before a concert?"
    said = run(ActionRecommendContent(), telegram_tracker(sender, {}, "ask_for_tips", text))
    assert [m["text"] for m in said.messages] == [NOTHING_ON_THAT]
    assert offered_slugs(library, sender, "on_request") == []


def test_a_request_on_a_capped_day_brings_back_what_was_sent_and_says_why_nothing_new_comes(library: str) -> None:
    """Six items shown today (the cap): asking for winter tips again shows the winter guide again (the same
    impression, so its "not for me" still works; no new item counted), and asking for something new is told the
    truth, not "I don't have a guide on that"."""
    sender = "telegram:777000555"
    winter = "any tips for driving in snow?"
    run(ActionRecommendContent(), telegram_tracker(sender, {}, "ask_for_tips", winter))
    first = {row[0]: callback for row in keyboard_rows(library, sender) for callback in [row[1]]}
    with session_scope(library) as session:
        fillers = session.scalars(select(ContentItem).where(ContentItem.slug.notlike("%winter%")).limit(6)).all()
        for item in fillers[: 6 - len(first)]:
            session.add(ContentImpression(content_item_id=item.id, conversation_id=sender, channel="telegram",
                                          moment="answer_given"))  # fmt: skip
    again = run(ActionRecommendContent(), telegram_tracker(sender, {}, "ask_for_tips", winter))
    assert "tip-winter-driving" in first
    offered_again = [button["callback_data"] for row in keyboard(again) for button in row if "callback_data" in button]
    assert first["tip-winter-driving"] in offered_again
    with session_scope(library) as session:
        assert session.query(ContentImpression).filter_by(conversation_id=sender).count() == 6
    moving = run(ActionRecommendContent(), telegram_tracker(sender, {}, "ask_for_tips", "any tips for moving house?"))
    assert [m["text"] for m in moving.messages] == [ENOUGH_FOR_TODAY]


def keyboard_rows(database: str, sender: str) -> List[Tuple[str, str]]:
    """(slug, its "not for me" callback data) of every item shown in this conversation."""
    with session_scope(database) as session:
        rows = session.execute(
            select(ContentItem.slug, ContentImpression.id)
            .join(ContentImpression, ContentImpression.content_item_id == ContentItem.id)
            .where(ContentImpression.conversation_id == sender)
        ).all()
    return [(slug, dismiss_payload(impression_id)) for slug, impression_id in rows]


def test_a_coverage_answer_is_followed_by_a_guide_only_when_one_is_close(library: str) -> None:
    """The answer comes first and alone decides; a guide follows only if it reads like the question."""
    asked = "do you have a checklist for a stolen bike? is my bike covered under renters"
    said = run(ActionAnswerProductQuestion(), telegram_tracker("telegram:777001000", {}, "ask_coverage", asked))
    assert said.messages[0]["text"].startswith("Harbor Mutual renters insurance covers")
    offered = offered_slugs(library, "telegram:777001000", "answer_given")
    assert offered and len(said.messages) > 1


def test_the_message_being_answered_counts_before_the_log_has_it(database: str) -> None:
    """Rasa logs a turn when it ends, so the action passes its own message: an angry one makes a consenting
    customer upset now (no marketing), and its words are what the similarity reads."""
    from recommendations.profile import Said, load_profile

    sender = verified("telegram:777001100", "PX-88123")  # Maria Alvarez, who consented to offers
    angry = Said("this is the THIRD time you've lost my paperwork, unbelievable", "complaint", "negative")
    with session_scope(database) as session:
        calm = load_profile(session, sender)
        now = load_profile(session, sender, latest=angry)
    assert calm.marketing_allowed and not now.marketing_allowed
    assert now.recent_questions[0] == angry.text and now.recent_intents[0] == "complaint"
