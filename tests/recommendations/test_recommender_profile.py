"""The recommender's view of a conversation, read from a real migrated database (SQLite, and PostgreSQL when a
server answers): who the verified customer is and what they hold, claim, were quoted, said and dismissed; an
anonymous conversation from itself alone; and what `recommend_for_conversation` then shows them."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Iterator, List, Optional

import pytest
from sqlalchemy import event as event_api
from sqlalchemy import select

from recommendations.events import Showing, record_impressions
from recommendations.library import DEMO_LIBRARY, import_library, item_by_slug
from recommendations.profile import ClaimState, load_profile
from recommendations.recommender import recommend_for_conversation
from storage.engine import get_engine, session_scope
from storage.migrate import upgrade
from storage.models import (
    ContentEvent,
    ContentImpression,
    Conversation,
    Customer,
    Escalation,
    Message,
    Policy,
    Quote,
    utcnow,
)
from storage.seed import seed
from storage.verification import record_verification
from tests.support.databases import migrated_sqlite

WHATSAPP = "whatsapp:15550001111"
MESSENGER = "messenger:5550002222333"
TELEGRAM = "telegram:777000111"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database seeded with the demo book and the demo content library."""
    if request.param == "sqlite":
        url = migrated_sqlite(tmp_path / "coverline.db")
    else:
        url = request.getfixturevalue("fresh_postgres_url")
        upgrade(url)
        with session_scope(url) as session:
            seed(session)
    with session_scope(url) as session:
        import_library(session, [DEMO_LIBRARY])
    yield url


def customer_with_policy(session, number: str) -> Customer:
    return session.scalars(select(Customer).join(Policy).where(Policy.number == number)).one()


def conversation(session, conversation_id: str, channel: str) -> None:
    session.add(Conversation(id=conversation_id, channel=channel, customer_identity=conversation_id))
    session.flush()


def says(
    session,
    conversation_id: str,
    text: str,
    intent: str,
    sentiment: str,
    at: datetime,
    channel: Optional[str] = None,
) -> None:
    session.add(
        Message(
            conversation_id=conversation_id,
            event_key=f"{conversation_id}:{at.isoformat()}:{text[:10]}",
            direction="inbound",
            author="customer",
            channel=channel or conversation_id.split(":")[0],
            text=text,
            intent=intent,
            confidence=0.9,
            sentiment={"label": sentiment, "confidence": 0.8},
            sent_at=at,
        )
    )


def dismiss(session, slug: str, conversation_id: str, customer_id: Optional[int], at: datetime) -> None:
    item = item_by_slug(session, slug)
    impression = ContentImpression(
        content_item_id=item.id,
        customer_id=customer_id,
        conversation_id=conversation_id,
        channel=conversation_id.split(":")[0],
        moment="claim_filed",
        shown_at=at,
    )
    session.add(impression)
    session.flush()
    session.add(
        ContentEvent(
            kind="dismiss",
            content_item_id=item.id,
            impression_id=impression.id,
            customer_id=customer_id,
            conversation_id=conversation_id,
            channel=impression.channel,
            at=at,
        )
    )


def test_a_verified_whatsapp_customer_has_policies_claims_quotes_mood_and_dismissals(db_url: str) -> None:
    now = utcnow()
    with session_scope(db_url) as session:
        aisha = customer_with_policy(session, "PX-77310")  # auto active and 4 days overdue, renters cancelled
        conversation(session, WHATSAPP, "whatsapp")
        record_verification(session, WHATSAPP, aisha.id, "policy_dob", "PX-77310", now=now - timedelta(minutes=5))
        says(
            session,
            WHATSAPP,
            "my windshield claim is taking forever",
            "claim_status",
            "neutral",
            now - timedelta(minutes=3),
        )
        says(
            session,
            WHATSAPP,
            "this is ridiculous, nobody called me back",
            "complaint",
            "negative",
            now - timedelta(minutes=2),
        )
        session.add(
            Quote(
                reference="QT-H1T001",
                conversation_id=WHATSAPP,
                product="home",
                inputs={},
                annual_premium=Decimal("900"),
                created_at=now - timedelta(days=2),
            )
        )
        session.add(Escalation(conversation_id=WHATSAPP, reason="complaint", priority=1, open=True, created_at=now))
        dismiss(session, "tip-winter-driving", WHATSAPP, aisha.id, now - timedelta(minutes=1))
        aisha_id = aisha.id

    with session_scope(db_url) as session:
        profile = load_profile(session, WHATSAPP, now)

    assert not profile.anonymous and profile.customer_id == aisha_id
    assert profile.channel == "whatsapp"
    assert profile.held_products == ("auto",)  # the cancelled renters policy is not held
    assert 150 <= profile.policies[0].renewal_in_days <= 170
    assert profile.policies[0].tenure_years == pytest.approx(0.5, abs=0.1)
    assert profile.claims == (ClaimState("auto", "glass", "reported"),)
    assert [(q.product, q.days_ago) for q in profile.quotes] == [("home", 2)]
    assert profile.payment_overdue_days == 4
    assert profile.recent_questions[0] == "this is ridiculous, nobody called me back"  # newest first
    assert profile.recent_intents == ("complaint", "claim_status")
    assert profile.sentiment == "negative"
    assert profile.open_complaint
    assert profile.dismissed == ("tip-winter-driving",)
    assert profile.shown_today == 1
    assert not profile.marketing_consent and not profile.marketing_allowed  # she never agreed to marketing


def test_consent_on_the_customer_record_allows_offers_and_withdrawing_it_stops_them(db_url: str) -> None:
    now = utcnow()
    with session_scope(db_url) as session:
        maria = customer_with_policy(session, "PX-88123")  # the demo book: she agreed to offers at sign-up
        assert maria.marketing_consent_at is not None and maria.marketing_consent_source == "online sign-up form"
        conversation(session, WHATSAPP, "whatsapp")
        record_verification(session, WHATSAPP, maria.id, "policy_dob", "PX-88123", now=now)
        says(session, WHATSAPP, "how much would renters cover be for my daughter's flat", "get_quote", "neutral", now)
    with session_scope(db_url) as session:
        profile = load_profile(session, WHATSAPP, now)
    assert profile.marketing_consent and profile.marketing_allowed

    with session_scope(db_url) as session:
        customer_with_policy(session, "PX-88123").marketing_consent_at = None  # she withdrew it
    with session_scope(db_url) as session:
        assert not load_profile(session, WHATSAPP, now).marketing_allowed
        found = recommend_for_conversation(session, WHATSAPP, "quote_given", now=now)
    assert found and not any(rec.marketing for rec in found)


def test_an_anonymous_telegram_conversation_is_profiled_from_itself_alone(db_url: str) -> None:
    now = utcnow()
    with session_scope(db_url) as session:
        conversation(session, TELEGRAM, "telegram")
        says(session, TELEGRAM, "is my bike covered if it's stolen from campus?", "ask_coverage", "neutral", now)
        # someone else's verification must not leak into this conversation
        james = customer_with_policy(session, "PX-40211")
        record_verification(session, MESSENGER, james.id, "policy_dob", "PX-40211", now=now)
        dismiss(session, "tip-bike-theft", TELEGRAM, None, now)

    with session_scope(db_url) as session:
        profile = load_profile(session, TELEGRAM, now)

    assert profile.anonymous and profile.customer_id is None
    assert profile.policies == () and profile.claims == () and profile.payment_overdue_days == 0
    assert profile.channel == "telegram"
    assert profile.recent_questions == ("is my bike covered if it's stolen from campus?",)
    assert profile.dismissed == ("tip-bike-theft",)
    assert not profile.open_complaint and not profile.marketing_allowed


def test_a_conversation_without_a_row_takes_its_channel_from_the_sender_id(db_url: str) -> None:
    with session_scope(db_url) as session:
        profile = load_profile(session, MESSENGER)
    assert profile.channel == "messenger" and profile.anonymous


def test_a_customer_who_dismissed_on_messenger_never_sees_it_again_on_whatsapp(db_url: str) -> None:
    now = utcnow()
    with session_scope(db_url) as session:
        james = customer_with_policy(session, "PX-40211")  # renters; theft claim waiting for documents
        record_verification(session, MESSENGER, james.id, "policy_dob", "PX-40211", now=now - timedelta(days=1))
        dismiss(session, "checklist-renters-theft-away", MESSENGER, james.id, now - timedelta(days=1))
        conversation(session, WHATSAPP, "whatsapp")
        record_verification(session, WHATSAPP, james.id, "policy_dob", "PX-40211", now=now)
        says(session, WHATSAPP, "what do you still need for my bike claim?", "claim_status", "neutral", now)

    with session_scope(db_url) as session:
        found = recommend_for_conversation(session, WHATSAPP, "greeting", now=now)

    slugs = [rec.slug for rec in found]
    assert "checklist-renters-theft-away" not in slugs
    assert "guide-claim-documents-requested" in slugs  # the claim waits for documents: how to send them
    assert all(rec.reasons for rec in found)
    assert not any(rec.marketing for rec in found)


def windshield_reported_on_whatsapp(session, now: datetime) -> Customer:
    """Aisha (auto, a payment 4 days overdue), verified on WhatsApp, reporting a cracked windshield."""
    aisha = customer_with_policy(session, "PX-77310")
    conversation(session, WHATSAPP, "whatsapp")
    record_verification(session, WHATSAPP, aisha.id, "policy_dob", "PX-77310", now=now)
    says(session, WHATSAPP, "a stone cracked my windshield on the highway", "file_claim", "neutral", now)
    return aisha


def test_an_overdue_customer_after_a_claim_gets_the_claim_guide_and_a_payment_howto(db_url: str) -> None:
    now = utcnow()
    with session_scope(db_url) as session:
        windshield_reported_on_whatsapp(session, now)

    with session_scope(db_url) as session:
        found = recommend_for_conversation(session, WHATSAPP, "claim_filed", now=now)

    slugs = [rec.slug for rec in found]
    assert slugs[0] == "checklist-auto-glass"
    assert any("overdue" in reason for rec in found for reason in rec.reasons)
    assert all(rec.item_id is not None for rec in found)  # the caller records impressions by item id


def test_the_daily_cap_counts_the_different_items_shown_today_in_sql(db_url: str) -> None:
    """A verified customer's cap counts across their conversations, and an item shown again in another one (asked
    for again on Messenger) is a new impression row but not a new item of the day."""
    now = utcnow()
    with session_scope(db_url) as session:
        james = customer_with_policy(session, "PX-40211")
        for sender, channel in ((TELEGRAM, "telegram"), (MESSENGER, "messenger")):
            conversation(session, sender, channel)
            record_verification(session, sender, james.id, "policy_dob", "PX-40211", now=now)
            says(session, sender, "any tips for winter driving?", "ask_tips", "positive", now)
        shown = [(TELEGRAM, slug) for slug in BILLING_HOWTOS] + [(MESSENGER, BILLING_HOWTOS[0])]
        for position, (sender, slug) in enumerate(shown):
            session.add(
                ContentImpression(
                    content_item_id=item_by_slug(session, slug).id,
                    customer_id=james.id,
                    conversation_id=sender,
                    channel=sender.split(":")[0],
                    moment="answer_given",
                    position=position,
                    shown_at=now,
                )
            )

    with session_scope(db_url) as session:
        assert load_profile(session, MESSENGER, now).shown_today == 6
        assert recommend_for_conversation(session, TELEGRAM, "on_request", now=now) == []  # none of the six fits
        assert recommend_for_conversation(session, MESSENGER, "greeting", now=now) == []
        assert len(recommend_for_conversation(session, TELEGRAM, "on_request", now=now + timedelta(days=1))) == 3


BILLING_HOWTOS = (
    "howto-autopay-setup",
    "howto-autopay-stop",
    "howto-billing-frequency",
    "howto-grace-period",
    "howto-payment-methods",
    "howto-update-card",
)


def test_what_was_just_shown_is_not_pushed_again_unless_the_customer_asks(db_url: str) -> None:
    """After a glass claim the checklist is offered; the hello that follows, on WhatsApp or on Messenger the next
    day, and a second claim an hour later offer other things, not the same carousel again; asking for content
    brings it back; a week later it may come again (its impression row is reused, recommendations/events.py)."""
    now = utcnow()
    with session_scope(db_url) as session:
        aisha = windshield_reported_on_whatsapp(session, now)
    with session_scope(db_url) as session:
        filed = recommend_for_conversation(session, WHATSAPP, "claim_filed", now=now)
        assert filed[0].slug == "checklist-auto-glass"
        showings = [Showing(rec.item_id, position) for position, rec in enumerate(filed)]
        record_impressions(
            session, showings, conversation_id=WHATSAPP, channel="whatsapp", moment="claim_filed",
            customer_id=aisha.id, now=now,
        )  # fmt: skip
        conversation(session, MESSENGER, "messenger")
        record_verification(session, MESSENGER, aisha.id, "policy_dob", "PX-77310", now=now + timedelta(days=1))
        says(session, MESSENGER, "what happens with my windshield claim now", "claim_status", "neutral",
             now + timedelta(days=1))  # fmt: skip
    shown = {rec.slug for rec in filed}

    with session_scope(db_url) as session:
        hello = recommend_for_conversation(session, WHATSAPP, "greeting", now=now + timedelta(minutes=5))
        next_day = recommend_for_conversation(session, MESSENGER, "greeting", now=now + timedelta(days=1))
        asked = recommend_for_conversation(session, MESSENGER, "on_request", now=now + timedelta(days=1))
        again = recommend_for_conversation(session, WHATSAPP, "claim_filed", now=now + timedelta(hours=1))
        week_later = recommend_for_conversation(session, WHATSAPP, "claim_filed", now=now + timedelta(days=8))
    assert hello and not shown & {rec.slug for rec in hello}
    assert next_day and not shown & {rec.slug for rec in next_day}
    assert "checklist-auto-glass" in {rec.slug for rec in asked}
    assert not shown & {rec.slug for rec in again}
    assert "checklist-auto-glass" in {rec.slug for rec in week_later}


def opened(session, slug: str, times: int, at: datetime) -> None:
    item = item_by_slug(session, slug)
    for n in range(times):
        viewer = f"webchat:{n:08d}"
        impression = ContentImpression(
            content_item_id=item.id, conversation_id=viewer, channel="webchat", moment="greeting", shown_at=at
        )
        session.add(impression)
        session.flush()
        session.add(
            ContentEvent(
                kind="open",
                content_item_id=item.id,
                impression_id=impression.id,
                conversation_id=viewer,
                channel="webchat",
                at=at,
            )
        )


def test_among_equally_fitting_items_what_others_open_comes_first(db_url: str) -> None:
    now = datetime(2026, 12, 10, 12, 0)  # December: the winter tips are in season, and equally so
    with session_scope(db_url) as session:
        conversation(session, TELEGRAM, "telegram")
    with session_scope(db_url) as session:
        cold = [rec.slug for rec in recommend_for_conversation(session, TELEGRAM, "greeting", now=now)]
    assert "tip-home-fire-safety" not in cold  # cold: the library's own order decides between the tips

    with session_scope(db_url) as session:
        opened(session, "tip-home-fire-safety", 12, now - timedelta(days=1))
        opened(session, "offer-safe-driver-switch", 40, now - timedelta(days=1))  # marketing: never to an anonymous
    with session_scope(db_url) as session:
        warm = recommend_for_conversation(session, TELEGRAM, "greeting", now=now + timedelta(minutes=2))
    assert warm[0].slug == "tip-home-fire-safety"
    assert not any(rec.marketing for rec in warm)


def event(session, kind: str, slug: str, conversation_id: str, customer_id: Optional[int], at: datetime) -> None:
    item = item_by_slug(session, slug)
    impression = ContentImpression(
        content_item_id=item.id,
        customer_id=customer_id,
        conversation_id=conversation_id,
        channel=conversation_id.split(":")[0],
        moment="greeting",
        shown_at=at,
    )
    session.add(impression)
    session.flush()
    session.add(
        ContentEvent(
            kind=kind,
            content_item_id=item.id,
            impression_id=impression.id,
            customer_id=customer_id,
            conversation_id=conversation_id,
            channel=impression.channel,
            at=at,
        )
    )


def test_opened_and_dismissed_are_read_per_kind_across_the_customers_conversations(db_url: str) -> None:
    now = utcnow()
    yesterday = now - timedelta(days=1)
    with session_scope(db_url) as session:
        james = customer_with_policy(session, "PX-40211")
        record_verification(session, MESSENGER, james.id, "policy_dob", "PX-40211", now=yesterday)
        conversation(session, WHATSAPP, "whatsapp")
        record_verification(session, WHATSAPP, james.id, "policy_dob", "PX-40211", now=now)
        event(session, "dismiss", "tip-bike-theft", MESSENGER, james.id, yesterday)
        event(session, "open", "tip-bike-theft", MESSENGER, james.id, yesterday)  # opened, then "not for me"
        event(session, "open", "howto-paperless", WHATSAPP, None, now)  # before he verified here: the conversation
        event(session, "impression", "tip-winter-driving", WHATSAPP, james.id, now)  # shown only
        event(session, "open", "tip-home-fire-safety", TELEGRAM, None, now)  # someone else
        event(session, "dismiss", "tip-home-fire-safety", TELEGRAM, None, now)

    with session_scope(db_url) as session:
        profile = load_profile(session, WHATSAPP, now)
        stranger = load_profile(session, TELEGRAM, now)

    assert profile.dismissed == ("tip-bike-theft",)
    assert profile.opened == ("howto-paperless", "tip-bike-theft")
    assert stranger.dismissed == stranger.opened == ("tip-home-fire-safety",)


def test_a_complaint_counts_from_any_of_the_customers_conversations_and_only_while_open(db_url: str) -> None:
    now = utcnow()
    with session_scope(db_url) as session:
        james = customer_with_policy(session, "PX-40211")
        conversation(session, MESSENGER, "messenger")
        record_verification(session, MESSENGER, james.id, "policy_dob", "PX-40211", now=now - timedelta(days=1))
        conversation(session, WHATSAPP, "whatsapp")
        record_verification(session, WHATSAPP, james.id, "policy_dob", "PX-40211", now=now)
        session.add(Escalation(conversation_id=WHATSAPP, reason="complaint", priority=1, open=False, created_at=now))
        conversation(session, TELEGRAM, "telegram")
    with session_scope(db_url) as session:
        assert not load_profile(session, WHATSAPP, now).open_complaint  # the escalation was closed

    with session_scope(db_url) as session:
        session.get(Conversation, MESSENGER).status = "escalated"  # his other conversation waits for a person
    with session_scope(db_url) as session:
        assert load_profile(session, WHATSAPP, now).open_complaint
        assert not load_profile(session, TELEGRAM, now).open_complaint  # an anonymous one is not his

    with session_scope(db_url) as session:
        session.add(Escalation(conversation_id=TELEGRAM, reason="complaint", priority=1, open=True, created_at=now))
    with session_scope(db_url) as session:
        assert load_profile(session, TELEGRAM, now).open_complaint


def statements(url: str, conversation_id: str, now: datetime) -> int:
    """How many SQL statements one profile read sends."""
    engine = get_engine(url)
    sent: List[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        sent.append(statement)

    with session_scope(url) as session:
        session.connection()  # the transaction's own statements (SQLite's BEGIN) are not the profile's
        event_api.listen(engine, "before_cursor_execute", count)
        try:
            load_profile(session, conversation_id, now)
        finally:
            event_api.remove(engine, "before_cursor_execute", count)
    return len(sent)


def test_a_profile_is_read_in_eleven_statements_verified_and_seven_anonymous(db_url: str) -> None:
    """Each statement is a round trip and ~0.3-0.5 ms of CPU in SQLAlchemy, in every recommendation
    (benchmarks/results/recommendations_latency.md): dismissed and opened are one, the two complaint tests one."""
    now = utcnow()
    with session_scope(db_url) as session:
        james = customer_with_policy(session, "PX-40211")
        conversation(session, WHATSAPP, "whatsapp")
        record_verification(session, WHATSAPP, james.id, "policy_dob", "PX-40211", now=now)
        says(session, WHATSAPP, "what do you still need for my bike claim?", "claim_status", "neutral", now)
        conversation(session, TELEGRAM, "telegram")
    assert statements(db_url, WHATSAPP, now) == 11
    assert statements(db_url, TELEGRAM, now) == 7
