"""A customer who says "no more offers" gets none from then on, on every channel, and the change is audited;
one not yet verified is asked to prove who they are first. Through the real action on a migrated, seeded
database of its own (the demo book: Chen Wei, PX-51730, agreed to offers on a call with an agent)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Dict, List

import pytest
from rasa_sdk import Tracker
from sqlalchemy import select

from actions.marketing_consent import (
    AFTER_THIS_FORM,
    ALREADY_ON_IT,
    AUDIT_ACTION,
    NEVER_GIVEN,
    NOT_YET_KNOWN,
    WITHDRAWN,
    ActionOptOutMarketing,
    ActionOptOutMarketingInsideForm,
)
from actions.past_replies import ActionAnswerFromPastReplies
from recommendations.library import DEMO_LIBRARY, import_library
from recommendations.recommender import recommend_for_conversation
from storage.engine import session_scope
from storage.models import AuditEntry, Conversation, Customer, Message, Policy, Quote, utcnow
from tests.support.action_runs import run, verified
from tests.support.databases import migrated_sqlite

WHATSAPP = "whatsapp:15550001111"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = migrated_sqlite(tmp_path / "coverline.db")
    monkeypatch.setenv("DATABASE_URL", url)
    with session_scope(url) as session:
        import_library(session, [DEMO_LIBRARY])
    return url


def offers_after_a_quote(session: Any) -> List[str]:
    """The marketing items the recommender would show Chen's WhatsApp conversation after a home quote (the
    moment an offer fits best: the demo library has home offers)."""
    now = utcnow()
    found = recommend_for_conversation(session, WHATSAPP, "quote_given", now=now + timedelta(minutes=1))
    assert found  # something is recommended either way: only the offers may go
    return [rec.slug for rec in found if rec.marketing]


def asked_for_a_quote(session: Any) -> None:
    session.add(Conversation(id=WHATSAPP, channel="whatsapp", customer_identity=WHATSAPP))
    session.flush()
    session.add(
        Message(
            conversation_id=WHATSAPP,
            event_key=f"{WHATSAPP}:quote",
            direction="inbound",
            author="customer",
            channel="whatsapp",
            text="how much would home insurance be for a 350k house",
            intent="get_quote",
            confidence=0.9,
            sentiment={"label": "positive", "confidence": 0.8},
            sent_at=utcnow(),
        )
    )
    session.add(
        Quote(
            reference="QT-100001",
            conversation_id=WHATSAPP,
            product="home",
            inputs={"insured_value": 350000},
            annual_premium=48,
            created_at=utcnow(),
        )
    )


def whatsapp_tracker(
    text: str, intent: str = "opt_out_marketing", slots: Dict[str, Any] | None = None, form: str | None = None
) -> Tracker:
    latest = {"intent": {"name": intent, "confidence": 0.95}, "entities": [], "text": text}
    events: List[Dict[str, Any]] = [{"event": "user", "text": text, "parse_data": latest, "input_channel": "whatsapp"}]
    loop = {"name": form} if form else None
    return Tracker(WHATSAPP, slots or {}, latest, events, False, None, loop, "action_listen")


def chen(session: Any) -> Customer:
    return session.scalars(select(Customer).join(Policy).where(Policy.number == "PX-51730")).one()


def test_a_verified_customer_who_opts_out_is_offered_nothing_for_sale_again(database: str) -> None:
    with session_scope(database) as session:
        asked_for_a_quote(session)
    verified(WHATSAPP, "PX-51730")
    with session_scope(database) as session:
        given_at = chen(session).marketing_consent_at
        assert given_at is not None and offers_after_a_quote(session)  # he agreed: an offer comes

    dispatcher, events = run(ActionOptOutMarketing(), whatsapp_tracker("stop sending me offers pls"))
    assert [m["text"] for m in dispatcher.messages] == [WITHDRAWN]
    assert events == []

    with session_scope(database) as session:
        customer = chen(session)
        assert customer.marketing_consent_at is None and customer.marketing_consent_source is None
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == AUDIT_ACTION)).all()
        assert entry.conversation_id == WHATSAPP and entry.agent_id is None
        assert entry.detail == {
            "customer_id": customer.id,
            "channel": "whatsapp",
            "previous": {"given_at": given_at.isoformat(), "source": "agent call"},
        }
        assert offers_after_a_quote(session) == []

    dispatcher, _ = run(ActionOptOutMarketing(), whatsapp_tracker("unsubscribe"))  # again: nothing left to withdraw
    assert [m["text"] for m in dispatcher.messages] == [NEVER_GIVEN]
    with session_scope(database) as session:
        assert len(session.scalars(select(AuditEntry).where(AuditEntry.action == AUDIT_ACTION)).all()) == 1


def test_an_unverified_customer_is_asked_who_they_are_and_nothing_changes_meanwhile(database: str) -> None:
    dispatcher, events = run(ActionOptOutMarketing(), whatsapp_tracker("unsubscribe me from your marketing"))
    said = [m.get("response") or m.get("text") for m in dispatcher.messages]
    assert said == ["utter_verification_intro", NOT_YET_KNOWN]
    assert {"event": "slot", "name": "account_request", "value": "marketing_opt_out", "timestamp": None} in events
    assert {"event": "followup", "name": "verification_form", "timestamp": None} in events
    with session_scope(database) as session:
        assert chen(session).marketing_consent_at is not None
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == AUDIT_ACTION)).all() == []


def test_verification_resumes_the_opt_out_and_the_inbox_audit_page_lists_it() -> None:
    from actions.verification import RESUME_ACTIONS
    from inbox.services.audit import ACTIONS

    assert RESUME_ACTIONS["marketing_opt_out"] == ActionOptOutMarketing().name()
    assert AUDIT_ACTION in ACTIONS  # the audit page's filter accepts it


def test_stop_with_no_form_running_offers_the_opt_out_in_one_tap(database: str) -> None:
    """On messaging channels STOP is how people ask for no more marketing; outside a form there is nothing else
    to stop, so the fallback asks instead of "I don't have a confident answer" (seen live)."""
    dispatcher, _ = run(ActionAnswerFromPastReplies(), whatsapp_tracker("STOP", intent="out_of_scope"))
    [message] = dispatcher.messages
    assert message["buttons"] == [{"title": "No more offers", "payload": "/opt_out_marketing"}]
    with session_scope(database) as session:
        assert chen(session).marketing_consent_at is not None  # asking is not withdrawing


def test_inside_a_claim_a_verified_customers_opt_out_is_honoured_and_the_claim_goes_on(database: str) -> None:
    """Saying "…and stop sending me promotions" halfway through filing a claim: the consent goes at once, and nothing of
    the half-filed claim is touched (no slot, no pending request), so the form asks its question again."""
    verified(WHATSAPP, "PX-51730")
    slots = {"requested_slot": "incident_description", "account_request": "file_claim", "policy_number": "PX-51730"}
    tracker = whatsapp_tracker("and stop sending me promotions", slots=slots, form="claim_form")
    dispatcher, events = run(ActionOptOutMarketingInsideForm(), tracker)
    assert [m["text"] for m in dispatcher.messages] == [WITHDRAWN]
    assert events == []
    with session_scope(database) as session:
        assert chen(session).marketing_consent_at is None
        assert len(session.scalars(select(AuditEntry).where(AuditEntry.action == AUDIT_ACTION)).all()) == 1


@pytest.mark.parametrize("form", ["quote_form", "verification_form"])
def test_inside_a_form_an_unverified_customer_is_told_how_to_finish_it_after(database: str, form: str) -> None:
    """Verification cannot start inside another form (and inside verification the request it serves must not be
    replaced): nothing changes, no form is started, and the customer is told what to say when it is done."""
    slots = {"requested_slot": "age", "account_request": "claim_status" if form == "verification_form" else None}
    dispatcher, events = run(ActionOptOutMarketingInsideForm(), whatsapp_tracker("unsubscribe", slots=slots, form=form))
    assert [m["text"] for m in dispatcher.messages] == [AFTER_THIS_FORM]
    assert events == []
    with session_scope(database) as session:
        assert chen(session).marketing_consent_at is not None
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == AUDIT_ACTION)).all() == []


def test_asked_again_while_verifying_for_it_the_customer_hears_it_is_under_way(database: str) -> None:
    """Saying "unsubscribe", then "unsubscribe!!" again instead of a policy number: not "say it
    again once we're done" (that is what is being done), and the verification goes on for the same request."""
    slots = {"requested_slot": "verification_policy_number", "account_request": "marketing_opt_out"}
    tracker = whatsapp_tracker("unsubscribe!!", slots=slots, form="verification_form")
    dispatcher, events = run(ActionOptOutMarketingInsideForm(), tracker)
    assert [m["text"] for m in dispatcher.messages] == [ALREADY_ON_IT]
    assert events == []
