"""Agents' replies to resolved handoffs, harvested as past replies the bot answers from (issue 15, item 4).

The loop: an agent resolves a handoff → `propose` (called by the inbox's resolve, in its transaction)
stores the customer's question and the agents' replies as a `ReplyProposal`, both redacted and with the
product line guessed → an agent approves (possibly editing), or rejects, in the inbox → `approve` creates a
`PastReply` (source "inbox", `embedding_model` NULL: not yet in any index) → each action server's answerer
adds it to its index at its next refresh (retrieval/service.py), without a rebuild or a restart.

What the question is: the customer's messages since the handoff began (after the previous handoff was
closed), up to the first agent reply; small talk and button payloads left out, the last
`QUESTION_MESSAGES` joined. Customers often restate their question while they wait for a person, and
the message that triggered the handoff is often only "let me talk to someone": both are handled by
taking the last few real messages rather than exactly one.

Redaction: `learning.redaction.redact` on both texts with the customer's name from their identity, since
an agent's reply names the customer, reads back their phone number and policy number. Policy and claim
numbers become "[policy number]" / "[claim number]" here (not redaction's synthetic numbers): the reply
will be said to other customers, and a realistic number that is not theirs would mislead them.
Edits at approval go through the same redaction.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from learning.redaction import names_from_identity, redact
from retrieval.corpus import MAX_QUESTION, MAX_REPLY, PRODUCT_LINES
from retrieval.feedback import WINDOW, apply_feedback, recent_counts
from retrieval.products import detect_product
from storage.models import Agent, AnswerFeedback, Conversation, Escalation, Message, PastReply, ReplyProposal, utcnow

__all__ = [
    "MAX_QUESTION",
    "MAX_REPLY",
    "PRODUCT_LINES",
    "apply_feedback",
    "approve",
    "demoted",
    "list_proposals",
    "propose",
    "reject",
]

STATUSES = ("proposed", "approved", "rejected")
QUESTION_MESSAGES = 3
# what a customer says around a handoff that is not the question itself
NOT_A_QUESTION = frozenset(
    {"greet", "goodbye", "affirm", "deny", "thank_you", "request_human", "bot_challenge", "share_attachment"}
)
SYNTHETIC_AS = {"policy_number": "[policy number]", "claim_number": "[claim number]"}


class HarvestError(Exception):
    """A request about proposals that cannot be served; the message says why, for a person."""


class ProposalNotFound(HarvestError):
    pass


class AlreadyDecided(HarvestError):
    pass


class InvalidEdit(HarvestError):
    pass


# -- redaction -----------------------------------------------------------------------------------------


def clean(text: str, names: Sequence[str]) -> str:
    """Personal data out, policy and claim numbers as placeholders, whitespace collapsed."""
    redaction = redact(" ".join(text.split()), names)
    out, position = [], 0
    for entity in sorted(redaction.entities, key=lambda e: e["start"]):
        out.append(redaction.text[position : entity["start"]])
        out.append(SYNTHETIC_AS.get(entity["entity"], entity["value"]))
        position = entity["end"]
    out.append(redaction.text[position:])
    return "".join(out)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# -- proposing -----------------------------------------------------------------------------------------


def _handoff_to_harvest(session: Session, conversation_id: str) -> Optional[Escalation]:
    """The escalation this resolve closed: the conversation's latest closed one, if closed as resolved and
    not proposed yet. An older handoff that had no agent reply is never looked at again."""
    latest = session.scalar(
        select(Escalation)
        .where(Escalation.conversation_id == conversation_id, Escalation.open.is_(False))
        .order_by(Escalation.resolved_at.desc(), Escalation.id.desc())
        .limit(1)
    )
    if latest is None or latest.outcome != "resolved":
        return None
    proposed = session.scalar(select(ReplyProposal.id).where(ReplyProposal.escalation_id == latest.id))
    return None if proposed is not None else latest


def _previous_close(session: Session, escalation: Escalation) -> Optional[Any]:
    """When the handoff before this one ended: messages before it belong to that one."""
    return session.scalar(
        select(func.max(Escalation.resolved_at)).where(
            Escalation.conversation_id == escalation.conversation_id,
            Escalation.id != escalation.id,
            Escalation.resolved_at.isnot(None),
            Escalation.resolved_at <= escalation.created_at,
        )
    )


def _question_messages(messages: List[Message], before_id: int) -> List[Message]:
    asked = [
        m
        for m in messages
        if m.author == "customer"
        and m.id < before_id
        and (m.text or "").strip()
        and not m.text.strip().startswith("/")
        and m.intent not in NOT_A_QUESTION
    ]
    return asked[-QUESTION_MESSAGES:]


def propose(session: Session, conversation_id: str) -> Optional[ReplyProposal]:
    """After a resolve: the handoff's question and the agents' replies as a proposal, or None when no agent
    replied (or the customer asked nothing we can tell). At most one per escalation. Called right at the
    resolve, so every logged message of the conversation since the previous handoff closed is this one's."""
    escalation = _handoff_to_harvest(session, conversation_id)
    conversation = session.get(Conversation, conversation_id)
    if escalation is None or conversation is None:
        return None
    query = select(Message).where(Message.conversation_id == conversation_id)
    since = _previous_close(session, escalation)
    if since is not None:
        query = query.where(Message.sent_at > since)
    messages = list(session.scalars(query.order_by(Message.sent_at, Message.id)))
    replies = [m for m in messages if m.author == "agent" and (m.text or "").strip()]
    if not replies:
        return None
    asked = _question_messages(messages, replies[0].id)
    if not asked:
        return None
    names = names_from_identity(conversation.customer_identity)
    question = _cut(clean(" ".join(m.text for m in asked), names), MAX_QUESTION)
    reply = _cut(clean(" ".join(m.text for m in replies), names), MAX_REPLY)
    proposal = ReplyProposal(
        conversation_id=conversation_id,
        escalation_id=escalation.id,
        question=question,
        reply=reply,
        product_line=detect_product(question) or detect_product(reply),
        source_message_ids={"question": [m.id for m in asked], "reply": [m.id for m in replies]},
        status="proposed",
        edited=False,
        created_at=utcnow(),
    )
    session.add(proposal)
    session.flush()
    return proposal


# -- deciding ------------------------------------------------------------------------------------------


def _undecided(session: Session, proposal_id: int) -> ReplyProposal:
    proposal = session.get(ReplyProposal, proposal_id)
    if proposal is None:
        raise ProposalNotFound(f"There is no reply proposal {proposal_id}.")
    if proposal.status != "proposed":
        raise AlreadyDecided(f"Reply proposal {proposal_id} was already {proposal.status}.")
    return proposal


def _edited_text(value: Optional[str], limit: int, what: str, names: Sequence[str]) -> Optional[str]:
    if value is None:
        return None
    if not value.strip():
        raise InvalidEdit(f"The {what} is empty.")
    if len(value) > limit:
        raise InvalidEdit(f"The {what} is longer than {limit} characters.")
    return clean(value, names)


def approve(
    session: Session,
    proposal_id: int,
    agent_id: int,
    question: Optional[str] = None,
    reply: Optional[str] = None,
    product_line: Optional[str] = None,
) -> ReplyProposal:
    """Accept (optionally edited: edits are redacted again) and create the past reply, pending indexing."""
    proposal = _undecided(session, proposal_id)
    conversation = session.get(Conversation, proposal.conversation_id)
    names = names_from_identity(conversation.customer_identity if conversation else None)
    new_question = _edited_text(question, MAX_QUESTION, "question", names)
    new_reply = _edited_text(reply, MAX_REPLY, "reply", names)
    if product_line is not None and product_line not in PRODUCT_LINES:
        raise InvalidEdit(f"Unknown product line {product_line!r}: one of {', '.join(sorted(PRODUCT_LINES))}.")
    for field, value in (("question", new_question), ("reply", new_reply), ("product_line", product_line)):
        if value is not None and value != getattr(proposal, field):
            setattr(proposal, field, value)
            proposal.edited = True
    _decide(session, proposal, "approved", agent_id)
    agent = session.get(Agent, agent_id)
    past_reply = PastReply(
        external_id=f"inbox-proposal-{proposal.id}",
        question=proposal.question,
        reply=proposal.reply,
        product_line=proposal.product_line,
        source="inbox",
        channel=conversation.channel if conversation else None,
        agent=agent.name if agent else None,
        created_at=utcnow(),
        imported_at=utcnow(),
        embedding_model=None,  # pending: the answerers add it at their next refresh
        active=True,
    )
    session.add(past_reply)
    session.flush()
    proposal.past_reply_id = past_reply.id
    session.flush()
    return proposal


def reject(session: Session, proposal_id: int, agent_id: int) -> ReplyProposal:
    proposal = _undecided(session, proposal_id)
    _decide(session, proposal, "rejected", agent_id)
    session.flush()
    return proposal


def _decide(session: Session, proposal: ReplyProposal, status: str, agent_id: int) -> None:
    """UPDATE … WHERE still proposed: of two agents deciding at once, the second is told, not overwritten."""
    result = session.execute(
        update(ReplyProposal)
        .where(ReplyProposal.id == proposal.id, ReplyProposal.status == "proposed")
        .values(status=status, decided_by_id=agent_id, decided_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    if result.rowcount != 1:
        session.rollback()
        raise AlreadyDecided(f"Reply proposal {proposal.id} was decided by someone else just now.")


# -- reading -------------------------------------------------------------------------------------------


def _names(session: Session, ids: Sequence[Optional[int]]) -> Dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {a.id: a.name for a in session.scalars(select(Agent).where(Agent.id.in_(wanted)))}


def proposal_view(proposal: ReplyProposal, names: Dict[int, str]) -> Dict[str, Any]:
    decided_by = None
    if proposal.decided_by_id is not None:
        decided_by = {"id": proposal.decided_by_id, "name": names.get(proposal.decided_by_id)}
    return {
        "id": proposal.id,
        "conversation_id": proposal.conversation_id,
        "escalation_id": proposal.escalation_id,
        "question": proposal.question,
        "reply": proposal.reply,
        "product_line": proposal.product_line,
        "source_message_ids": proposal.source_message_ids,
        "status": proposal.status,
        "edited": proposal.edited,
        "decided_by": decided_by,
        "decided_at": proposal.decided_at,
        "past_reply_id": proposal.past_reply_id,
        "created_at": proposal.created_at,
    }


def list_proposals(session: Session, status: Optional[str], limit: int = 100) -> List[Dict[str, Any]]:
    """Newest first; `status` one of STATUSES or None for all."""
    if status is not None and status not in STATUSES:
        raise InvalidEdit(f"Unknown status {status!r}: one of {', '.join(STATUSES)}.")
    query = select(ReplyProposal).order_by(ReplyProposal.id.desc()).limit(limit)
    if status is not None:
        query = query.where(ReplyProposal.status == status)
    rows = list(session.scalars(query))
    names = _names(session, [p.decided_by_id for p in rows])
    return [proposal_view(p, names) for p in rows]


def view(session: Session, proposal: ReplyProposal) -> Dict[str, Any]:
    return proposal_view(proposal, _names(session, [proposal.decided_by_id]))


def demoted(session: Session) -> List[Dict[str, Any]]:
    """Demoted and retired past replies with their feedback: all-time 👍/👎 and the last `WINDOW`."""
    rows = list(
        session.scalars(
            select(PastReply)
            .where(PastReply.demoted_at.isnot(None) | PastReply.retired_at.isnot(None))
            .order_by(PastReply.demoted_at.desc(), PastReply.id)
        )
    )
    ids = [r.id for r in rows]
    totals: Dict[int, Dict[bool, int]] = {i: {True: 0, False: 0} for i in ids}
    if ids:
        counted = session.execute(
            select(AnswerFeedback.past_reply_id, AnswerFeedback.helpful, func.count())
            .where(AnswerFeedback.past_reply_id.in_(ids))
            .group_by(AnswerFeedback.past_reply_id, AnswerFeedback.helpful)
        )
        for reply_id, helpful, count in counted:
            totals[reply_id][bool(helpful)] = count
    recent = recent_counts(session, ids)
    return [
        {
            "past_reply_id": r.id,
            "external_id": r.external_id,
            "question": r.question,
            "reply": r.reply,
            "product_line": r.product_line,
            "source": r.source,
            "state": "retired" if r.retired_at is not None else "demoted",
            "demoted_at": r.demoted_at,
            "retired_at": r.retired_at,
            "helpful": totals[r.id][True],
            "not_helpful": totals[r.id][False],
            "recent_not_helpful": recent[r.id][0],
            "recent_total": recent[r.id][1],
            "window": WINDOW,
        }
        for r in rows
    ]
