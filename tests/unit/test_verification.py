"""Customer verification: the account actions, the verification form, the attempt limits and the web
chat token, with rasa-sdk's CollectingDispatcher and a real, migrated and seeded SQLite database."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select

from actions.account import ActionCheckBalance, ActionSubmitInfoUpdate, ValidateUpdateInfoForm
from actions.claims import ActionClaimStatus, ActionSubmitClaim, ValidateClaimForm, ValidateClaimStatusForm
from actions.customer_token import MAX_LIFETIME_SECONDS, TokenRefused, read_customer_token, sign_customer_token
from actions.knowledge import ActionAnswerProductQuestion
from actions.verification import (
    CHECKED,
    FORM,
    ValidateVerificationForm,
    birth_date,
    keep_other_answers,
    not_on_your_account,
)
from storage.engine import session_scope
from storage.models import ChangeRequest, Claim, CustomerVerification, Policy, VerificationAttempt, utcnow
from storage.verification import (
    MAX_FAILURES_PER_POLICY,
    POLICY_DOB,
    Outcome,
    is_locked,
    record_verification,
    try_policy_and_birth_date,
    verified_customer_id,
)
from tests.support.databases import migrated_sqlite

SECRET = b"a-test-secret-that-is-long-enough-1234"
MARIA = {"policy": "PX-88123", "born": "03/14/1984", "claim": "CL-204117"}
AISHA = {"policy": "PX-77310", "born": "05/30/1989", "claim": "CL-415009"}
FORM_DOMAIN: Dict[str, Any] = {
    "forms": {FORM: {"required_slots": ["verification_policy_number", "date_of_birth"]}},
    "slots": {
        "verification_policy_number": {"type": "text", "mappings": [{"type": "from_text"}]},
        "date_of_birth": {"type": "text", "mappings": [{"type": "from_text"}]},
    },
}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    """A database of its own per test: the attempt limits count everything in the window."""
    url = migrated_sqlite(tmp_path / "coverline.db")
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    yield url
    if previous is None:
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"] = previous


@pytest.fixture
def token_secret(monkeypatch: pytest.MonkeyPatch) -> bytes:
    monkeypatch.setenv("CUSTOMER_TOKEN_SECRET", SECRET.decode())
    return SECRET


def tracker(
    sender: str,
    slots: Optional[Dict[str, Any]] = None,
    text: str = "",
    intent: str = "inform",
    metadata: Optional[Dict[str, Any]] = None,
    channel: str = "whatsapp",
    active_loop: Optional[str] = None,
    latest_action: str = "action_listen",
    events: Optional[List[Dict[str, Any]]] = None,
) -> Tracker:
    """A tracker as the Rasa server sends it: the customer's message as a user event on their channel."""
    latest = {"intent": {"name": intent, "confidence": 0.95}, "entities": [], "text": text, "metadata": metadata or {}}
    user = {"event": "user", "text": text, "parse_data": latest, "input_channel": channel, "metadata": metadata or {}}
    history = [{"event": "action", "name": "action_listen"}, user] + (events or [])
    loop = {"name": active_loop} if active_loop else {}
    return Tracker(sender, slots or {}, latest, history, False, None, loop, latest_action)


def run(action: Any, t: Tracker, domain: Optional[dict] = None):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, domain or {}))
    return dispatcher, events


def said(dispatcher: CollectingDispatcher) -> str:
    return " ".join(m.get("text") or m.get("response") or "" for m in dispatcher.messages)


def validate_birth_date(sender: str, policy: str, value: str) -> tuple:
    dispatcher = CollectingDispatcher()
    t = tracker(sender, {"verification_policy_number": policy, "requested_slot": "date_of_birth"}, text=value)
    result = ValidateVerificationForm().validate_date_of_birth(value, dispatcher, t, {})
    return result, said(dispatcher)


def customer_id_of(policy: str) -> int:
    with session_scope() as s:
        return s.scalar(select(Policy.customer_id).where(Policy.number == policy))


def verify(sender: str, policy: str) -> None:
    customer = customer_id_of(policy)
    with session_scope() as s:
        record_verification(s, sender, customer, POLICY_DOB, policy)


def slot_events(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def followup(events: List[Dict[str, Any]]) -> Optional[str]:
    return next((e["name"] for e in events if e.get("event") == "followup"), None)


# -- reading a date of birth -------------------------------------------------------------------------

TODAY = date(2026, 12, 3)


@pytest.mark.parametrize(
    "text",
    ["03/14/1984", "3/14/84", "1984-03-14", "March 14, 1984", "14 March 1984", "mar 14th 1984", "it's 03-14-1984"],
)
def test_dates_of_birth_are_read_as_customers_type_them(text: str) -> None:
    assert birth_date(text, TODAY) == date(1984, 3, 14)


def test_a_day_that_cannot_be_a_month_is_read_day_first() -> None:
    assert birth_date("14/03/1984", TODAY) == date(1984, 3, 14)
    assert birth_date("05/06/1990", TODAY) == date(1990, 5, 6)  # US order when both could be a month


@pytest.mark.parametrize("text", ["March 14", "March 1984", "1984", "yesterday", "02/30/1984", "01/01/2030", "hi", ""])
def test_a_date_of_birth_needs_day_month_and_a_past_year(text: str) -> None:
    assert birth_date(text, TODAY) is None


# -- the signed web chat token -----------------------------------------------------------------------


def in_minutes(minutes: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(minutes=minutes)


def test_a_signed_token_names_its_customer() -> None:
    assert read_customer_token(sign_customer_token(7, in_minutes(10), SECRET), SECRET) == 7


@pytest.mark.parametrize(
    "token, reason",
    [
        (sign_customer_token(7, in_minutes(10), b"another-secret-of-the-same-length-12"), "bad_signature"),
        (sign_customer_token(7, in_minutes(-1), SECRET), "expired"),
        # far past the limit: the token is minted when the tests are collected, maybe many minutes before this runs
        (sign_customer_token(7, in_minutes(MAX_LIFETIME_SECONDS / 60 + 360), SECRET), "lifetime_too_long"),
        ("not-a-token", "malformed"),
        ("a.b.c", "malformed"),
        (12345, "malformed"),
        ("x" * 2000 + ".y", "malformed"),
    ],
)
def test_forged_expired_or_malformed_tokens_are_refused(token: Any, reason: str) -> None:
    with pytest.raises(TokenRefused) as refused:
        read_customer_token(token, SECRET)
    assert refused.value.reason == reason


def test_a_token_with_its_customer_changed_fails_the_signature() -> None:
    token = sign_customer_token(7, in_minutes(10), SECRET)
    forged = sign_customer_token(8, in_minutes(10), SECRET).split(".")[0] + "." + token.split(".")[1]
    with pytest.raises(TokenRefused, match="bad_signature"):
        read_customer_token(forged, SECRET)


def test_a_token_bound_to_a_conversation_works_only_there() -> None:
    token = sign_customer_token(7, in_minutes(10), SECRET, conversation_id="web-abc")
    assert read_customer_token(token, SECRET, conversation_id="web-abc") == 7
    with pytest.raises(TokenRefused, match="other_conversation"):
        read_customer_token(token, SECRET, conversation_id="web-xyz")


def test_a_short_secret_is_refused_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    from actions.customer_token import token_secret

    monkeypatch.setenv("CUSTOMER_TOKEN_SECRET", "short")
    with pytest.raises(ValueError):
        token_secret()


# -- the gate in front of account details ------------------------------------------------------------


def test_an_unverified_balance_request_starts_verification_and_shows_nothing(database: str) -> None:
    t = tracker("whatsapp:15550002001", {"policy_number": "PX-88123"}, "how much do I owe on PX-88123", "check_balance")
    dispatcher, events = run(ActionCheckBalance(), t)
    assert [m.get("response") for m in dispatcher.messages] == ["utter_verification_intro"]
    assert "$" not in said(dispatcher)
    assert slot_events(events) == {
        "account_request": "balance",
        "verification_policy_number": "PX-88123",
        "date_of_birth": None,
    }
    assert followup(events) == FORM


def test_a_form_started_without_a_policy_number_asks_for_one_without_refusing_anything(database: str) -> None:
    """A balance request ("what's my balance?") starts the form with no policy number; its first run validates
    that empty slot, and said "That doesn't look like a policy number" to a customer who gave none (seen live)."""
    t = tracker("whatsapp:15550002002", {}, "what's my balance?", "check_balance")
    dispatcher = CollectingDispatcher()
    result = ValidateVerificationForm().validate_verification_policy_number(None, dispatcher, t, {})
    assert result == {"verification_policy_number": None} and dispatcher.messages == []
    refused = CollectingDispatcher()
    ValidateVerificationForm().validate_verification_policy_number("my balance please", refused, t, {})
    assert "doesn't look like a policy number" in said(refused)


def test_verified_by_policy_and_birth_date_the_balance_follows(database: str) -> None:
    sender = "telegram:100200300"
    result, reply = validate_birth_date(sender, MARIA["policy"], MARIA["born"])
    assert result == {"date_of_birth": CHECKED} and "confirmed" in reply and "1984" not in reply
    maria = customer_id_of("PX-88123")
    with session_scope() as s:
        row = s.scalars(select(CustomerVerification).where(CustomerVerification.conversation_id == sender)).one()
        assert (row.method, row.customer_id) == ("policy_dob", maria)
        assert timedelta(hours=23) < row.expires_at - row.verified_at <= timedelta(hours=24)
    slots = {"policy_number": "PX-88123", "account_request": "balance"}
    dispatcher, events = run(ActionCheckBalance(), tracker(sender, slots, "03/14/1984", latest_action=FORM))
    assert "$107.00 due on" in said(dispatcher)
    assert slot_events(events) == {"account_request": None}


def test_the_form_ends_and_resumes_the_request_once_verified(database: str) -> None:
    sender = "messenger:2400000000000001"
    slots = {
        "verification_policy_number": "PX-88123",
        "date_of_birth": MARIA["born"],
        "requested_slot": "date_of_birth",
        "account_request": "claim_status",
    }
    events = [{"event": "slot", "name": "date_of_birth", "value": MARIA["born"]}]
    t = tracker(sender, slots, MARIA["born"], active_loop=FORM, latest_action=FORM, events=events)
    dispatcher, result = run(ValidateVerificationForm(), t, FORM_DOMAIN)
    assert slot_events(result)["requested_slot"] is None
    assert followup(result) == "action_claim_status"
    assert MARIA["born"] not in said(dispatcher)


def test_a_wrong_birth_date_asks_again_without_echoing_it(database: str) -> None:
    result, reply = validate_birth_date("whatsapp:15550002002", MARIA["policy"], "07/04/1976")
    assert result == {"date_of_birth": None, "verification_policy_number": None}
    assert "doesn't match" in reply and "2 more tries" in reply
    assert "07/04/1976" not in reply and "1976" not in reply


def test_an_unknown_policy_gets_the_same_answer_as_a_wrong_birth_date(database: str) -> None:
    wrong_dob = validate_birth_date("whatsapp:15550002003", "PX-88123", "07/04/1976")
    unknown = validate_birth_date("whatsapp:15550002004", "PX-00001", "07/04/1976")
    assert wrong_dob == unknown


def test_an_unreadable_date_is_not_counted_as_a_try(database: str) -> None:
    sender = "whatsapp:15550002005"
    result, reply = validate_birth_date(sender, MARIA["policy"], "I'd rather not say")
    assert result == {"date_of_birth": None} and "with the year" in reply
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(VerificationAttempt)) == 0


def test_three_failures_lock_the_conversation_even_for_the_right_answer(database: str) -> None:
    sender = "telegram:555000111"
    for wrong in ("01/01/1980", "02/02/1981"):
        assert validate_birth_date(sender, MARIA["policy"], wrong)[0]["verification_policy_number"] is None
    result, reply = validate_birth_date(sender, MARIA["policy"], "03/03/1982")
    assert result == {"date_of_birth": None} and "doesn't match" in reply and "try again" not in reply
    result, reply = validate_birth_date(sender, MARIA["policy"], MARIA["born"])  # right, but too late
    assert result == {"date_of_birth": None} and "confirmed" not in reply
    with session_scope() as s:
        assert verified_customer_id(s, sender) is None
        assert is_locked(s, sender)
    # The form ends; the request's action then sends the customer to a person instead of asking again.
    slots = {"verification_policy_number": "PX-88123", "requested_slot": "date_of_birth", "account_request": "balance"}
    t = tracker(sender, slots, "x", active_loop=FORM, latest_action=FORM)
    _, form_events = run(ValidateVerificationForm(), t, FORM_DOMAIN)
    assert slot_events(form_events)["requested_slot"] is None and followup(form_events) == "action_check_balance"
    dispatcher, events = run(ActionCheckBalance(), tracker(sender, {"policy_number": "PX-88123"}, latest_action=FORM))
    assert [m.get("response") for m in dispatcher.messages] == ["utter_verification_locked"]
    assert followup(events) is None and "$" not in said(dispatcher)
    # Asking again later in the same conversation does not reopen the form either.
    dispatcher, events = run(ActionCheckBalance(), tracker(sender, {}, "what's my balance", "check_balance"))
    assert [m.get("response") for m in dispatcher.messages] == ["utter_verification_locked"]


def test_five_failures_on_a_policy_lock_it_across_conversations(database: str) -> None:
    for n in range(MAX_FAILURES_PER_POLICY):
        validate_birth_date(f"whatsapp:1555000300{n}", "PX-60452", "01/01/1970")
    result, reply = validate_birth_date("whatsapp:15550003999", "PX-60452", "01/09/1965")  # Tom Becker's, right
    assert result == {"date_of_birth": None} and "confirmed" not in reply
    with session_scope() as s:
        assert verified_customer_id(s, "whatsapp:15550003999") is None
        assert is_locked(s, "whatsapp:15550003999", "PX-60452") and not is_locked(s, "whatsapp:15550003999")
        refused = s.scalars(select(VerificationAttempt).where(VerificationAttempt.outcome == "refused")).all()
        assert [a.conversation_id for a in refused] == ["whatsapp:15550003999"]
    # Other policies are not affected.
    assert validate_birth_date("whatsapp:15550003999", MARIA["policy"], MARIA["born"])[0] == {"date_of_birth": CHECKED}


def test_failures_older_than_the_window_no_longer_count(database: str) -> None:
    long_ago = utcnow() - timedelta(hours=25)
    for _ in range(3):
        assert try_policy_and_birth_date("web-old", "PX-88124", date(1970, 1, 1), now=long_ago).outcome in (
            Outcome.MISMATCH,
        )
    assert try_policy_and_birth_date("web-old", "PX-88124", date(1984, 3, 14)).outcome is Outcome.VERIFIED


def race_on_one_policy(url: str) -> List[Outcome]:
    """Twenty conversations guessing one policy's date of birth at once, as replicas would."""

    def guess(n: int) -> Outcome:
        born = date(1960, 1, 1 + n % 28)
        return try_policy_and_birth_date(f"telegram:9000{n:04d}", "PX-51731", born, url=url).outcome

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(guess, range(20)))


def test_racing_replicas_get_no_more_tries_than_the_limit(database: str) -> None:
    outcomes = race_on_one_policy(database)
    assert outcomes.count(Outcome.MISMATCH) == MAX_FAILURES_PER_POLICY
    assert outcomes.count(Outcome.REFUSED) == 20 - MAX_FAILURES_PER_POLICY


def test_racing_replicas_on_postgresql_get_no_more_tries_than_the_limit(fresh_postgres_url: str) -> None:
    """Under READ COMMITTED two transactions can count the same failures; the policy row's lock makes
    tries on one policy wait for each other, so each one counts the failures before it."""
    from storage.migrate import upgrade
    from storage.seed import seed

    upgrade(fresh_postgres_url)
    with session_scope(fresh_postgres_url) as s:
        seed(s)
    outcomes = race_on_one_policy(fresh_postgres_url)
    assert outcomes.count(Outcome.MISMATCH) == MAX_FAILURES_PER_POLICY
    assert outcomes.count(Outcome.REFUSED) == 20 - MAX_FAILURES_PER_POLICY


def test_a_verification_expires(database: str) -> None:
    maria = customer_id_of("PX-88123")
    with session_scope() as s:
        record_verification(s, "web-expired", maria, POLICY_DOB, now=utcnow() - timedelta(hours=25))
    dispatcher, events = run(ActionCheckBalance(), tracker("web-expired", {"policy_number": "PX-88123"}))
    assert followup(events) == FORM and "$" not in said(dispatcher)


# -- only the verified customer's own policies and claims --------------------------------------------


def test_another_customers_policy_gets_the_same_refusal_as_a_made_up_one(database: str) -> None:
    verify("whatsapp:15550004001", MARIA["policy"])
    replies = []
    for number in (AISHA["policy"], "PX-00000"):
        dispatcher, events = run(ActionCheckBalance(), tracker("whatsapp:15550004001", {"policy_number": number}))
        replies.append(said(dispatcher).replace(number, "<n>"))
        assert followup(events) is None and "$" not in said(dispatcher)
    assert replies[0] == replies[1] == not_on_your_account("policy", "<n>")


def test_another_customers_claim_gets_the_same_refusal_as_a_made_up_one(database: str) -> None:
    verify("whatsapp:15550004002", MARIA["policy"])
    replies = []
    for number in (AISHA["claim"], "CL-999999"):
        dispatcher, _ = run(ActionClaimStatus(), tracker("whatsapp:15550004002", {"claim_number": number}))
        replies.append(said(dispatcher).replace(number, "<n>"))
    assert replies[0] == replies[1] and "windshield" not in " ".join(replies).lower()
    dispatcher, _ = run(ActionClaimStatus(), tracker("whatsapp:15550004002", {"claim_number": MARIA["claim"]}))
    assert "Dana Price" in said(dispatcher)


def test_a_verified_customer_without_a_number_sees_every_policy_of_theirs(database: str) -> None:
    verify("telegram:400500600", "PX-40211")
    dispatcher, _ = run(ActionCheckBalance(), tracker("telegram:400500600", {}, "how much do I owe", "check_balance"))
    reply = said(dispatcher)
    assert "PX-40211" in reply and "PX-40212" in reply and "PX-88123" not in reply


# -- the signed token from the logged-in page --------------------------------------------------------


def web_tracker(sender: str, token: Any, slots: Dict[str, Any]) -> Tracker:
    metadata = {"language": "en", "channel": "webchat", "customer_token": token}
    return tracker(sender, slots, "how much do I owe?", "check_balance", metadata=metadata, channel="socketio")


def test_a_logged_in_web_chat_customer_needs_no_quiz(database: str, token_secret: bytes) -> None:
    token = sign_customer_token(customer_id_of("PX-88123"), in_minutes(15), token_secret)
    dispatcher, events = run(ActionCheckBalance(), web_tracker("web-7f3a", token, {"policy_number": "PX-88123"}))
    assert "$107.00 due on" in said(dispatcher) and followup(events) is None
    with session_scope() as s:
        row = s.scalars(select(CustomerVerification).where(CustomerVerification.conversation_id == "web-7f3a")).one()
        assert row.method == "web_token"


@pytest.mark.parametrize("problem", ["bad_signature", "expired"])
def test_a_bad_or_expired_token_proves_nothing(database: str, token_secret: bytes, problem: str) -> None:
    customer = customer_id_of("PX-88123")
    token = (
        sign_customer_token(customer, in_minutes(15), b"x" * 40)
        if problem == "bad_signature"
        else sign_customer_token(customer, in_minutes(-5), token_secret)
    )
    dispatcher, events = run(ActionCheckBalance(), web_tracker(f"web-{problem}", token, {"policy_number": "PX-88123"}))
    assert followup(events) == FORM and "$" not in said(dispatcher)
    with session_scope() as s:
        attempt = s.scalars(
            select(VerificationAttempt).where(VerificationAttempt.conversation_id == f"web-{problem}")
        ).one()
        assert (attempt.method, attempt.outcome, attempt.detail) == ("web_token", "failed", problem)
        assert verified_customer_id(s, f"web-{problem}") is None


def test_a_token_for_another_customer_shows_nothing_of_this_policy(database: str, token_secret: bytes) -> None:
    token = sign_customer_token(customer_id_of(AISHA["policy"]), in_minutes(15), token_secret)
    dispatcher, _ = run(ActionCheckBalance(), web_tracker("web-other", token, {"policy_number": MARIA["policy"]}))
    assert said(dispatcher) == not_on_your_account("policy", MARIA["policy"])


def test_without_a_secret_tokens_are_not_accepted(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUSTOMER_TOKEN_SECRET", raising=False)
    token = sign_customer_token(customer_id_of("PX-88123"), in_minutes(15), SECRET)
    _, events = run(ActionCheckBalance(), web_tracker("web-nosecret", token, {"policy_number": "PX-88123"}))
    assert followup(events) == FORM


# -- claims and changes ------------------------------------------------------------------------------


def claim_slots(policy: str) -> Dict[str, Any]:
    return {
        "policy_number": policy,
        "incident_type": "collision",
        "incident_date": (date.today() - timedelta(days=1)).isoformat(),
        "incident_description": "a van reversed into my parked car and broke the headlight",
    }


def test_anyone_may_start_a_claim_but_it_is_filed_only_once_verified(database: str) -> None:
    sender = "instagram:17841400000000001"
    assert ValidateClaimForm().validate_policy_number("PX-40212", CollectingDispatcher(), tracker(sender), {}) == {
        "policy_number": "PX-40212"
    }  # unverified: the form does not say the policy lapsed (or exists)
    dispatcher, events = run(ActionSubmitClaim(), tracker(sender, claim_slots("PX-88123")))
    assert followup(events) == FORM and slot_events(events)["account_request"] == "file_claim"
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Claim).where(Claim.conversation_id == sender)) == 0
    verify(sender, "PX-88123")
    dispatcher, events = run(ActionSubmitClaim(), tracker(sender, claim_slots("PX-88123"), latest_action=FORM))
    assert "Your claim number is CL-" in said(dispatcher)
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Claim).where(Claim.conversation_id == sender)) == 1


def test_a_verified_customer_cannot_file_on_someone_elses_policy(database: str) -> None:
    sender = "instagram:17841400000000002"
    verify(sender, "PX-88123")
    reply = CollectingDispatcher()
    assert ValidateClaimForm().validate_policy_number("PX-77310", reply, tracker(sender), {}) == {"policy_number": None}
    assert said(reply) == not_on_your_account("policy", "PX-77310")
    dispatcher, _ = run(ActionSubmitClaim(), tracker(sender, claim_slots("PX-77310")))
    assert "couldn't file that claim" in said(dispatcher)
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Claim).where(Claim.conversation_id == sender)) == 0


def test_a_change_of_address_waits_for_verification_and_stays_on_own_policies(database: str) -> None:
    sender = "x:1500000000000000001"
    slots = {"policy_number": "PX-88123", "info_field": "address", "new_value": "1 Elm St, Portland ME 04101"}
    _, events = run(ActionSubmitInfoUpdate(), tracker(sender, slots))
    assert followup(events) == FORM
    verify(sender, "PX-40211")  # James Okafor, not PX-88123's holder
    dispatcher, _ = run(ActionSubmitInfoUpdate(), tracker(sender, slots))
    assert "couldn't record that change" in said(dispatcher)
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(ChangeRequest)) == 0
    refused = CollectingDispatcher()
    assert ValidateUpdateInfoForm().validate_policy_number("PX-88123", refused, tracker(sender), {}) == {
        "policy_number": None
    }
    dispatcher, _ = run(ActionSubmitInfoUpdate(), tracker(sender, dict(slots, policy_number="PX-40211")))
    assert "Request CR-" in said(dispatcher)


def test_claim_status_form_says_nothing_about_a_claim_before_verification(database: str) -> None:
    dispatcher = CollectingDispatcher()
    for number in ("CL-999999", "CL-204117"):
        assert ValidateClaimStatusForm().validate_claim_number(number, dispatcher, tracker("wechat:oAbc"), {}) == {
            "claim_number": number
        }
    assert dispatcher.messages == []


def test_a_policys_own_deductible_only_for_its_verified_holder(database: str) -> None:
    slots = {"policy_number": "PX-88123", "product": "auto"}
    dispatcher, _ = run(ActionAnswerProductQuestion(), tracker("web-ded", slots, intent="ask_deductible"))
    assert "$250, $500 or $1,000" in said(dispatcher) and "Your policy" not in said(dispatcher)
    verify("web-ded", "PX-88123")
    dispatcher, _ = run(ActionAnswerProductQuestion(), tracker("web-ded", slots, intent="ask_deductible"))
    assert "Your policy PX-88123 has a $500 deductible" in said(dispatcher)


# -- the form keeps the rest of the conversation intact ----------------------------------------------


def test_a_date_of_birth_read_as_an_incident_date_does_not_replace_the_claims() -> None:
    before = [
        {"event": "slot", "name": "incident_date", "value": "2026-11-30"},
        {"event": "slot", "name": "policy_number", "value": "PX-88123"},
        {"event": "action", "name": FORM},
        {"event": "user", "text": "03/14/1984 PX-77310"},
        {"event": "slot", "name": "incident_date", "value": "03/14/1984"},
        {"event": "slot", "name": "policy_number", "value": "PX-77310"},
        {"event": "slot", "name": "date_of_birth", "value": "03/14/1984 PX-77310"},
    ]
    slots = {"incident_date": "03/14/1984", "policy_number": "PX-77310", "date_of_birth": "03/14/1984 PX-77310"}
    t = Tracker("web-keep", slots, {}, before, False, None, {"name": FORM}, FORM)
    assert keep_other_answers(t) == [
        {"event": "slot", "timestamp": None, "name": "incident_date", "value": "2026-11-30"},
        {"event": "slot", "timestamp": None, "name": "policy_number", "value": "PX-88123"},
    ]


def test_an_upset_answer_inside_the_verification_form_goes_to_a_person_and_is_not_a_try(database: str) -> None:
    text = "This is ridiculous, why do you need my birthday, just tell me what I owe!!!"
    slots = {
        "verification_policy_number": "PX-88123",
        "requested_slot": "date_of_birth",
        "date_of_birth": text,
        "handoff_signal": "negative_sentiment",
    }
    events = [{"event": "slot", "name": "date_of_birth", "value": text}]
    t = tracker("whatsapp:15550009009", slots, text, active_loop=FORM, latest_action=FORM, events=events)
    _, result = run(ValidateVerificationForm(), t, FORM_DOMAIN)
    assert followup(result) == "action_escalate" and {"event": "active_loop", "name": None} in [
        {k: v for k, v in e.items() if k != "timestamp"} for e in result
    ]
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(VerificationAttempt)) == 0


def test_the_form_started_by_an_account_action_keeps_what_the_request_set(database: str) -> None:
    """At activation the newest message is the request itself: the policy number it named and the
    account_request the action set stay (putting them back left the bot with nothing to resume)."""
    text = "how much do I owe on PX-88123"
    events = [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": {"intent": {"name": "check_balance"}}},
        {"event": "slot", "name": "policy_number", "value": "PX-88123"},
        {"event": "action", "name": "action_check_balance"},
        {"event": "slot", "name": "account_request", "value": "balance"},
        {"event": "slot", "name": "verification_policy_number", "value": "PX-88123"},
        {"event": "followup", "name": FORM},
        {"event": "active_loop", "name": FORM},
        {"event": "slot", "name": "verification_policy_number", "value": "PX-88123"},
    ]
    slots = {"policy_number": "PX-88123", "account_request": "balance", "verification_policy_number": "PX-88123"}
    t = Tracker(
        "whatsapp:15550001234", slots, {"text": text}, events, False, None, {"name": FORM}, "action_check_balance"
    )
    assert keep_other_answers(t) == []
    _, result = run(ValidateVerificationForm(), t, FORM_DOMAIN)
    assert set(slot_events(result)) == {"verification_policy_number"}
