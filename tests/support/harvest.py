"""Shared by the harvesting tests (tests/learning/test_harvest.py, tests/inbox/test_harvest_api.py): the
WhatsApp customer whose handoff an agent answers, a new wording of her question, a small real index, an
answerer on it, and customers' 👍/👎."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from conversations import lifecycle
from retrieval.corpus import DEMO_CORPUS_DIR, active_records, import_rows, mark_indexed, read_rows
from retrieval.index import ReplyIndex
from retrieval.service import PastReplyAnswerer
from settings import current
from storage.engine import session_scope
from storage.models import AnswerFeedback, Conversation, PastReply, utcnow

SENDER = "whatsapp:15550001111"
IDENTITY = {"user_id": "15550001111", "name": "Sheena Nelson", "phone": "+15550001111"}
QUESTION = (
    "My name is Sheena Nelson and my policy is PX-88123. My son just got his learner's permit: is he covered "
    "driving my car while I sit next to him, or do I have to add him to the policy now?"
)
REPLY = (
    "Hi Sheena, congratulations to him! A teen with a learner's permit is covered under policy PX-88123 while "
    "practising with a licensed adult in the passenger seat, at no extra cost. Once he passes his driving test, "
    "add him as a driver within 30 days. I will text you the details at +1 555 000 1111, Ms Nelson."
)
NEW_WORDING = "does my teenager with a learners permit need to be added to my auto insurance to practice driving?"
PERSONAL = ("Sheena", "Nelson", "PX-88123", "88123", "555 000 1111", "15550001111")
DEMO_ROWS = ("HM-AUTO-001", "HM-AUTO-002", "HM-HOME-001", "HM-TRVL-001", "HM-LIFE-002", "HM-GEN-001")


def give_feedback(db_url: str, external_id: str, verdicts: str) -> None:
    """`verdicts` like "+--": 👍 for +, 👎 for -, oldest first."""
    with session_scope(db_url) as db:
        reply = db.scalar(select(PastReply).where(PastReply.external_id == external_id))
        if db.get(Conversation, SENDER) is None:
            db.add(lifecycle.new_conversation(SENDER, "whatsapp", SENDER))
            db.flush()
        start = utcnow() - timedelta(minutes=len(verdicts))
        for number, verdict in enumerate(verdicts):
            db.add(
                AnswerFeedback(
                    conversation_id=SENDER,
                    past_reply_id=reply.id,
                    helpful=verdict == "+",
                    created_at=start + timedelta(seconds=number),
                )
            )


def small_index(db_url: str, directory: Path, encoder: Any) -> None:
    """A few demo past replies, imported and indexed as `python -m retrieval rebuild` would."""
    rows = [row for path in sorted(DEMO_CORPUS_DIR.glob("*.csv")) for row in read_rows(path)]
    with session_scope(db_url) as db:
        import_rows(db, [row for row in rows if row["external_id"] in DEMO_ROWS])
    with session_scope(db_url) as db:
        records = active_records(db)
        ReplyIndex.build(records, encoder).save(directory)
        mark_indexed(db, [r.reply_id for r in records], encoder.version)


def answerer_for(db_url: str, directory: Path, encoder: Any) -> PastReplyAnswerer:
    settings = dataclasses.replace(current().retrieval, backend="numpy", index_dir=directory, refresh_seconds=3600)
    return PastReplyAnswerer(settings, encoder, database_url=db_url)
