"""Two processes moving one conversation at the same moment end in one consistent state.

The race that matters in practice: a customer writes again in a resolved conversation (Rasa's event
broker reopens it) while an agent takes it over from the inbox. Whichever lands first, the agent must
hold it, Rasa must be paused (or the bot would talk over the agent), and the message must be logged once.
Real databases, real threads, 100 rounds each on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from typing import Callable, Dict, Iterator, List

import pytest
from sqlalchemy import func, select

from conversations import lifecycle
from conversations.projection import record_event
from conversations.status import Status
from storage.engine import dispose_engines, session_scope
from storage.migrate import upgrade
from storage.models import Agent, Conversation, Message
from tests.support.databases import migrated_sqlite

ROUNDS = 100


class RasaPauses:
    """Rasa's paused flag per conversation, as its HTTP API would leave it (last call wins)."""

    def __init__(self) -> None:
        self.paused: Dict[str, bool] = {}
        self._lock = threading.Lock()

    def pause(self, conversation_id: str) -> None:
        with self._lock:
            self.paused[conversation_id] = True

    def resume(self, conversation_id: str) -> None:
        with self._lock:
            self.paused[conversation_id] = False


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield migrated_sqlite(tmp_path / "race.db")
    else:
        url = request.getfixturevalue("fresh_postgres_url")
        upgrade(url)
        yield url
    dispose_engines()


def _agent(url: str) -> int:
    with session_scope(url) as s:
        agent = Agent(email="racer@harbor.example", name="Racer", role="agent", password_hash="x", active=True)
        s.add(agent)
        s.flush()
        return agent.id


def _resolved_conversation(url: str, conversation_id: str) -> None:
    with session_scope(url) as s:
        s.add(lifecycle.new_conversation(conversation_id, "whatsapp", conversation_id))
    with session_scope(url) as s:  # as an agent left it: resolved, nobody assigned
        s.get(Conversation, conversation_id).status = Status.RESOLVED.value


def _customer_writes(url: str, conversation_id: str, n: int) -> Callable[[], None]:
    event = {
        "sender_id": conversation_id,
        "event": "user",
        "timestamp": 1_800_000_000.0 + n,
        "text": "one more question about my claim",
        "input_channel": "whatsapp",
        "message_id": f"wamid.race{n:04d}",
        "parse_data": {"intent": {"name": "claim_status", "confidence": 0.9}, "entities": []},
    }

    def write() -> None:
        with session_scope(url) as s:
            record_event(s, event)

    return write


def _agent_takes_over(url: str, rasa: RasaPauses, conversation_id: str, agent_id: int) -> Callable[[], None]:
    def take() -> None:
        with session_scope(url) as s:
            lifecycle.take_over(s, rasa, s.get(Conversation, conversation_id), agent_id)

    return take


def _together(*work: Callable[[], None]) -> List[BaseException]:
    barrier = threading.Barrier(len(work))
    errors: List[BaseException] = []

    def run(job: Callable[[], None]) -> None:
        barrier.wait()
        try:
            job()
        except BaseException as error:  # noqa: B036 - reported below, with the round
            errors.append(error)

    threads = [threading.Thread(target=run, args=(job,)) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_reopen_and_take_over_racing_end_consistent(database: str) -> None:
    agent_id = _agent(database)
    rasa = RasaPauses()
    outcomes = set()
    for n in range(ROUNDS):
        conversation_id = f"whatsapp:1555000{n:04d}"
        _resolved_conversation(database, conversation_id)
        errors = _together(
            _customer_writes(database, conversation_id, n), _agent_takes_over(database, rasa, conversation_id, agent_id)
        )
        assert errors == [], f"round {n}: {errors!r}"
        with session_scope(database) as s:
            conversation = s.get(Conversation, conversation_id)
            logged = s.scalar(select(func.count(Message.id)).where(Message.conversation_id == conversation_id))
            state = (conversation.status, conversation.assignee_id, rasa.paused.get(conversation_id), logged)
        assert state == (Status.OPEN.value, agent_id, True, 1), f"round {n}"
        outcomes.add(state)
    assert len(outcomes) == 1


class PausesMeetingFirst(RasaPauses):
    """Rasa's API, where the two take-overs' first pause calls meet: each has read the conversation and
    ended its transaction (take_over pauses between its read and its guarded write), so both read it
    unassigned and both writes race, every round. Left to the scheduler the overlap came and went: once
    SQLite connections were pooled, one take-over often finished before the other had begun."""

    def __init__(self) -> None:
        super().__init__()
        self._meetings: Dict[str, threading.Barrier] = {}
        self._calls: Dict[str, int] = {}

    def pause(self, conversation_id: str) -> None:
        with self._lock:
            self._calls[conversation_id] = calls = self._calls.get(conversation_id, 0) + 1
            meeting = self._meetings.setdefault(conversation_id, threading.Barrier(2, timeout=10))
        if calls <= 2:  # the two take-overs' own pauses; the loser's later re-sync does not wait
            meeting.wait()
        super().pause(conversation_id)


def test_two_agents_taking_over_at_once_one_wins(database: str) -> None:
    """The guard's other job: when both read the conversation unassigned, the second write is refused (the
    inbox's 409) instead of silently replacing the first; one agent holds it and Rasa is paused. (A
    take-over that starts after the other finished sees the holder; the inbox's ownership check, not the
    lifecycle, decides whether it may take it from them.)"""
    first = _agent(database)
    with session_scope(database) as s:
        second = Agent(email="other@harbor.example", name="Other", role="agent", password_hash="x", active=True)
        s.add(second)
        s.flush()
        second_id = second.id
    rasa = PausesMeetingFirst()
    refused = 0
    for n in range(20):
        conversation_id = f"telegram:{9000 + n}"
        with session_scope(database) as s:
            s.add(lifecycle.new_conversation(conversation_id, "telegram", conversation_id))
        errors = _together(
            _agent_takes_over(database, rasa, conversation_id, first),
            _agent_takes_over(database, rasa, conversation_id, second_id),
        )
        with session_scope(database) as s:
            conversation = s.get(Conversation, conversation_id)
            holder = conversation.assignee_id
            status = conversation.status
        assert len(errors) <= 1 and all(isinstance(e, lifecycle.ConcurrentChange) for e in errors), f"{n}: {errors!r}"
        refused += len(errors)
        assert status == Status.OPEN.value and holder in (first, second_id) and rasa.paused[conversation_id]
    assert refused == 20, "both read it unassigned every round: one write in each must have been refused"
