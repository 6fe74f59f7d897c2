"""Customers' 👎 on a past reply, read back: a reply that keeps failing is demoted, then retired.

The rule (docs/learning.md, "Harvesting agents' replies"), over each reply's last 10 feedbacks:
- demoted at ≥ 3 👎 making ≥ 60 % of them: the answerer lowers its similarity by `DEMOTION_PENALTY`
  before ranking and calibration, so it still answers a question asked almost word for word, but a
  near-miss now goes to another reply or to "I'm not sure" instead;
- retired at ≥ 5 👎 making ≥ 70 %: `active` false, so every answerer takes it out of its index at its
  next refresh and it is never said again (until someone re-imports it).

Both moves are one-way here and timestamped (`demoted_at`, `retired_at`), so the inbox can list them.
Only storage is imported: the inbox reads the list without loading the encoder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Tuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import AnswerFeedback, PastReply, utcnow

WINDOW = 10  # the last N feedbacks of a reply count
DEMOTE_AT = (3, 0.6)  # (at least this many 👎, making at least this share of the window)
RETIRE_AT = (5, 0.7)
DEMOTION_PENALTY = 0.15  # cosine similarity taken off a demoted reply's score


@dataclass
class FeedbackChanges:
    demoted: List[int] = field(default_factory=list)  # past reply ids
    retired: List[int] = field(default_factory=list)


def recent_counts(session: Session, past_reply_ids: List[int]) -> Dict[int, Tuple[int, int]]:
    """(👎, total) over each reply's last `WINDOW` feedbacks."""
    counts: Dict[int, Tuple[int, int]] = {}
    for reply_id in past_reply_ids:
        helpful = session.scalars(
            select(AnswerFeedback.helpful)
            .where(AnswerFeedback.past_reply_id == reply_id)
            .order_by(AnswerFeedback.created_at.desc(), AnswerFeedback.id.desc())
            .limit(WINDOW)
        ).all()
        counts[reply_id] = (sum(1 for h in helpful if not h), len(helpful))
    return counts


def _meets(down: int, total: int, rule: Tuple[int, float]) -> bool:
    return total > 0 and down >= rule[0] and down / total >= rule[1]


def apply_feedback(session: Session) -> FeedbackChanges:
    """Demote and retire by the rule above; returns what changed now. Only replies with a 👎 are read."""
    candidates = session.scalars(
        select(AnswerFeedback.past_reply_id)
        .join(PastReply, PastReply.id == AnswerFeedback.past_reply_id)
        .where(AnswerFeedback.helpful.is_(False), PastReply.retired_at.is_(None))
        .group_by(AnswerFeedback.past_reply_id)
        .having(func.count() >= DEMOTE_AT[0])
    ).all()
    changes = FeedbackChanges()
    now = utcnow()
    for reply_id, (down, total) in recent_counts(session, list(candidates)).items():
        reply = session.get(PastReply, reply_id)
        if reply is None:
            continue
        if _meets(down, total, DEMOTE_AT) and reply.demoted_at is None:
            reply.demoted_at = now
            changes.demoted.append(reply_id)
        if _meets(down, total, RETIRE_AT):
            reply.demoted_at = reply.demoted_at or now
            reply.retired_at = now
            reply.active = False
            changes.retired.append(reply_id)
    session.flush()
    return changes


def demoted_external_ids(session: Session) -> List[str]:
    """Replies still answering, but ranked lower."""
    query = select(PastReply.external_id).where(PastReply.demoted_at.isnot(None), PastReply.active.is_(True))
    return list(session.scalars(query))
