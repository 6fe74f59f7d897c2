"""Finding 4 of the security review: account details went to whoever asked.

A brand-new sender asking "status of CL-204117" got the adjuster's name and timeline, and "how much do I
owe on PX-88123" got the balance. Here every account action runs, as the Rasa server would call it, for
each of the 5 demo customers' policy and claim numbers, from senders who never verified (and from
senders verified as someone else): no reply may carry anything of the account (money, dates, the
adjuster, the claim's story, name, address, email, phone, product or status), none may differ between a
real number and a made-up one, and nothing may be written. Then the same over REST against the real
trained bot.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select

from actions.account import ActionCheckBalance, ActionSubmitInfoUpdate, ValidateUpdateInfoForm
from actions.claims import (
    INCIDENT_LABELS,
    STATUS_TEXT,
    ActionClaimStatus,
    ActionSubmitClaim,
    ValidateClaimForm,
    ValidateClaimStatusForm,
)
from actions.customer_token import sign_customer_token
from actions.knowledge import ActionAnswerProductQuestion
from storage.engine import session_scope
from storage.models import ChangeRequest, Claim, Policy
from storage.verification import POLICY_DOB, record_verification
from tests.support.paths import PROJECT_ROOT

pytestmark = pytest.mark.usefixtures("sqlite_url")

DEMO = yaml.safe_load((PROJECT_ROOT / "demo_data" / "customers.yml").read_text())
CUSTOMERS = DEMO["customers"]
POLICIES = [(c["name"], p) for c in CUSTOMERS for p in c["policies"]]
CLAIMS = DEMO["claims"]
MADE_UP_POLICY, MADE_UP_CLAIM = "PX-00042", "CL-000042"
CHANNELS = [  # (input channel, the shape of its conversation ids)
    ("whatsapp", "whatsapp:1555{:07d}"),
    ("telegram", "telegram:{:09d}"),
    ("messenger", "messenger:24{:014d}"),
    ("instagram", "instagram:1784{:012d}"),
    ("socketio", "{:032x}"),  # the web chat: a session id
]
_senders = itertools.count(1)
MONEY = re.compile(r"\$\s?\d|\d+\.\d{2}\b")
WORDS_OF_AN_ACCOUNT = ("lapsed", "cancelled", "overdue", "due on", "last payment", "adjuster", "deductible of $")


def new_sender() -> Tuple[str, str]:
    """A brand-new sender id in a real channel's shape, and the channel name."""
    n = next(_senders)
    channel, pattern = CHANNELS[n % len(CHANNELS)]
    return pattern.format(n), channel


def account_secrets() -> Dict[str, List[str]]:
    """Per policy and claim number: what no unverified reply may contain."""
    secrets: Dict[str, List[str]] = {}
    for customer in CUSTOMERS:
        personal = [customer["name"], customer["address"], customer["email"], customer["phone"]]
        personal += [customer["name"].split()[-1], customer["address"].split(",")[0]]
        for policy in customer["policies"]:
            secrets[policy["number"]] = personal + [f"{policy['product']} insurance", f"({policy['product']}"]
    for claim in CLAIMS:
        detail = claim["status_detail"]
        secrets[claim["reference"]] = secrets[claim["policy"]] + [
            detail,
            detail.split(".")[0],
            claim["description"].split(";")[0].split(".")[0],
            STATUS_TEXT[claim["status"]],
            INCIDENT_LABELS[claim["incident_type"]],
        ]
    secrets["Dana Price"] = ["Dana Price"]
    return secrets


SECRETS = account_secrets()


def tracker(sender: str, channel: str, text: str, intent: str, slots: Dict[str, Any], entities=()) -> Tracker:
    """The tracker the Rasa server sends for a first message from `sender` on `channel`."""
    parse = {"intent": {"name": intent, "confidence": 0.97}, "entities": list(entities), "text": text}
    events = [
        {"event": "action", "name": "action_session_start"},
        {"event": "session_started"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": parse, "input_channel": channel, "metadata": {}},
    ] + [{"event": "slot", "name": k, "value": v} for k, v in slots.items()]
    return Tracker(sender, dict(slots), dict(parse, metadata={}), events, False, None, {}, "action_listen")


def run(action: Any, t: Tracker) -> Tuple[str, List[Dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    return replies(dispatcher), events


def validate(form: Any, slot: str, value: str, t: Tracker) -> Tuple[str, Any]:
    dispatcher = CollectingDispatcher()
    result = getattr(form, f"validate_{slot}")(value, dispatcher, t, {})
    return replies(dispatcher), result.get(slot)


def replies(dispatcher: CollectingDispatcher) -> str:
    """Everything the customer would see: texts, response names, buttons."""
    parts = []
    for message in dispatcher.messages:
        parts += [message.get("text") or "", message.get("response") or ""]
        parts += [str(b.get("title")) for b in message.get("buttons") or []]
    return " ".join(p for p in parts if p)


def assert_reveals_nothing(reply: str, number: str) -> None:
    assert not MONEY.search(reply), f"money in the reply about {number}: {reply!r}"
    lowered = reply.lower()
    for secret in SECRETS.get(number, []) + SECRETS["Dana Price"]:
        assert secret.lower() not in lowered, f"{secret!r} in the reply about {number}: {reply!r}"
    for words in WORDS_OF_AN_ACCOUNT:
        assert words not in lowered, f"{words!r} in the reply about {number}: {reply!r}"


def same_for_a_made_up_number(ask, number: str, made_up: str) -> str:
    """Ask about the real number and a made-up one from two new senders: the answers may not differ."""
    real = ask(number)
    fake = ask(made_up)
    assert real.replace(number, "<n>") == fake.replace(made_up, "<n>"), "the reply tells a real number from a fake"
    return real


def rows(model: Any, **where: str) -> int:
    with session_scope() as s:
        query = select(func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        return int(s.scalar(query))


def yesterday() -> str:
    return (date.today() - timedelta(days=1)).isoformat()


# -- unverified senders ------------------------------------------------------------------------------


@pytest.mark.parametrize("owner, policy", POLICIES, ids=[p["number"] for _, p in POLICIES])
def test_an_unverified_sender_gets_no_balance(owner: str, policy: Dict[str, Any]) -> None:
    def ask(number: str) -> str:
        sender, channel = new_sender()
        text = f"how much do I owe on {number}?"
        entity = [{"entity": "policy_number", "value": number}]
        reply, events = run(
            ActionCheckBalance(), tracker(sender, channel, text, "check_balance", {"policy_number": number}, entity)
        )
        assert {"event": "followup", "timestamp": None, "name": "verification_form"} in events
        return reply

    reply = same_for_a_made_up_number(ask, policy["number"], MADE_UP_POLICY)
    assert_reveals_nothing(reply, policy["number"])


@pytest.mark.parametrize("claim", CLAIMS, ids=[c["reference"] for c in CLAIMS])
def test_an_unverified_sender_gets_no_claim_progress(claim: Dict[str, Any]) -> None:
    def ask(number: str) -> str:
        sender, channel = new_sender()
        t = tracker(sender, channel, f"status of {number}", "claim_status", {"claim_number": number})
        said_by_form, value = validate(ValidateClaimStatusForm(), "claim_number", number, t)
        assert value == number  # the form takes any well-formed number: it says nothing of what exists
        reply, _ = run(ActionClaimStatus(), t)
        return f"{said_by_form} {reply}".strip()

    reply = same_for_a_made_up_number(ask, claim["reference"], MADE_UP_CLAIM)
    assert_reveals_nothing(reply, claim["reference"])


@pytest.mark.parametrize("owner, policy", POLICIES, ids=[p["number"] for _, p in POLICIES])
def test_an_unverified_sender_learns_nothing_from_the_claim_form_and_files_nothing(
    owner: str, policy: Dict[str, Any]
) -> None:
    def ask(number: str) -> str:
        sender, channel = new_sender()
        slots = {
            "policy_number": number,
            "incident_type": "collision",
            "incident_date": (date.today() - timedelta(days=400)).isoformat(),
            "incident_description": "a delivery van reversed into the side of the car in a car park",
        }
        t = tracker(sender, channel, "long ago, before the policy", "inform", slots)
        said = [validate(ValidateClaimForm(), "policy_number", number, t)[0]]
        said.append(validate(ValidateClaimForm(), "incident_date", slots["incident_date"], t)[0])
        said.append(
            run(
                ActionSubmitClaim(), tracker(sender, channel, "done", "inform", dict(slots, incident_date=yesterday()))
            )[0]
        )
        assert rows(Claim, conversation_id=sender) == 0
        return " ".join(s for s in said if s)

    reply = same_for_a_made_up_number(ask, policy["number"], MADE_UP_POLICY)
    assert_reveals_nothing(reply, policy["number"])
    assert "outside that period" not in reply and "covers" not in reply


@pytest.mark.parametrize("owner, policy", POLICIES, ids=[p["number"] for _, p in POLICIES])
def test_an_unverified_sender_changes_nothing(owner: str, policy: Dict[str, Any]) -> None:
    def ask(number: str) -> str:
        sender, channel = new_sender()
        slots = {"policy_number": number, "info_field": "address", "new_value": "1 Attacker Way, Springfield IL 62701"}
        t = tracker(sender, channel, "1 Attacker Way, Springfield IL 62701", "inform", slots)
        said_by_form, value = validate(ValidateUpdateInfoForm(), "policy_number", number, t)
        assert value == number
        reply, _ = run(ActionSubmitInfoUpdate(), t)
        assert rows(ChangeRequest, conversation_id=sender) == 0
        return f"{said_by_form} {reply}".strip()

    reply = same_for_a_made_up_number(ask, policy["number"], MADE_UP_POLICY)
    assert_reveals_nothing(reply, policy["number"])


@pytest.mark.parametrize("owner, policy", POLICIES, ids=[p["number"] for _, p in POLICIES])
def test_an_unverified_sender_gets_only_the_general_deductible_answer(owner: str, policy: Dict[str, Any]) -> None:
    def ask(number: str) -> str:
        sender, channel = new_sender()
        t = tracker(sender, channel, f"what's my deductible on {number}", "ask_deductible", {"policy_number": number})
        return run(ActionAnswerProductQuestion(), t)[0]

    reply = same_for_a_made_up_number(ask, policy["number"], MADE_UP_POLICY)
    assert "Your policy" not in reply and "Which cover" in reply  # the policy's product is not given away


# -- senders verified as someone else ----------------------------------------------------------------


def verified_as(policy_number: str) -> Tuple[str, str]:
    sender, channel = new_sender()
    with session_scope() as s:
        customer_id = s.scalar(select(Policy.customer_id).where(Policy.number == policy_number))
        record_verification(s, sender, customer_id, POLICY_DOB, policy_number)
    return sender, channel


def someone_else(name: str) -> str:
    other = next(c for c in CUSTOMERS if c["name"] != name)
    return other["policies"][0]["number"]


@pytest.mark.parametrize("owner, policy", POLICIES, ids=[p["number"] for _, p in POLICIES])
def test_a_customer_verified_as_someone_else_gets_no_balance(owner: str, policy: Dict[str, Any]) -> None:
    other = someone_else(owner)

    def ask(number: str) -> str:
        sender, channel = verified_as(other)
        t = tracker(sender, channel, f"balance on {number}", "check_balance", {"policy_number": number})
        return run(ActionCheckBalance(), t)[0]

    reply = same_for_a_made_up_number(ask, policy["number"], MADE_UP_POLICY)
    assert_reveals_nothing(reply, policy["number"])


@pytest.mark.parametrize("claim", CLAIMS, ids=[c["reference"] for c in CLAIMS])
def test_a_customer_verified_as_someone_else_gets_no_claim_progress(claim: Dict[str, Any]) -> None:
    owner = next(c["name"] for c in CUSTOMERS for p in c["policies"] if p["number"] == claim["policy"])
    other = someone_else(owner)

    def ask(number: str) -> str:
        sender, channel = verified_as(other)
        t = tracker(sender, channel, f"status of {number}", "claim_status", {"claim_number": number})
        return " ".join(
            [validate(ValidateClaimStatusForm(), "claim_number", number, t)[0], run(ActionClaimStatus(), t)[0]]
        )

    reply = same_for_a_made_up_number(ask, claim["reference"], MADE_UP_CLAIM)
    assert_reveals_nothing(reply, claim["reference"])


def test_the_checks_above_do_see_account_details_when_they_are_there() -> None:
    """The reply-checker itself: the policyholder, verified, gets exactly what it looks for."""
    sender, channel = verified_as("PX-88123")
    reply, _ = run(
        ActionCheckBalance(), tracker(sender, channel, "balance", "check_balance", {"policy_number": "PX-88123"})
    )
    with pytest.raises(AssertionError, match="money"):
        assert_reveals_nothing(reply, "PX-88123")
    t = tracker(sender, channel, "status of CL-204117", "claim_status", {"claim_number": "CL-204117"})
    with pytest.raises(AssertionError, match="Dana Price|adjuster|reviewed"):
        assert_reveals_nothing(run(ActionClaimStatus(), t)[0], "CL-204117")


# -- the real trained bot over REST --------------------------------------------------------------------


LIVE_TOKEN_SECRET = b"the-insurer-page-and-the-action-server-share-this"


@pytest.fixture(scope="module")
def live_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from runner.servers import Ports, ServerSet
    from tests.support.databases import migrated_sqlite
    from tests.support.network import free_port

    workdir: Path = tmp_path_factory.mktemp("account-details-live")
    url = migrated_sqlite(workdir / "coverline.db")
    servers = ServerSet(
        ports=Ports(rasa=free_port(), actions=free_port(), webchat=free_port()),
        db_url=url,
        log_dir=workdir,
        extra_env={"CUSTOMER_TOKEN_SECRET": LIVE_TOKEN_SECRET.decode()},
    )
    servers.start()
    try:
        servers.wait_ready(timeout=300)
    except Exception as error:
        servers.stop()
        logs = "\n".join(p.read_text()[-3000:] for p in workdir.glob("*.log"))
        raise RuntimeError(f"servers did not start:\n{logs}") from error
    yield servers
    servers.stop()


def ask_live(servers: Any, sender: str, text: str) -> str:
    from tests.support.servers import joined, say

    return joined(say(servers.rasa_url, sender, text))


@pytest.mark.needs_model
@pytest.mark.integration
def test_live_unverified_senders_get_no_account_detail(live_bot: Any) -> None:
    for _, policy in POLICIES:
        sender = f"rest-{uuid.uuid4().hex[:10]}"
        reply = ask_live(live_bot, sender, f"how much do I owe on {policy['number']}?")
        assert_reveals_nothing(reply, policy["number"])
        assert "date of birth" in reply
    for claim in CLAIMS:
        sender = f"rest-{uuid.uuid4().hex[:10]}"
        reply = ask_live(live_bot, sender, f"what's the status of claim {claim['reference']}?")
        assert_reveals_nothing(reply, claim["reference"])
        assert "confirm it's you" in reply


@pytest.mark.needs_model
@pytest.mark.integration
def test_live_verify_then_balance_and_others_numbers_refused(live_bot: Any) -> None:
    sender = f"rest-{uuid.uuid4().hex[:10]}"
    first = ask_live(live_bot, sender, "how much do I owe on PX-88123?")
    assert "date of birth" in first and "$" not in first
    wrong = ask_live(live_bot, sender, "07/04/1976")
    assert "doesn't match" in wrong and "1976" not in wrong and "$" not in wrong
    again = ask_live(live_bot, sender, "PX-88123")
    assert "date of birth" in again
    answer = ask_live(live_bot, sender, "03/14/1984")
    assert "confirmed" in answer and "$107.00" in answer and "1984" not in answer
    other = ask_live(live_bot, sender, "and how much do I owe on PX-77310?")
    made_up = ask_live(live_bot, sender, "and how much do I owe on PX-00042?")
    assert other.replace("PX-77310", "<n>") == made_up.replace("PX-00042", "<n>")
    assert_reveals_nothing(other, "PX-77310")


@pytest.mark.needs_model
@pytest.mark.integration
def test_live_three_wrong_dates_end_in_an_offer_of_a_person(live_bot: Any) -> None:
    sender = f"rest-{uuid.uuid4().hex[:10]}"
    ask_live(live_bot, sender, "status of claim CL-204117")
    replies: List[str] = []
    for wrong in ("01/01/1980", "02/02/1981", "03/03/1982"):
        replies.append(ask_live(live_bot, sender, "PX-88123"))
        replies.append(ask_live(live_bot, sender, wrong))
    last = replies[-1] or ""
    assert "call us at 1-800-555-0142" in last and "Dana Price" not in last
    after = ask_live(live_bot, sender, "03/14/1984")  # the right answer, too late
    assert_reveals_nothing(after, "CL-204117")


class LoggedInWebChatCustomer:
    """rasa-webchat on the insurer's logged-in page: customData carries the page's customer token."""

    def __init__(self, rasa_url: str, token_for: Any) -> None:
        from tests.support.servers import SocketCustomer

        self.socket = SocketCustomer(rasa_url)
        self.token = token_for(self.socket.conversation_id)

    def ask(self, text: str) -> str:
        socket = self.socket
        start = len(socket.received)
        data = {"language": "en", "customer_token": self.token}
        socket.client.emit("user_uttered", {"message": text, "session_id": socket.session_id, "customData": data})
        socket._wait(lambda: len(socket.received) > start, f"a reply to {text!r}", 60)
        settled = len(socket.received)
        while True:  # a turn may produce several messages
            time.sleep(1.0)
            if len(socket.received) == settled:
                return " ".join(m.get("text") or "" for m in socket.received[start:])
            settled = len(socket.received)


@pytest.mark.needs_model
@pytest.mark.integration
def test_live_web_chat_token_from_the_logged_in_page(live_bot: Any) -> None:
    with session_scope(live_bot.db_url) as s:
        maria = s.scalar(select(Policy.customer_id).where(Policy.number == "PX-88123"))
    soon = datetime.now(timezone.utc) + timedelta(minutes=15)

    signed_in = LoggedInWebChatCustomer(
        live_bot.rasa_url, lambda conversation: sign_customer_token(maria, soon, LIVE_TOKEN_SECRET, conversation)
    )
    try:
        answer = signed_in.ask("how much do I owe on PX-88123?")
    finally:
        signed_in.socket.close()
    assert "$107.00" in answer and "date of birth" not in answer

    forged = LoggedInWebChatCustomer(
        live_bot.rasa_url, lambda conversation: sign_customer_token(maria, soon, b"guessed-" * 6, conversation)
    )
    try:
        answer = forged.ask("how much do I owe on PX-88123?")
    finally:
        forged.socket.close()
    assert "date of birth" in answer and "$" not in answer


@pytest.mark.needs_model
@pytest.mark.integration
def test_live_no_more_offers_is_an_account_change_made_only_once_the_customer_is_verified(live_bot: Any) -> None:
    """Withdrawing marketing consent changes the account (every channel stops offering), so it waits for proof
    of who is asking; then it is done and audited. A WhatsApp-shaped sender, as the connector names them."""
    from actions.marketing_consent import AUDIT_ACTION, NEVER_GIVEN, WITHDRAWN
    from actions.past_replies import STOPPED_TEXT
    from storage.models import AuditEntry, Customer
    from tests.support.servers import say

    sender = f"whatsapp:1555{uuid.uuid4().int % 10**7:07d}"

    def chens_consent() -> Any:
        with session_scope(live_bot.db_url) as session:
            customer = session.scalars(select(Customer).join(Policy).where(Policy.number == "PX-51730")).one()
            return customer.marketing_consent_at

    assert chens_consent() is not None
    first = ask_live(live_bot, sender, "hey, can you stop sending me promotions? thanks")
    assert "confirm it's you" in first and chens_consent() is not None
    assert "date of birth" in ask_live(live_bot, sender, "PX-51730")
    done = ask_live(live_bot, sender, "11/23/1978")
    assert WITHDRAWN in done and chens_consent() is None
    with session_scope(live_bot.db_url) as session:
        audited = session.scalars(select(AuditEntry).where(AuditEntry.action == AUDIT_ACTION)).all()
    assert [entry.conversation_id for entry in audited] == [sender]

    [stopped] = say(live_bot.rasa_url, sender, "STOP")  # with no form running: the opt-out, one tap away
    assert stopped["text"] == STOPPED_TEXT
    again = joined_texts(say(live_bot.rasa_url, sender, stopped["buttons"][0]["payload"]))
    assert NEVER_GIVEN in again


@pytest.mark.needs_model
@pytest.mark.integration
def test_live_no_more_offers_in_the_middle_of_a_quote_is_honoured_and_the_quote_goes_on(live_bot: Any) -> None:
    """Halfway through a quote, "…and stop sending me promotional emails": a verified customer's consent goes at
    once and the quote carries on from its question; one not yet verified, halfway through a claim, is told how to
    ask once the claim is done, and the claim carries on. Through the live servers, WhatsApp-shaped senders."""
    from actions.marketing_consent import AFTER_THIS_FORM, AUDIT_ACTION, WITHDRAWN
    from storage.models import AuditEntry, Customer, utcnow

    def customer_of(session: Any, policy: str) -> Any:
        return session.scalars(select(Customer).join(Policy).where(Policy.number == policy)).one()

    with session_scope(live_bot.db_url) as session:  # PX-77310's customer agreed to offers on the web
        customer_of(session, "PX-77310").marketing_consent_at = utcnow()
        customer_of(session, "PX-77310").marketing_consent_source = "web form"

    sender = f"whatsapp:1555{uuid.uuid4().int % 10**7:07d}"
    assert "date of birth" in ask_live(live_bot, sender, "how much do I owe on PX-77310?")
    assert "$" in ask_live(live_bot, sender, "05/30/1989")  # verified: the balance
    assert "Which cover" in ask_live(live_bot, sender, "I'd like a quote please")
    assert "How old is the main driver?" in ask_live(live_bot, sender, "auto")
    honoured = ask_live(live_bot, sender, "oh and please stop sending me promotional emails")
    assert WITHDRAWN in honoured and honoured.endswith("How old is the main driver?")
    assert "Roughly what is the car worth" in ask_live(live_bot, sender, "34")  # the quote goes on
    with session_scope(live_bot.db_url) as session:
        assert customer_of(session, "PX-77310").marketing_consent_at is None
        audited = session.scalars(select(AuditEntry).where(AuditEntry.action == AUDIT_ACTION)).all()
        assert sender in [entry.conversation_id for entry in audited]

    stranger = f"whatsapp:1555{uuid.uuid4().int % 10**7:07d}"
    asked = ask_live(live_bot, stranger, "I want to file a claim")
    told = ask_live(live_bot, stranger, "unsubscribe")
    assert AFTER_THIS_FORM in told and told.endswith(asked)  # the claim's question again, nothing taken as its answer


def joined_texts(replies: List[Dict[str, Any]]) -> str:
    return " ".join(r.get("text") or "" for r in replies)
