"""What agents do to a conversation: assign, take over, reply, hand back, resolve, note.

Who may do it (ownership, roles) and the audit trail are decided here; the move itself, with Rasa's
pause/resume and the guard against a concurrent change, is conversations/lifecycle.py's. Order in each
action: check the state, end the transaction, call Rasa, then change our rows (only if nobody else changed
them meanwhile) and audit in one commit. If Rasa refuses, nothing here changes and the agent
sees why (502). No transaction stays open during the HTTP call: on SQLite it would hold the write lock that
Rasa's event broker needs to log the very reply we are sending.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional

from sqlalchemy.orm import Session

from conversations import lifecycle
from conversations.lifecycle import TransitionRefused
from conversations.status import Status
from inbox.errors import Conflict, InvalidInput, PermissionDenied
from inbox.rasa_client import RasaClient
from inbox.services import audit, harvest
from inbox.services.agents import get_agent
from inbox.services.conversations import get_conversation, note_dict
from storage.models import Agent, Conversation, ConversationNote, utcnow

MAX_REPLY_LENGTH = 4000
MAX_NOTE_LENGTH = 10000
PUSHLESS_CHANNELS = frozenset({"rest"})


@contextmanager
def _moving(db: Session) -> Iterator[None]:
    """The lifecycle's refusals are the agent's 409s, with its words."""
    try:
        yield
    except TransitionRefused as refused:
        raise Conflict(str(refused)) from refused


def _owner_check(db: Session, conversation: Conversation, agent: Agent, doing: str) -> None:
    """One agent talks to a customer at a time (docs/inbox.md, Roles): a conversation another agent holds
    is theirs, whatever its status, until an admin reassigns it; only admins act on it meanwhile."""
    if conversation.assignee_id in (None, agent.id) or agent.role == "admin":
        return
    owner = db.get(Agent, conversation.assignee_id)
    raise PermissionDenied(
        f"{owner.name if owner else 'Another agent'} has this conversation: only an admin can {doing} "
        "another agent's conversation; ask an admin to reassign it to you."
    )


def assign(
    db: Session, agent: Agent, conversation_id: str, assignee_id: Optional[int], ip: Optional[str]
) -> Conversation:
    """Admins assign anyone; agents may only take an unassigned conversation themselves or give up their own."""
    conversation = get_conversation(db, conversation_id)
    if agent.role != "admin":
        if assignee_id not in (None, agent.id):
            raise PermissionDenied("Agents can only assign conversations to themselves.")
        _owner_check(db, conversation, agent, "assign or unassign")
    if assignee_id is not None:
        target = get_agent(db, assignee_id)
        if not target.active:
            raise Conflict(f"{target.name} is disabled and cannot be assigned.")
    with _moving(db):
        lifecycle.assign(db, conversation, assignee_id)  # nobody took it meanwhile
    audit.record(db, "assign", agent_id=agent.id, conversation_id=conversation_id, target_agent_id=assignee_id, ip=ip)
    db.commit()
    return conversation


def take_over(db: Session, rasa: RasaClient, agent: Agent, conversation_id: str, ip: Optional[str]) -> Conversation:
    """Assign to me and pause the bot, so only people answer until hand back."""
    conversation = get_conversation(db, conversation_id)
    _owner_check(db, conversation, agent, "take over")
    with _moving(db):
        previous = lifecycle.take_over(db, rasa, conversation, agent.id)
    detail = {"from": previous.value}
    audit.record(db, "take_over", agent_id=agent.id, conversation_id=conversation_id, detail=detail, ip=ip)
    db.commit()
    return conversation


def reply(db: Session, rasa: RasaClient, agent: Agent, conversation_id: str, text: str, ip: Optional[str]) -> bool:
    """Send through Rasa to the customer's channel; the event broker logs it (author=agent), we don't.

    Returns False when the channel cannot push (Rasa's REST channel answers only within a request): the
    reply is in the conversation but the customer only sees it if their client fetches the tracker."""
    text = text.strip()
    if not text:
        raise InvalidInput("The reply is empty.")
    if len(text) > MAX_REPLY_LENGTH:
        raise InvalidInput(f"The reply is longer than {MAX_REPLY_LENGTH} characters.")
    conversation = get_conversation(db, conversation_id)
    _owner_check(db, conversation, agent, "reply in")
    if conversation.status != Status.OPEN:
        raise Conflict("Take the conversation over before replying (the bot is still in charge of it).")
    db.commit()  # no transaction open during the HTTP call (see the module's docstring)
    rasa.send_agent_reply(conversation_id, text, agent.id, agent.name)
    audit.record(
        db, "reply", agent_id=agent.id, conversation_id=conversation_id, detail={"characters": len(text)}, ip=ip
    )
    db.commit()
    return conversation.channel not in PUSHLESS_CHANNELS


def hand_back(db: Session, rasa: RasaClient, agent: Agent, conversation_id: str, ip: Optional[str]) -> Conversation:
    """Resume the bot; the escalation closes as handed back and the conversation is the bot's again."""
    conversation = get_conversation(db, conversation_id)
    _owner_check(db, conversation, agent, "hand back")
    with _moving(db):
        lifecycle.hand_back(db, rasa, conversation, agent.id)
    audit.record(db, "hand_back", agent_id=agent.id, conversation_id=conversation_id, ip=ip)
    db.commit()
    return conversation


def resolve(db: Session, rasa: RasaClient, agent: Agent, conversation_id: str, ip: Optional[str]) -> Conversation:
    """Close it; a paused bot is resumed so the customer's next message gets an answer, not silence."""
    conversation = get_conversation(db, conversation_id)
    _owner_check(db, conversation, agent, "resolve")
    with _moving(db):
        previous = lifecycle.resolve(db, rasa, conversation, agent.id)
    detail = {"from": previous.value}
    audit.record(db, "resolve", agent_id=agent.id, conversation_id=conversation_id, detail=detail, ip=ip)
    harvest.propose_after_resolve(db, conversation_id)
    db.commit()
    return conversation


def add_note(db: Session, agent: Agent, conversation_id: str, body: str, ip: Optional[str]) -> Dict[str, Any]:
    body = body.strip()
    if not body:
        raise InvalidInput("The note is empty.")
    if len(body) > MAX_NOTE_LENGTH:
        raise InvalidInput(f"The note is longer than {MAX_NOTE_LENGTH} characters.")
    get_conversation(db, conversation_id)
    note = ConversationNote(conversation_id=conversation_id, agent_id=agent.id, body=body, created_at=utcnow())
    db.add(note)
    db.flush()
    audit.record(db, "note", agent_id=agent.id, conversation_id=conversation_id, detail={"note_id": note.id}, ip=ip)
    db.commit()
    return note_dict(note, agent.name)
