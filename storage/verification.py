"""Who a conversation's customer is, once they proved it, and how many tries they have left.

The repository behind actions/verification.py: every account action asks `verified_customer_id` (SQL is
the source of truth; slots are the customer's to set, so they never are). Limits are counted in SQL so
every replica of the action server sees the same numbers, and tries on one policy are judged one at a
time, so no more than the limit are ever judged however many replicas race on one policy number.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Optional

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from settings import current
from storage.engine import session_scope
from storage.models import Claim, Customer, CustomerVerification, Policy, VerificationAttempt, utcnow

POLICY_DOB = "policy_dob"
WEB_TOKEN = "web_token"
ATTEMPT_WINDOW = timedelta(hours=24)
MAX_FAILURES_PER_CONVERSATION = 3
MAX_FAILURES_PER_POLICY = 5
# A date no customer has, compared against when the policy is unknown so both paths do the same work.
_NOBODY = date(1, 1, 1)


def verification_ttl() -> timedelta:
    """How long a verification lasts in one conversation (COVERLINE_VERIFICATION_TTL_HOURS, default 24)."""
    return current().verification.ttl


class Outcome(str, Enum):
    VERIFIED = "verified"
    MISMATCH = "mismatch"  # the policy number and date of birth do not belong together (or the policy is unknown)
    REFUSED = "refused"  # over the limit: not judged at all


@dataclass(frozen=True)
class AttemptResult:
    outcome: Outcome
    customer_id: Optional[int] = None
    tries_left: int = 0  # in this conversation, after this try
    locked: bool = False  # no more tries: in this conversation, or on this policy number


def _now(now: Optional[datetime]) -> datetime:
    return now or utcnow()


def current_verification(
    session: Session, conversation_id: str, now: Optional[datetime] = None
) -> Optional[CustomerVerification]:
    """The newest verification of this conversation that is still good, or None."""
    return session.scalars(
        select(CustomerVerification)
        .where(
            CustomerVerification.conversation_id == conversation_id,
            CustomerVerification.expires_at > _now(now),
            CustomerVerification.revoked_at.is_(None),
        )
        .order_by(CustomerVerification.verified_at.desc(), CustomerVerification.id.desc())
        .limit(1)
    ).first()


def verified_customer_id(session: Session, conversation_id: str, now: Optional[datetime] = None) -> Optional[int]:
    verification = current_verification(session, conversation_id, now)
    return verification.customer_id if verification is not None else None


def record_verification(
    session: Session,
    conversation_id: str,
    customer_id: int,
    method: str,
    policy_number: Optional[str] = None,
    now: Optional[datetime] = None,
) -> CustomerVerification:
    at = _now(now)
    verification = CustomerVerification(
        conversation_id=conversation_id,
        customer_id=customer_id,
        method=method,
        policy_number=policy_number,
        verified_at=at,
        expires_at=at + verification_ttl(),
    )
    session.add(verification)
    session.flush()
    return verification


def revoke(session: Session, conversation_id: str, now: Optional[datetime] = None) -> int:
    """End every live verification of a conversation (the customer logs out, an agent ends it)."""
    at = _now(now)
    result = session.execute(
        update(CustomerVerification)
        .where(CustomerVerification.conversation_id == conversation_id, CustomerVerification.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return int(result.rowcount or 0)


def owned_policy(session: Session, customer_id: int, number: Optional[str]) -> Optional[Policy]:
    """The policy if this customer holds it; None alike for someone else's and for no such policy."""
    if not number:
        return None
    return session.scalars(select(Policy).where(Policy.number == number, Policy.customer_id == customer_id)).first()


def owned_claim(session: Session, customer_id: int, reference: Optional[str]) -> Optional[Claim]:
    """The claim if it is on one of this customer's policies; None alike for others' and unknown claims."""
    if not reference:
        return None
    return session.scalars(
        select(Claim).join(Policy).where(Claim.reference == reference, Policy.customer_id == customer_id)
    ).first()


def customer_policies(session: Session, customer_id: int) -> list:
    return list(session.scalars(select(Policy).where(Policy.customer_id == customer_id).order_by(Policy.number)))


def _failures(session: Session, since: datetime, **where: str) -> int:
    query = (
        select(func.count())
        .select_from(VerificationAttempt)
        .where(
            VerificationAttempt.method == POLICY_DOB,
            VerificationAttempt.outcome == "failed",  # refused tries were never judged: they do not count
            VerificationAttempt.attempted_at > since,
        )
    )
    for column, value in where.items():
        query = query.where(getattr(VerificationAttempt, column) == value)
    return int(session.scalar(query) or 0)


def is_locked(
    session: Session, conversation_id: str, policy_number: Optional[str] = None, now: Optional[datetime] = None
) -> bool:
    """Too many failed tries in this conversation, or on this policy number from any conversation."""
    since = _now(now) - ATTEMPT_WINDOW
    if _failures(session, since, conversation_id=conversation_id) >= MAX_FAILURES_PER_CONVERSATION:
        return True
    return bool(policy_number) and _failures(session, since, policy_number=policy_number) >= MAX_FAILURES_PER_POLICY


def tries_left(session: Session, conversation_id: str, now: Optional[datetime] = None) -> int:
    since = _now(now) - ATTEMPT_WINDOW
    return max(0, MAX_FAILURES_PER_CONVERSATION - _failures(session, since, conversation_id=conversation_id))


def _same_day(given: date, on_file: Optional[date]) -> bool:
    """Compared as text in constant time, so the answer's timing says nothing about how close it was."""
    return hmac.compare_digest((on_file or _NOBODY).isoformat().encode(), given.isoformat().encode())


def try_policy_and_birth_date(
    conversation_id: str,
    policy_number: str,
    date_of_birth: date,
    now: Optional[datetime] = None,
    url: Optional[str] = None,
) -> AttemptResult:
    """Judge one try of policy number + date of birth, within the limits; on success the conversation
    is verified for the policyholder.

    Tries on one policy are judged one at a time, so the failure count each one reads is exact however
    many replicas race: the policy's row is locked first (SELECT ... FOR UPDATE on PostgreSQL; on SQLite
    every write transaction already begins IMMEDIATE, one at a time). A policy number that does not
    exist has no row to lock, and nothing to guess either."""
    at = _now(now)
    since = at - ATTEMPT_WINDOW
    with session_scope(url) as session:
        policy = session.scalars(select(Policy).where(Policy.number == policy_number).with_for_update()).first()
        attempt = VerificationAttempt(
            conversation_id=conversation_id, policy_number=policy_number, method=POLICY_DOB, attempted_at=at
        )
        if (
            _failures(session, since, conversation_id=conversation_id) >= MAX_FAILURES_PER_CONVERSATION
            or _failures(session, since, policy_number=policy_number) >= MAX_FAILURES_PER_POLICY
        ):
            attempt.outcome = "refused"
            session.add(attempt)
            return AttemptResult(Outcome.REFUSED, locked=True)
        holder = session.get(Customer, policy.customer_id) if policy is not None else None
        if _same_day(date_of_birth, holder.date_of_birth if holder is not None else None) and holder is not None:
            attempt.outcome = "succeeded"
            session.add(attempt)
            record_verification(session, conversation_id, holder.id, POLICY_DOB, policy_number, at)
            return AttemptResult(Outcome.VERIFIED, customer_id=holder.id)
        attempt.outcome = "failed"
        session.add(attempt)
        session.flush()
        left = tries_left(session, conversation_id, at)
        locked = left == 0 or is_locked(session, conversation_id, policy_number, at)
        return AttemptResult(Outcome.MISMATCH, tries_left=left, locked=locked)


def record_token_refusal(session: Session, conversation_id: str, reason: str, now: Optional[datetime] = None) -> None:
    """A web chat token that did not hold (kept for the audit; it does not count against the limits)."""
    session.add(
        VerificationAttempt(
            conversation_id=conversation_id,
            method=WEB_TOKEN,
            outcome="failed",
            detail=reason[:40],
            attempted_at=_now(now),
        )
    )


def record_token_success(
    session: Session, conversation_id: str, customer_id: int, now: Optional[datetime] = None
) -> CustomerVerification:
    at = _now(now)
    session.add(
        VerificationAttempt(conversation_id=conversation_id, method=WEB_TOKEN, outcome="succeeded", attempted_at=at)
    )
    return record_verification(session, conversation_id, customer_id, WEB_TOKEN, now=at)


def customer_exists(session: Session, customer_id: int) -> bool:
    return session.get(Customer, customer_id) is not None
