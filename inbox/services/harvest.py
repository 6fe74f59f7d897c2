"""Harvested agents' replies in the inbox: learning/harvest.py's proposals, with the audit entry beside
every decision and its refusals turned into the inbox's 4xx errors."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional

from sqlalchemy.orm import Session

from inbox.errors import Conflict, InvalidInput, NotFound
from inbox.services import audit
from inbox.services.review import _aware
from learning import harvest
from learning.harvest import AlreadyDecided, HarvestError, ProposalNotFound
from storage.models import Agent

logger = logging.getLogger(__name__)


@contextmanager
def _refusals_as_http(db: Session) -> Iterator[None]:
    try:
        yield
    except ProposalNotFound as error:
        db.rollback()
        raise NotFound(str(error)) from error
    except AlreadyDecided as error:
        db.rollback()
        raise Conflict(str(error)) from error
    except HarvestError as error:
        db.rollback()
        raise InvalidInput(str(error)) from error


def propose_after_resolve(db: Session, conversation_id: str) -> None:
    """Called by the resolve, in its transaction. A failure to propose is logged and costs only the
    proposal (a savepoint): the resolve itself, already agreed with Rasa, must still be committed."""
    try:
        with db.begin_nested():
            harvest.propose(db, conversation_id)
    except Exception:
        logger.exception("could not propose the agents' replies of %s as a past reply", conversation_id)


def list_proposals(db: Session, status: Optional[str], limit: int) -> List[Dict[str, Any]]:
    with _refusals_as_http(db):
        return _aware(harvest.list_proposals(db, status, limit))


def approve(
    db: Session,
    agent: Agent,
    proposal_id: int,
    question: Optional[str],
    reply: Optional[str],
    product_line: Optional[str],
    ip: Optional[str],
) -> Dict[str, Any]:
    with _refusals_as_http(db):
        proposal = harvest.approve(db, proposal_id, agent.id, question, reply, product_line)
    detail = {"proposal_id": proposal.id, "past_reply_id": proposal.past_reply_id, "edited": proposal.edited}
    audit.record(
        db, "reply_proposal_approved", agent_id=agent.id, conversation_id=proposal.conversation_id, detail=detail, ip=ip
    )
    db.commit()
    return _aware(harvest.view(db, proposal))


def reject(db: Session, agent: Agent, proposal_id: int, ip: Optional[str]) -> Dict[str, Any]:
    with _refusals_as_http(db):
        proposal = harvest.reject(db, proposal_id, agent.id)
    detail = {"proposal_id": proposal.id}
    audit.record(
        db, "reply_proposal_rejected", agent_id=agent.id, conversation_id=proposal.conversation_id, detail=detail, ip=ip
    )
    db.commit()
    return _aware(harvest.view(db, proposal))


def demoted(db: Session) -> List[Dict[str, Any]]:
    return _aware(harvest.demoted(db))
