"""Every move a conversation makes between statuses, and the only code that writes `Conversation.status`.

Who calls what:
- the action server: `escalate` (action_escalate);
- the Rasa server (or the action server under a plain `rasa run`): `new_session_stays_paused`;
- the inbox: `assign`, `take_over`, `hand_back`, `resolve` (each with Rasa's pause/resume);
- Rasa's event broker, through the projection: `start` (first sight) and `reopen` (the customer wrote again).

Each write is guarded: an UPDATE … WHERE the row is still what the caller checked (or, for the moves
that need no check, still in a status the move applies to), so two processes acting at once cannot both
win and a loser never overwrites silently. Moves that talk to Rasa end the transaction first (on SQLite an
open transaction would hold the write lock the broker needs to log the very reply being sent) and, if the
guarded write then loses, put Rasa's paused flag back in line with whatever status won.
"""

from __future__ import annotations

import logging
from typing import Any, Optional, Protocol, Tuple

from sqlalchemy import update
from sqlalchemy.orm import Session

from conversations.escalations import open_escalation, open_escalations
from conversations.status import WITH_PEOPLE, Status
from storage.engine import session_scope
from storage.models import Conversation, Escalation, utcnow

logger = logging.getLogger(__name__)

STALE = "Someone else changed this conversation just now; reload it and try again."


class TransitionRefused(Exception):
    """The move does not apply to the conversation's status; the message says why, for a person."""


class ConcurrentChange(TransitionRefused):
    """Someone else moved the conversation between our check and our write."""


class RasaControl(Protocol):
    """What the lifecycle needs from Rasa's HTTP API (inbox/rasa_client.py implements it)."""

    def pause(self, conversation_id: str) -> Any: ...

    def resume(self, conversation_id: str) -> Any: ...


def status_of(conversation: Conversation) -> Status:
    return Status(conversation.status)


# -- the guarded write --------------------------------------------------------------------------------


def _guarded_update(session: Session, conversation: Conversation, *conditions: Any, **values: Any) -> bool:
    """UPDATE the row WHERE `conditions` still hold; True if it did. Enum values are stored as their text."""
    stored = {key: (value.value if isinstance(value, Status) else value) for key, value in values.items()}
    result = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation.id, *conditions)
        .values(**stored)
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount == 1


def _unchanged(conversation: Conversation, status: Optional[str], assignee_id: Optional[int]) -> Tuple[Any, ...]:
    """Conditions: the status and the assignee are still what the caller saw."""
    assignee = Conversation.assignee_id.is_(None) if assignee_id is None else Conversation.assignee_id == assignee_id
    return (assignee,) if status is None else (Conversation.status == status, assignee)


def _compare_and_set(
    session: Session,
    conversation: Conversation,
    seen_status: Optional[str],
    seen_assignee: Optional[int],
    **values: Any,
) -> None:
    if not _guarded_update(session, conversation, *_unchanged(conversation, seen_status, seen_assignee), **values):
        session.rollback()
        raise ConcurrentChange(STALE)


def sync_rasa(session: Session, rasa: RasaControl, conversation_id: str) -> None:
    """Rasa paused exactly when people have the conversation, by its status as it is now."""
    session.rollback()
    conversation = session.get(Conversation, conversation_id, populate_existing=True)
    session.commit()
    if conversation is None:
        return
    if Status(conversation.status).with_people:
        rasa.pause(conversation_id)
    else:
        rasa.resume(conversation_id)


# -- the bot's side -----------------------------------------------------------------------------------


def new_conversation(conversation_id: str, channel: str, customer_identity: str) -> Conversation:
    """A conversation as first seen: the bot answers it."""
    return Conversation(
        id=conversation_id, channel=channel, customer_identity=customer_identity, status=Status.PENDING.value
    )


def escalate(
    session: Session, conversation: Conversation, reason: str, priority: int, note: str
) -> Tuple[Escalation, bool]:
    """The bot hands over: one open escalation per conversation (a second trigger only makes it more
    urgent, never less) and the status `escalated` unless people have it already. Returns the open
    escalation and whether it is new. Rasa's side is the `ConversationPaused` event action_escalate returns."""
    existing = open_escalation(session, conversation.id)
    if existing is not None:
        existing.priority = min(existing.priority, priority)
        escalation, new = existing, False
    else:
        escalation = Escalation(conversation_id=conversation.id, reason=reason, priority=priority, note=note[:1000])
        session.add(escalation)
        new = True
    not_with_people = Conversation.status.notin_([s.value for s in WITH_PEOPLE])
    _guarded_update(session, conversation, not_with_people, status=Status.ESCALATED)
    return escalation, new


def needs_people(session: Session, conversation_id: str) -> bool:
    """Whether a (new Rasa session of a) conversation must stay paused: people have it, or an escalation
    is still open."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is not None and Status(conversation.status).with_people:
        return True
    return open_escalation(session, conversation_id) is not None


def new_session_stays_paused(conversation_id: str, url: Optional[str] = None) -> bool:
    """`needs_people` in a session of its own, for a new Rasa session (the action server's
    `action_session_start`, and the Rasa server's in-process one). An unreachable database must not
    silence the bot, so it counts as not."""
    try:
        with session_scope(url, read_only=True) as session:  # on every new conversation: never wait for writers
            return needs_people(session, conversation_id)
    except Exception:
        logger.exception("open-escalation check failed for %s; the new session starts unpaused", conversation_id)
        return False


def reopen(session: Session, conversation: Conversation) -> bool:
    """The customer wrote again in a resolved conversation: back in the list, with the bot answering.
    Guarded on `resolved`, so it never undoes a take-over that landed first; a conversation this
    transaction already saw in another status costs no write."""
    if conversation.status != Status.RESOLVED.value:
        return False
    return _guarded_update(session, conversation, Conversation.status == Status.RESOLVED.value, status=Status.PENDING)


# -- people's side (the inbox) ------------------------------------------------------------------------


def _mark_assigned(session: Session, conversation_id: str) -> None:
    now = utcnow()
    for escalation in open_escalations(session, conversation_id):
        escalation.assigned_at = escalation.assigned_at or now


def _close_escalations(session: Session, conversation_id: str, outcome: str, agent_id: Optional[int]) -> None:
    now = utcnow()
    for escalation in open_escalations(session, conversation_id):
        escalation.open = False
        escalation.resolved_at = now
        escalation.outcome = outcome
        escalation.closed_by_id = agent_id


def assign(session: Session, conversation: Conversation, assignee_id: Optional[int]) -> None:
    """Give the conversation to an agent (or to nobody); the status does not change."""
    _compare_and_set(session, conversation, conversation.status, conversation.assignee_id, assignee_id=assignee_id)
    if assignee_id is not None:
        _mark_assigned(session, conversation.id)


def take_over(session: Session, rasa: RasaControl, conversation: Conversation, agent_id: int) -> Status:
    """The agent takes it, from any status, and the bot is paused; returns the status it had.

    Guarded on the assignee only: whether the customer's new message reopened a resolved conversation a
    moment earlier makes no difference to taking it over, but another agent taking it meanwhile does."""
    previous = status_of(conversation)
    if previous is Status.OPEN and conversation.assignee_id == agent_id:
        raise TransitionRefused("You have already taken this conversation over.")
    seen_assignee = conversation.assignee_id
    session.commit()
    rasa.pause(conversation.id)
    try:
        _compare_and_set(session, conversation, None, seen_assignee, status=Status.OPEN, assignee_id=agent_id)
    except ConcurrentChange:
        sync_rasa(session, rasa, conversation.id)
        raise
    _mark_assigned(session, conversation.id)
    return previous


def hand_back(session: Session, rasa: RasaControl, conversation: Conversation, agent_id: Optional[int]) -> None:
    """The bot answers again; the open escalation closes as handed back."""
    if not status_of(conversation).with_people:
        raise TransitionRefused(
            "Only a conversation with people (escalated or taken over) can be handed back to the bot."
        )
    seen = (conversation.status, conversation.assignee_id)
    session.commit()
    rasa.resume(conversation.id)
    try:
        _compare_and_set(session, conversation, *seen, status=Status.PENDING, assignee_id=None)
    except ConcurrentChange:
        sync_rasa(session, rasa, conversation.id)
        raise
    _close_escalations(session, conversation.id, "handed_back", agent_id)


def resolve(session: Session, rasa: RasaControl, conversation: Conversation, agent_id: Optional[int]) -> Status:
    """Close it; a paused bot is resumed so the customer's next message gets an answer, not silence.
    Returns the status it had."""
    previous = status_of(conversation)
    if previous is Status.RESOLVED:
        raise TransitionRefused("This conversation is already resolved.")
    seen = (conversation.status, conversation.assignee_id)
    session.commit()
    if previous.with_people:
        rasa.resume(conversation.id)
    try:
        _compare_and_set(session, conversation, *seen, status=Status.RESOLVED)
    except ConcurrentChange:
        sync_rasa(session, rasa, conversation.id)
        raise
    _close_escalations(session, conversation.id, "resolved", agent_id)
    return previous
