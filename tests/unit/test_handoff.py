"""Handoff to people: triggers, Escalation rows, priorities, the customer's message, pause and resume.

Actions run with rasa-sdk's CollectingDispatcher and a built Tracker against a real migrated SQLite
database (conftest `sqlite_url`); clocks are fixed so opening hours do not make the tests flaky.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.handoff import (
    FRUSTRATION_RISING,
    HANDOFF_SIGNAL_SLOT,
    NEGATIVE_SENTIMENT,
    REPEATED_FALLBACK,
    UPSET_AFTER_FAILURE,
    ActionEscalate,
    ActionReadHandoffSignal,
    ActionSessionStart,
    Handoff,
    escalation_priority,
    handoff_signal,
    negative_threshold,
    sla_minutes,
    what_happens_next,
)
from actions.service_hours import ServiceHours
from settings import SettingsError
from storage.engine import session_scope
from storage.models import Conversation, Escalation
from storage.settings import PROJECT_ROOT

pytestmark = pytest.mark.usefixtures("sqlite_url")

THRESHOLD_ENV = "COVERLINE_HANDOFF_NEGATIVE_THRESHOLD"
SHIPPED_THRESHOLD = 0.75  # docs/handoff.md: chosen on the held-out set

# Monday 2026-11-23 10:00 in New York (EST): the service team is at work
OPEN = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
# Thursday 2026-11-26 21:00 in New York: closed until Friday 8am
THURSDAY_NIGHT = datetime(2026, 11, 27, 2, 0, tzinfo=timezone.utc)
# Saturday 2026-11-28 15:00 in New York: closed (Sat 9am-2pm) until Monday 8am
SATURDAY_AFTERNOON = datetime(2026, 11, 28, 20, 0, tzinfo=timezone.utc)

ANGRY = {"label": "negative", "confidence": 0.96}
CALM = {"label": "neutral", "confidence": 0.9}


def sender() -> str:
    return f"handoff-{uuid.uuid4().hex[:10]}"


def user(text: str, intent: str, sentiment: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    parse = {"intent": {"name": intent, "confidence": 0.9}, "entities": [], "text": text}
    if sentiment is not None:
        parse["sentiment"] = sentiment
    return {"event": "user", "text": text, "parse_data": parse, "input_channel": "rest"}


def bot(text: str, answer_source: str) -> Dict[str, Any]:
    return {"event": "bot", "text": text, "metadata": {"answer_source": answer_source}}


def tracker(
    text: str,
    intent: str,
    sentiment: Optional[Dict[str, Any]] = None,
    history: Optional[List[Dict[str, Any]]] = None,
    slots: Optional[Dict[str, Any]] = None,
    sender_id: Optional[str] = None,
) -> Tracker:
    """A tracker whose newest event is the customer's message, as Rasa sends it to the action server."""
    latest = user(text, intent, sentiment)
    events = (history or []) + [latest]
    return Tracker(sender_id or sender(), slots or {}, latest["parse_data"], events, False, None, None, "action_listen")


def escalate(t: Tracker, now: datetime = OPEN):
    action = ActionEscalate()
    action.clock = lambda: now
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    return dispatcher, events


def said(dispatcher: CollectingDispatcher) -> str:
    return " ".join(m.get("text") or "" for m in dispatcher.messages)


def escalations(conversation_id: str) -> List[Escalation]:
    with session_scope() as s:
        return list(s.scalars(select(Escalation).where(Escalation.conversation_id == conversation_id)))


def status(conversation_id: str) -> str:
    with session_scope() as s:
        return s.get(Conversation, conversation_id).status


# -- each trigger: one escalation, the right reason and priority, paused, escalated -------------------

FALLBACK_HISTORY = [user("blorp fnarg", "nlu_fallback"), bot("Sorry, I didn't quite catch that.", "fallback")]


def scored(negative: float) -> Dict[str, Any]:
    """A sentiment as the model reports it: every label's probability, the top one as the label."""
    scores = {"negative": negative, "neutral": round(1 - negative - 0.05, 4), "positive": 0.05}
    label = max(scores, key=scores.get)
    return {"label": label, "confidence": scores[label], "scores": scores}


# upset, but no single message crosses the 0.9 threshold
UPSET = scored(0.73)
UPSET_HISTORY = [user("where is my claim?", "claim_status", scored(0.71)), bot("It is being reviewed.", "action")]


@pytest.mark.parametrize(
    "text, intent, sentiment, history, reason, priority",
    [
        ("can I talk to a real person please", "request_human", CALM, [], "customer_request", 2),
        ("I want to make a formal complaint", "complaint", CALM, [], "complaint", 1),
        ("this is a disgrace, three weeks and no call back", "claim_status", ANGRY, [], "negative_sentiment", 1),
        ("zzzz qqq", "nlu_fallback", CALM, FALLBACK_HISTORY, "fallback", 3),
        ("get me a human NOW, this is useless", "request_human", ANGRY, [], "customer_request", 1),
        ("that's not what I asked", "deny", UPSET, FALLBACK_HISTORY, UPSET_AFTER_FAILURE, 2),
        ("still no answer about my claim", "claim_status", UPSET, UPSET_HISTORY, FRUSTRATION_RISING, 1),
    ],
)
def test_each_trigger_records_one_escalation_and_pauses(
    text: str, intent: str, sentiment: dict, history: list, reason: str, priority: int
) -> None:
    t = tracker(text, intent, sentiment, history)
    dispatcher, events = escalate(t)
    [escalation] = escalations(t.sender_id)
    assert (escalation.reason, escalation.priority, escalation.open, escalation.note) == (reason, priority, True, text)
    assert status(t.sender_id) == "escalated"
    assert [e["event"] for e in events] == ["pause", "action"] and events[1]["name"] == "action_listen"
    assert dispatcher.messages[0]["answer_source"] == "handoff"


def test_the_customer_is_told_who_replies_where_and_how_soon() -> None:
    dispatcher, _ = escalate(tracker("I want to make a formal complaint", "complaint", CALM))
    text = said(dispatcher)
    assert "complaint" in text and "reply right here in this chat" in text
    assert "usually within 5 minutes" in text  # priority 1 → the inbox's 5-minute SLA
    assert "keep writing here" in text and "1-800-555-0142" in text


def test_outside_opening_hours_the_customer_learns_when_people_are_back() -> None:
    dispatcher, _ = escalate(tracker("can I talk to a person", "request_human", CALM), now=SATURDAY_AFTERNOON)
    text = said(dispatcher)
    assert "away right now" in text and "on Monday at 8am ET" in text and "in this chat" in text
    assert "1-800-555-0199" in text and "1-800-555-0177" in text  # the 24/7 claims and roadside lines


def test_a_second_trigger_while_people_have_it_adds_no_escalation_but_can_raise_its_priority() -> None:
    conversation = sender()
    escalate(tracker("zzzz qqq", "nlu_fallback", CALM, FALLBACK_HISTORY, sender_id=conversation))
    dispatcher, events = escalate(tracker("this is ridiculous!!", "claim_status", ANGRY, sender_id=conversation))
    [escalation] = escalations(conversation)
    assert (escalation.reason, escalation.priority) == ("fallback", 1)  # first reason kept, most urgent level
    assert "already has your conversation" in said(dispatcher)
    assert [e["event"] for e in events] == ["pause", "action"] and events[1]["name"] == "action_listen"


def test_an_agent_working_the_conversation_keeps_it() -> None:
    conversation = sender()
    escalate(tracker("a person please", "request_human", CALM, sender_id=conversation))
    with session_scope() as s:
        s.get(Conversation, conversation).status = "open"
    escalate(tracker("a person please", "request_human", CALM, sender_id=conversation))
    assert status(conversation) == "open" and len(escalations(conversation)) == 1


def test_a_customer_back_within_two_weeks_is_more_urgent() -> None:
    first, second = sender(), sender()
    escalate(tracker("a person please", "request_human", CALM, sender_id=first))
    with session_scope() as s:
        s.get(Conversation, first).customer_identity = "customer-42"
        for escalation in s.scalars(select(Escalation).where(Escalation.conversation_id == first)):
            escalation.open = False
        s.add(Conversation(id=second, channel="rest", customer_identity="customer-42"))
    escalate(tracker("a person please", "request_human", CALM, sender_id=second))
    assert [e.priority for e in escalations(second)] == [1]


# -- the threshold and the priority table -----------------------------------------------------------


def test_negative_threshold_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(THRESHOLD_ENV, raising=False)
    assert negative_threshold() == SHIPPED_THRESHOLD == 0.75
    sentiment = {"label": "negative", "confidence": 0.93}
    assert handoff_signal({"sentiment": sentiment}, []) == NEGATIVE_SENTIMENT
    monkeypatch.setenv(THRESHOLD_ENV, "0.95")
    assert negative_threshold() == 0.95 and handoff_signal({"sentiment": sentiment}, []) is None


def test_sentiment_handoff_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """For a sentiment head trained on too few labels (README): even a certain 'negative' stays with the bot
    and does not raise an escalation's priority (complaints hand off by intent, in the rules)."""
    monkeypatch.setenv(THRESHOLD_ENV, "off")
    certain = {"label": "negative", "confidence": 1.0}
    assert handoff_signal({"sentiment": certain}, []) is None
    assert escalation_priority("fallback", certain) == escalation_priority("fallback", None)


@pytest.mark.parametrize("raw", ["high", "0", "1.5", "-0.2"])
def test_a_bad_threshold_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    """One failure rule for every setting: the action server stops at start-up (settings.load_at_startup)
    rather than run with a threshold nobody chose."""
    monkeypatch.setenv(THRESHOLD_ENV, raw)
    with pytest.raises(SettingsError, match=THRESHOLD_ENV):
        negative_threshold()


def test_the_promised_wait_follows_the_inbox_sla(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOX_SLA_MINUTES", "1:10,2:30,3:120")
    assert sla_minutes() == {1: 10, 2: 30, 3: 120}
    text = what_happens_next(Handoff("fallback", 3, new=True), OPEN)
    assert "usually within 2 hours" in text
    monkeypatch.setenv("INBOX_SLA_MINUTES", "garbage")
    with pytest.raises(SettingsError, match="INBOX_SLA_MINUTES"):
        sla_minutes()


@pytest.mark.parametrize(
    "reason, sentiment, repeat, expected",
    [
        ("complaint", CALM, False, 1),
        ("negative_sentiment", ANGRY, False, 1),
        ("customer_request", CALM, False, 2),
        ("customer_request", {"label": "negative", "confidence": 0.6}, False, 2),  # mildly cross: no bump
        ("customer_request", ANGRY, False, 1),
        ("customer_request", CALM, True, 1),
        ("fallback", CALM, False, 3),
        ("fallback", CALM, True, 2),
        ("fallback", ANGRY, True, 1),
    ],
)
def test_escalation_priority(reason: str, sentiment: dict, repeat: bool, expected: int) -> None:
    assert escalation_priority(reason, sentiment, repeat, threshold=0.9) == expected


# -- the handoff_signal slot, filled on every message -------------------------------------------------


@pytest.mark.parametrize(
    "message, history, expected",
    [
        ({"intent": {"name": "claim_status"}, "sentiment": ANGRY}, [], NEGATIVE_SENTIMENT),
        ({"intent": {"name": "file_claim"}, "sentiment": {"label": "negative", "confidence": 0.7}}, [], None),
        ({"intent": {"name": "nlu_fallback"}, "sentiment": CALM}, FALLBACK_HISTORY, REPEATED_FALLBACK),
        ({"intent": {"name": "nlu_fallback"}, "sentiment": ANGRY}, FALLBACK_HISTORY, NEGATIVE_SENTIMENT),
        # the NLU's out-of-scope floor: unclear messages arrive as out_of_scope as often as nlu_fallback
        ({"intent": {"name": "out_of_scope"}}, FALLBACK_HISTORY, REPEATED_FALLBACK),
        # a far-off question answered with "I can only help with insurance" is an answer, not a miss
        ({"intent": {"name": "out_of_scope"}}, [user("banana bread?", "out_of_scope"), bot("No", "template")], None),
        # the first miss: the bot has not fallen back yet
        ({"intent": {"name": "nlu_fallback"}}, [], None),
        # the previous unclear message was answered from past replies: not a miss
        ({"intent": {"name": "nlu_fallback"}}, [user("blorp", "nlu_fallback"), bot("Our team...", "retrieval")], None),
        # after a hand back the last reply is an agent's, so a misunderstanding starts the count afresh
        ({"intent": {"name": "nlu_fallback"}}, FALLBACK_HISTORY + [bot("Hi, Sam here", "agent")], None),
        # no sentiment at all (a model without the sentiment head): never a sentiment handoff
        ({"intent": {"name": "claim_status"}}, [], None),
        # the conversation, not one message: upset right after the bot failed to understand
        ({"intent": {"name": "deny"}, "sentiment": UPSET}, FALLBACK_HISTORY, UPSET_AFTER_FAILURE),
        # ... a second upset message in a row, no calmer than the first
        ({"intent": {"name": "claim_status"}, "sentiment": UPSET}, UPSET_HISTORY, FRUSTRATION_RISING),
        # ... but one upset message alone, or one calming down, stays with the bot
        ({"intent": {"name": "claim_status"}, "sentiment": UPSET}, [], None),
        ({"intent": {"name": "claim_status"}, "sentiment": scored(0.71)}, [user("?!", "deny", scored(0.74))], None),
        ({"intent": {"name": "claim_status"}, "sentiment": scored(0.3)}, UPSET_HISTORY, None),
        # a hand back starts afresh: what was said before the person took over does not count
        (
            {"intent": {"name": "claim_status"}, "sentiment": UPSET},
            UPSET_HISTORY + [{"event": "action", "name": "action_escalate"}, {"event": "resume"}],
            None,
        ),
        # a model that reports only its top label: a negative top label's confidence is its score
        (
            {"intent": {"name": "deny"}, "sentiment": {"label": "negative", "confidence": 0.7}},
            FALLBACK_HISTORY,
            UPSET_AFTER_FAILURE,
        ),
    ],
)
def test_handoff_signal(message: dict, history: list, expected: Optional[str]) -> None:
    events = history + [{"event": "user", "parse_data": message}]
    assert handoff_signal(message, events, threshold=0.9) == expected


STALE_CARD = '/dismiss_content{"content_impression": 99}'


def typed(original: str, intent: str, sentiment: Dict[str, Any]) -> Dict[str, Any]:
    """A message as the doors hand it to Rasa when `original` was not a button on offer: the slash gone, the
    original in the trusted metadata (bot/channels/untrusted.py)."""
    return {
        "intent": {"name": intent},
        "sentiment": sentiment,
        "text": original.lstrip("/"),
        "metadata": {"original_text": original},
    }


@pytest.mark.parametrize(
    "message, expected",
    [
        # a stale card's "Not for me", or anyone typing a payload: machine-shaped text, no feelings in it
        (typed(STALE_CARD, "nlu_fallback", ANGRY), None),
        (typed('/inform{"policy_number": "PX-77310"}', "inform", ANGRY), None),
        (typed("/restart", "out_of_scope", ANGRY), None),
        # but words after a slash are the customer's words, and their anger counts
        (typed("/ this is ridiculous, three weeks and nothing!!", "claim_status", ANGRY), NEGATIVE_SENTIMENT),
        (typed("//why won't you answer me", "claim_status", ANGRY), NEGATIVE_SENTIMENT),
        # the same words without the metadata (typed without a slash) are read as ever
        ({"intent": {"name": "nlu_fallback"}, "sentiment": ANGRY, "text": STALE_CARD.lstrip("/")}, NEGATIVE_SENTIMENT),
    ],
)
def test_an_unoffered_payload_read_as_words_never_hands_over_on_its_sentiment(message: dict, expected: Any) -> None:
    events = [{"event": "user", "parse_data": message, "metadata": message.get("metadata")}]
    assert handoff_signal(message, events, threshold=0.9) == expected


def test_an_unoffered_payload_does_not_count_as_an_earlier_upset_message() -> None:
    earlier = typed(STALE_CARD, "nlu_fallback", scored(0.8))
    history = [{"event": "user", "parse_data": earlier, "metadata": earlier["metadata"]}, bot("Hm?", "action")]
    latest = {"intent": {"name": "claim_status"}, "sentiment": scored(0.8)}
    assert handoff_signal(latest, history + [{"event": "user", "parse_data": latest}], threshold=0.9) is None
    words = {"intent": {"name": "claim_status"}, "sentiment": scored(0.8)}  # the same, said in words
    history = [{"event": "user", "parse_data": words}, bot("Hm?", "action")]
    assert handoff_signal(latest, history + [{"event": "user", "parse_data": latest}], threshold=0.9) is not None


def read_signal(t: Tracker) -> list:
    return asyncio.run(ActionReadHandoffSignal().run(CollectingDispatcher(), t, {}))


def test_the_slot_is_set_for_an_angry_message_and_cleared_by_the_next_calm_one() -> None:
    angry = read_signal(tracker("this is a disgrace", "claim_status", ANGRY))
    assert angry == [{"event": "slot", "timestamp": None, "name": HANDOFF_SIGNAL_SLOT, "value": NEGATIVE_SENTIMENT}]
    # e.g. the first message after a hand back: the stale value from before the pause is cleared
    calm = read_signal(tracker("what's my balance?", "check_balance", CALM, slots={HANDOFF_SIGNAL_SLOT: "x"}))
    assert calm == [{"event": "slot", "timestamp": None, "name": HANDOFF_SIGNAL_SLOT, "value": None}]
    # a conversation-level signal sets the same value, so the same rules hand over
    rising = read_signal(tracker("still nothing??", "claim_status", UPSET, UPSET_HISTORY))
    assert rising == [{"event": "slot", "timestamp": None, "name": HANDOFF_SIGNAL_SLOT, "value": NEGATIVE_SENTIMENT}]
    # an ordinary turn adds no event at all, so conversations without a handoff look as before
    assert read_signal(tracker("what's my balance?", "check_balance", CALM)) == []


# -- pause across a session expiry --------------------------------------------------------------------


def session_start(conversation: str, domain: Optional[dict] = None) -> List[str]:
    t = Tracker(conversation, {}, {}, [], False, None, None, "action_listen")
    events = asyncio.run(ActionSessionStart().run(CollectingDispatcher(), t, domain or {}))
    return [e["event"] for e in events]


def test_a_new_session_stays_paused_while_people_have_the_conversation() -> None:
    conversation = sender()
    assert session_start(conversation) == ["session_started", "action"]
    escalate(tracker("a person please", "request_human", CALM, sender_id=conversation))
    assert session_start(conversation) == ["session_started", "pause", "action"]
    with session_scope() as s:  # the inbox hands back: escalation closed, the conversation the bot's again
        for escalation in s.scalars(select(Escalation).where(Escalation.conversation_id == conversation)):
            escalation.open = False
        s.get(Conversation, conversation).status = "pending"
    assert session_start(conversation) == ["session_started", "action"]
    with session_scope() as s:  # an agent took it over from the inbox without an escalation
        s.get(Conversation, conversation).status = "open"
    assert session_start(conversation) == ["session_started", "pause", "action"]


# -- opening hours --------------------------------------------------------------------------------------


def test_service_hours_are_read_from_the_fact_sheet_text() -> None:
    hours = ServiceHours.parse("Mon-Fri 8am-8pm ET, Sat 9am-2pm ET; claims and roadside 24/7")
    assert hours.by_weekday == {d: (480, 1200) for d in range(5)} | {5: (540, 840)}
    assert hours.is_open(OPEN) and not hours.is_open(THURSDAY_NIGHT) and not hours.is_open(SATURDAY_AFTERNOON)
    assert hours.next_opening(THURSDAY_NIGHT) == datetime(2026, 11, 27, 13, 0, tzinfo=timezone.utc)
    assert hours.next_opening(SATURDAY_AFTERNOON) - SATURDAY_AFTERNOON == timedelta(hours=41)
    assert not ServiceHours.parse("whenever we feel like it").known


def test_thursday_night_promises_tomorrow_morning() -> None:
    text = what_happens_next(Handoff("customer_request", 2, new=True), THURSDAY_NIGHT)
    assert "tomorrow at 8am ET" in text


# -- the threshold against the trained model ------------------------------------------------------------


@pytest.mark.needs_model
def test_the_default_threshold_separates_anger_from_bad_news() -> None:
    """The two messages the threshold was chosen on, through the real NLU pipeline."""
    from rasa.core.agent import Agent

    from tests.support.paths import MODEL

    agent = Agent.load(str(MODEL))
    angry = asyncio.run(agent.parse_message("this is a disgrace, three weeks and no call back"))
    calm = asyncio.run(agent.parse_message("my car was stolen, how do I claim"))
    assert handoff_signal(angry, [], threshold=SHIPPED_THRESHOLD) == NEGATIVE_SENTIMENT, angry["sentiment"]
    assert handoff_signal(calm, [], threshold=SHIPPED_THRESHOLD) is None, calm["sentiment"]


# -- the rules cover every intent ---------------------------------------------------------------------


def _rules(path: str) -> list:
    return yaml.safe_load((PROJECT_ROOT / path).read_text())["rules"]


def test_every_intent_has_an_angry_rule_that_answers_like_the_calm_one() -> None:
    """A new intent without an angry rule would silently ignore angry customers who use it."""
    intents = set(yaml.safe_load((PROJECT_ROOT / "bot/domain/core.yml").read_text())["intents"])
    calm_answer = {
        rule["steps"][0]["intent"]: rule["steps"][1]["action"]
        for rule in _rules("bot/data/rules.yml")
        if "condition" not in rule and len(rule["steps"]) == 2 and "intent" in rule["steps"][0]
    }
    angry = {}
    for rule in _rules("bot/data/handoff.yml"):
        intent, signal, *actions = rule["steps"]
        if signal["slot_was_set"][0]["handoff_signal"] == NEGATIVE_SENTIMENT:
            angry[intent["intent"]] = [step["action"] for step in actions if "action" in step]
    # request_human and complaint hand off whatever the sentiment; nlu_fallback is not a domain intent;
    # share_attachment and dismiss_content only ever arrive as payloads (media without words, a "not for me"
    # button), which carry no sentiment
    payload_only = {"share_attachment", "dismiss_content"}
    assert set(angry) == (intents | {"nlu_fallback"}) - {"request_human", "complaint"} - payload_only
    # an angry "stop spamming me" asks for what the calm one does, and a person would be one more unwanted message
    honoured_at_once = {"opt_out_marketing": ["action_opt_out_marketing"]}
    for intent, actions in angry.items():
        if intent in honoured_at_once:
            assert actions == honoured_at_once[intent], intent
            continue
        assert actions[-1] == "action_escalate", intent
        if len(actions) == 2:  # answer first: the same answer a calm customer gets
            assert actions[0] == calm_answer[intent] and actions[0].startswith("utter_"), intent


def test_opening_hours_follow_daylight_saving_time() -> None:
    hours = ServiceHours.parse("Mon-Fri 8am-8pm ET, Sat 9am-2pm ET")
    summer_opening = datetime(2026, 7, 6, 12, 0, tzinfo=timezone.utc)  # Monday 8am EDT (UTC-4)
    winter_opening = datetime(2026, 1, 5, 13, 0, tzinfo=timezone.utc)  # Monday 8am EST (UTC-5)
    assert hours.is_open(summer_opening) and not hours.is_open(summer_opening - timedelta(minutes=1))
    assert hours.is_open(winter_opening) and not hours.is_open(winter_opening - timedelta(minutes=1))
