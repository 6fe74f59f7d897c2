"""The Rasa server starts a session itself, with the same events the action server's override returns.

Each case moves a conversation (ids in the channels' real shapes) through the lifecycle on a real
database: new, escalated by the bot, handed back, taken over by an agent, resolved. At each step the
in-process `action_session_start` and the action server's must agree on whether the new session stays
paused, and Rasa's action lookup, once `install()` ran, must hand the processor the in-process one for
the project's domain (and Rasa's own for a domain that does not override it).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, List

import pytest
from rasa.core.actions.action import ActionSessionStart as RasaSessionStart
from rasa.core.channels import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionSessionStart as ActionServerSessionStart
from bot import in_process_session_start
from bot.in_process_session_start import SessionStartKeepingPeople
from conversations import lifecycle
from storage.engine import session_scope
from storage.models import Conversation
from storage.settings import PROJECT_ROOT


class Rasa:
    """The inbox's Rasa client, as the lifecycle needs it; the paused flag itself is not under test here."""

    def pause(self, conversation_id: str) -> None: ...

    def resume(self, conversation_id: str) -> None: ...


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "bot" / "domain"))


def in_process(conversation_id: str, domain: Domain) -> List[str]:
    tracker = DialogueStateTracker(conversation_id, domain.slots)
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    events = asyncio.run(SessionStartKeepingPeople().run(CollectingOutputChannel(), nlg, tracker, domain))
    return [event.as_dict()["event"] for event in events]


def on_action_server(conversation_id: str, domain: Domain) -> List[str]:
    tracker = Tracker(conversation_id, {}, {}, [], False, None, None, "action_listen")
    events = asyncio.run(ActionServerSessionStart().run(CollectingDispatcher(), tracker, domain.as_dict()))
    return [event["event"] for event in events]


def both(conversation_id: str, domain: Domain) -> List[str]:
    here, there = in_process(conversation_id, domain), on_action_server(conversation_id, domain)
    assert here == there, "the Rasa server and the action server disagree on the new session"
    return here


UNPAUSED = ["session_started", "action"]
PAUSED = ["session_started", "pause", "action"]


@pytest.mark.parametrize("prefix", ["whatsapp:1555000", "telegram:88", "messenger:2710", ""])
def test_a_new_session_stays_paused_exactly_while_people_have_the_conversation(
    sqlite_url: str, domain: Domain, prefix: str
) -> None:
    conversation_id = f"{prefix}{uuid.uuid4().int % 10**8}" if prefix else uuid.uuid4().hex
    assert both(conversation_id, domain) == UNPAUSED  # never seen: the bot answers

    with session_scope() as session:
        conversation = lifecycle.new_conversation(conversation_id, prefix.split(":")[0] or "socketio", "x")
        session.add(conversation)
        session.flush()
        lifecycle.escalate(session, conversation, "customer_request", 2, "a person please")
    assert both(conversation_id, domain) == PAUSED  # the bot handed over: people have it

    with session_scope() as session:
        lifecycle.hand_back(session, Rasa(), session.get(Conversation, conversation_id), None)
    assert both(conversation_id, domain) == UNPAUSED

    with session_scope() as session:
        lifecycle.take_over(session, Rasa(), session.get(Conversation, conversation_id), 1)
    assert both(conversation_id, domain) == PAUSED  # an agent took it without an escalation

    with session_scope() as session:
        lifecycle.resolve(session, Rasa(), session.get(Conversation, conversation_id), 1)
    assert both(conversation_id, domain) == UNPAUSED


def test_an_unreachable_database_does_not_silence_the_bot() -> None:
    assert not lifecycle.new_session_stays_paused("whatsapp:15550001111", "postgresql://nobody@127.0.0.1:9/none")


def test_the_sql_runs_off_the_event_loop(domain: Domain) -> None:
    seen: List[Any] = []

    def stays_paused(conversation_id: str) -> bool:
        try:
            asyncio.get_running_loop()
            seen.append("on the event loop")
        except RuntimeError:
            seen.append("in a worker thread")
        return True

    tracker = DialogueStateTracker("telegram:884422", domain.slots)
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    events = asyncio.run(SessionStartKeepingPeople(stays_paused).run(CollectingOutputChannel(), nlg, tracker, domain))
    assert [event.as_dict()["event"] for event in events] == PAUSED
    assert seen == ["in a worker thread"]


def test_rasa_looks_up_the_in_process_action_for_the_projects_domain(domain: Domain) -> None:
    import rasa.core.actions.action as rasa_actions

    original = rasa_actions.action_for_name_or_text
    try:
        in_process_session_start.install()
        in_process_session_start.install()  # twice (tests, reloads) wraps once
        lookup = rasa_actions.action_for_name_or_text
        assert isinstance(lookup("action_session_start", domain, None), SessionStartKeepingPeople)
        # everything else is Rasa's lookup, unchanged
        assert lookup("utter_greet", domain, None).name() == "utter_greet"
        assert type(lookup("action_escalate", domain, None)).__name__ == "RemoteAction"
        # a domain that does not override the session start keeps Rasa's own
        plain = Domain.from_dict({"intents": ["greet"], "responses": {"utter_greet": [{"text": "hi"}]}})
        assert type(lookup("action_session_start", plain, None)) is RasaSessionStart
    finally:
        rasa_actions.action_for_name_or_text = original
