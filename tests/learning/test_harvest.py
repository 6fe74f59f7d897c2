"""Harvesting agents' replies: a resolved handoff becomes a redacted proposal; approved, it is a pending past
reply that a running answerer adds to its index without a rebuild and then answers a new wording of the
same question with; rejected, nothing; customers' repeated 👎 demote, then retire a reply. SQLite, and
PostgreSQL when it answers; the answerer with the real MiniLM encoder on a handful of texts."""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from sqlalchemy import select

from conversations import lifecycle
from learning import harvest
from learning.harvest import AlreadyDecided, InvalidEdit, ProposalNotFound
from retrieval.corpus import active_records, pending_records
from retrieval.encoder import Encoder
from retrieval.feedback import apply_feedback
from storage.engine import session_scope
from storage.models import Agent, Conversation, PastReply, ReplyProposal
from tests.support.databases import migrated_sqlite
from tests.support.harvest import (
    DEMO_ROWS,
    IDENTITY,
    NEW_WORDING,
    PERSONAL,
    QUESTION,
    REPLY,
    SENDER,
    answerer_for,
    give_feedback,
    small_index,
)
from tests.support.review_logs import Chat


class LiveChat(Chat):
    """A conversation happening now: each step on the wall clock, as Rasa stamps events, so the handoffs'
    times and the resolves' (stamped by the lifecycle) fall in the order they happened."""

    def _tick(self) -> float:
        self.clock = max(self.clock + 0.001, time.time())
        return self.clock


class NoRasa:
    """The lifecycle's Rasa calls, recorded: these tests are about what happens after a resolve."""

    def __init__(self) -> None:
        self.calls: List[str] = []

    def pause(self, conversation_id: str) -> None:
        self.calls.append(f"pause {conversation_id}")

    def resume(self, conversation_id: str) -> None:
        self.calls.append(f"resume {conversation_id}")


@pytest.fixture
def agent_id(db_url: str) -> int:
    with session_scope(db_url) as db:
        agent = Agent(email="ana@harbor.example", name="Ana Ruiz", role="agent", password_hash="-")
        db.add(agent)
        db.flush()
        return agent.id


def identified_customer(chat: Chat, text: str, intent: str) -> int:
    """A WhatsApp message whose connector named the customer (their identity: name and phone)."""
    from conversations.projection import record_event

    ts = chat._tick()
    event = {
        "sender_id": chat.sender_id,
        "event": "user",
        "timestamp": ts,
        "text": text,
        "input_channel": chat.channel,
        "message_id": f"wamid.{int(ts * 1000)}",
        "parse_data": {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []},
        "metadata": {"channel_identity": IDENTITY},
    }
    with session_scope(chat.db_url) as db:
        message = record_event(db, event)
        assert message is not None
        return message.id


def resolve(db_url: str, agent_id: int) -> Optional[int]:
    """What the inbox's resolve does: the lifecycle's move, then the proposal, in one transaction."""
    with session_scope(db_url) as db:
        lifecycle.resolve(db, NoRasa(), db.get(Conversation, SENDER), agent_id)
        proposal = harvest.propose(db, SENDER)
        return proposal.id if proposal else None


def handoff_answered_by(chat: Chat, agent_id: int, replies: List[str]) -> Dict[str, Any]:
    ids = {"question": [identified_customer(chat, QUESTION, "ask_coverage")]}
    chat.bot("I'm not sure about that one. Let me get a colleague.")
    identified_customer(chat, "a person please", "request_human")
    chat.handoff("customer_request")
    identified_customer(chat, "hello?", "greet")
    ids["reply"] = [chat.bot(text, author="agent", agent_id=agent_id) for text in replies]
    return ids


def proposal(db_url: str, proposal_id: int) -> ReplyProposal:
    with session_scope(db_url) as db:
        return db.get(ReplyProposal, proposal_id)


# -- proposing -------------------------------------------------------------------------------------------


def test_a_resolved_handoff_is_proposed_redacted_with_its_product(db_url: str, agent_id: int) -> None:
    chat = LiveChat(db_url, SENDER)
    chat.bot("Hi! How can I help?")
    ids = handoff_answered_by(chat, agent_id, ["Let me check that for you.", REPLY])
    proposal_id = resolve(db_url, agent_id)
    assert proposal_id is not None
    made = proposal(db_url, proposal_id)
    for text in (made.question, made.reply):
        assert not [p for p in PERSONAL if p.lower() in text.lower()], text
    assert "[name]" in made.reply and "[phone]" in made.reply and "[policy number]" in made.reply
    assert "learner's permit" in made.question and "30 days" in made.reply  # ordinary numbers kept
    assert made.reply.startswith("Let me check that for you. Hi [name],")
    assert made.product_line == "auto"
    assert made.status == "proposed" and not made.edited and made.past_reply_id is None
    assert made.source_message_ids == ids  # "a person please" and "hello?" are not the question


def test_no_agent_reply_no_proposal_and_one_per_handoff(db_url: str, agent_id: int) -> None:
    chat = LiveChat(db_url, SENDER)
    identified_customer(chat, QUESTION, "ask_coverage")
    chat.handoff("customer_request")
    assert resolve(db_url, agent_id) is None  # nobody answered: nothing to learn

    handoff_answered_by(chat, agent_id, [REPLY])
    first = resolve(db_url, agent_id)
    assert first is not None
    with session_scope(db_url) as db:
        assert harvest.propose(db, SENDER) is None  # a second call for the same handoff adds nothing

    identified_customer(chat, "and is my travel insurance valid in Canada for a ski trip?", "ask_coverage")
    chat.handoff("customer_request")
    chat.bot("Yes, your travel cover applies in Canada, skiing included.", author="agent", agent_id=agent_id)
    second = resolve(db_url, agent_id)
    assert second is not None and second != first
    later = proposal(db_url, second)
    assert later.question == "and is my travel insurance valid in Canada for a ski trip?"  # not the first handoff's
    assert later.product_line == "travel"


# -- deciding --------------------------------------------------------------------------------------------


def test_approve_makes_a_pending_past_reply_and_edits_are_redacted_again(db_url: str, agent_id: int) -> None:
    handoff_answered_by(LiveChat(db_url, SENDER), agent_id, [REPLY])
    proposal_id = resolve(db_url, agent_id)
    edited_reply = "A learner driver is covered with a licensed adult beside them. Sheena, call 555-000-1111."
    with session_scope(db_url) as db:
        approved = harvest.approve(db, proposal_id, agent_id, reply=edited_reply)
        past_reply_id = approved.past_reply_id
    with session_scope(db_url) as db:
        row = db.get(PastReply, past_reply_id)
        assert row.external_id == f"inbox-proposal-{proposal_id}" and row.source == "inbox"
        assert row.reply == "A learner driver is covered with a licensed adult beside them. [name], call [phone]."
        assert row.embedding_model is None and row.active and row.product_line == "auto"
        assert [r.reply_id for r in pending_records(db)] == [row.external_id]
        decided = db.get(ReplyProposal, proposal_id)
        assert (decided.status, decided.edited, decided.decided_by_id) == ("approved", True, agent_id)
        with pytest.raises(AlreadyDecided):
            harvest.reject(db, proposal_id, agent_id)


def test_reject_adds_nothing_and_bad_requests_are_refused(db_url: str, agent_id: int) -> None:
    handoff_answered_by(LiveChat(db_url, SENDER), agent_id, [REPLY])
    proposal_id = resolve(db_url, agent_id)
    with session_scope(db_url) as db:
        with pytest.raises(InvalidEdit):
            harvest.approve(db, proposal_id, agent_id, question="   ")
        with pytest.raises(InvalidEdit):
            harvest.approve(db, proposal_id, agent_id, product_line="pets")
        with pytest.raises(ProposalNotFound):
            harvest.reject(db, proposal_id + 1000, agent_id)
    with session_scope(db_url) as db:
        assert harvest.reject(db, proposal_id, agent_id).status == "rejected"
    with session_scope(db_url) as db:
        assert db.scalars(select(PastReply).where(PastReply.source == "inbox")).all() == []
        with pytest.raises(AlreadyDecided):
            harvest.approve(db, proposal_id, agent_id)
        assert [p["id"] for p in harvest.list_proposals(db, "rejected")] == [proposal_id]
        assert harvest.list_proposals(db, "proposed") == []


# -- feedback --------------------------------------------------------------------------------------------


def test_repeated_thumbs_down_demote_then_retire(db_url: str) -> None:
    with session_scope(db_url) as db:
        for name in ("kept", "mixed", "failing"):
            db.add(PastReply(external_id=name, question=f"{name} question?", reply=f"{name} reply."))
    give_feedback(db_url, "kept", "++++--+-+")  # 3 👎 of 9: a third, not 60 %
    give_feedback(db_url, "mixed", "+---")  # 3 of 4: demoted
    give_feedback(db_url, "failing", "-----+++++")  # 5 of 10 (50 %): demoted? no: under 60 %
    with session_scope(db_url) as db:
        changes = apply_feedback(db)
    with session_scope(db_url) as db:
        states = {
            r.external_id: (r.demoted_at is not None, r.retired_at is not None, r.active)
            for r in db.scalars(select(PastReply))
        }
        assert changes.retired == []
    assert states["kept"] == (False, False, True)
    assert states["mixed"] == (True, False, True)
    assert states["failing"] == (False, False, True)  # only the last 10 count, and they are half good

    give_feedback(db_url, "failing", "-------")  # the last 10: +++------- → 7 👎 of 10
    give_feedback(db_url, "mixed", "-")
    with session_scope(db_url) as db:
        apply_feedback(db)
        listed = {d["external_id"]: d for d in harvest.demoted(db)}
    assert set(listed) == {"mixed", "failing"}
    failing = listed["failing"]
    assert failing["state"] == "retired" and (failing["recent_not_helpful"], failing["recent_total"]) == (7, 10)
    assert (failing["not_helpful"], failing["helpful"]) == (12, 5)
    assert listed["mixed"]["state"] == "demoted"  # 4 👎 of 5 but fewer than 5: not retired yet
    with session_scope(db_url) as db:
        assert "failing" not in {r.reply_id for r in active_records(db)}


# -- the answerer, with the real encoder -------------------------------------------------------------------


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder()


class CountingEncoder:
    """The real encoder, counting what it is asked to embed: an incremental add embeds only the new reply."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.texts: List[str] = []

    @property
    def version(self) -> str:
        return self.inner.version

    def encode(self, texts: Any, show_progress: bool = False) -> Any:
        self.texts.extend(texts)
        return self.inner.encode(texts, show_progress=show_progress)


def test_an_approved_reply_answers_a_new_wording_without_a_rebuild(
    db_url: str, agent_id: int, tmp_path: Path, encoder: Encoder
) -> None:
    counting = CountingEncoder(encoder)
    small_index(db_url, tmp_path / "index", counting)
    serving = answerer_for(db_url, tmp_path / "index", counting)
    replica = answerer_for(db_url, tmp_path / "index", counting)  # another action server, same folder
    assert serving.refresh().added == 0  # nothing pending yet
    before = serving.answer(NEW_WORDING)
    assert before is not None and not before.record.reply_id.startswith("inbox-")
    replica.answer(NEW_WORDING)  # the replica has its index loaded and its refresh not yet due

    handoff_answered_by(LiveChat(db_url, SENDER), agent_id, [REPLY])
    proposal_id = resolve(db_url, agent_id)
    with session_scope(db_url) as db:
        harvest.approve(db, proposal_id, agent_id)
    counting.texts.clear()
    report = serving.refresh()
    assert (report.added, report.retired) == (1, 0)
    assert len(counting.texts) == 1 and "[policy number]" in counting.texts[0]  # only the new reply embedded

    for answerer in (serving, replica):  # the replica reloads the saved index: no restart
        answer = answerer.answer(NEW_WORDING)
        assert answer is not None and answer.record.reply_id == f"inbox-proposal-{proposal_id}"
        assert answer.score > before.score and answer.probability > before.probability
        assert "learner's permit is covered" in answer.record.reply and "Sheena" not in answer.record.reply
    with session_scope(db_url) as db:
        assert pending_records(db) == []
        assert serving.index().stats()["replies"] == len(DEMO_ROWS) + 1

    give_feedback(db_url, f"inbox-proposal-{proposal_id}", "-----")
    report = serving.refresh()
    assert report.retired == 1
    answer = serving.answer(NEW_WORDING)
    assert answer is None or answer.record.reply_id != f"inbox-proposal-{proposal_id}"


def test_a_demoted_reply_ranks_lower_and_a_rejected_one_never_answers(
    db_url: str, agent_id: int, tmp_path: Path, encoder: Encoder
) -> None:
    small_index(db_url, tmp_path / "index", encoder)
    answerer = answerer_for(db_url, tmp_path / "index", encoder)
    handoff_answered_by(LiveChat(db_url, SENDER), agent_id, [REPLY])
    proposal_id = resolve(db_url, agent_id)
    with session_scope(db_url) as db:
        harvest.reject(db, proposal_id, agent_id)
    assert answerer.refresh().added == 0
    hail = "hail dented the roof of my car, is that covered?"
    first = answerer.answer(hail)
    assert first is not None and first.record.reply_id == "HM-AUTO-001"
    give_feedback(db_url, "HM-AUTO-001", "+---")
    assert answerer.refresh().demoted == 1
    demoted = answerer.answer(hail)
    assert demoted is not None and demoted.probability < first.probability
    if demoted.record.reply_id == "HM-AUTO-001":
        assert demoted.score == pytest.approx(first.score - 0.15, abs=1e-4)
    else:
        assert re.fullmatch(r"HM-[A-Z]+-\d+", demoted.record.reply_id) and demoted.score < first.score


def test_a_database_that_does_not_know_the_index_retires_nothing(db_url: str, tmp_path: Path, encoder: Encoder) -> None:
    """The index ships built from the demo files; an action server may start on a fresh database (a new
    deployment, PostgreSQL instead of SQLite, every integration test). Its refresh must not read the
    replies it has no rows for as withdrawn: that once retired all 312 and saved the empty index."""
    other = migrated_sqlite(tmp_path / "fresh.db")  # knows none of the index's replies
    small_index(db_url, tmp_path / "index", encoder)
    saved = (tmp_path / "index" / "index.json").stat().st_mtime
    answerer = answerer_for(other, tmp_path / "index", encoder)
    before = answerer.answer(NEW_WORDING)
    report = answerer.refresh()
    assert (report.added, report.retired) == (0, 0)
    assert (tmp_path / "index" / "index.json").stat().st_mtime == saved  # nothing rewritten
    after = answerer.answer(NEW_WORDING)
    assert before is not None and after is not None and after.record.reply_id == before.record.reply_id


def test_a_question_never_waits_for_a_refresh(db_url: str, tmp_path: Path, encoder: Encoder) -> None:
    """A due refresh starts in a thread of its own; the question is answered from the index in service
    meanwhile (a first refresh on a fresh deployment embeds every reply: seconds)."""
    import threading

    small_index(db_url, tmp_path / "index", encoder)
    answerer = answerer_for(db_url, tmp_path / "index", encoder)
    answerer.settings = dataclasses.replace(answerer.settings, refresh_seconds=0.0)  # always due
    started, release = threading.Event(), threading.Event()
    refreshed_in: List[str] = []

    def slow_refresh() -> None:  # holds the refresh lock, as the real one does
        with answerer._refresh_lock:
            refreshed_in.append(threading.current_thread().name)
            started.set()
            release.wait(30)

    answerer.refresh = slow_refresh  # type: ignore[method-assign]
    answer = answerer.answer("hail dented the roof of my car, is that covered?")
    assert answer is not None and answer.record.reply_id == "HM-AUTO-001"
    assert started.wait(10) and not release.is_set()  # answered while the refresh was still running
    answerer.answer("hail dented the roof of my car, is that covered?")  # one refresh at a time
    release.set()
    assert refreshed_in == ["past-replies-refresh"]


def test_an_approved_reply_reaches_the_first_customer_who_asks_after_it(
    db_url: str, agent_id: int, tmp_path: Path, encoder: Encoder
) -> None:
    """The action server refreshes on a timer (`keep_fresh`), not only when a question comes in: a refresh
    started by a question came too late for that question, so the first customer after an approval got the old
    index (found by tests/integration/test_harvest_live.py)."""
    import threading

    small_index(db_url, tmp_path / "index", encoder)
    answerer = answerer_for(db_url, tmp_path / "index", encoder)
    answerer.settings = dataclasses.replace(answerer.settings, refresh_seconds=0.2)
    stop = threading.Event()
    timer = threading.Thread(target=answerer.keep_fresh, args=(stop,), daemon=True)
    timer.start()
    try:
        handoff_answered_by(LiveChat(db_url, SENDER), agent_id, [REPLY])
        proposal_id = resolve(db_url, agent_id)
        with session_scope(db_url) as db:
            harvest.approve(db, proposal_id, agent_id)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # no question is asked while we wait
            with session_scope(db_url) as db:
                if not pending_records(db):
                    break
            time.sleep(0.1)
        answerer.settings = dataclasses.replace(answerer.settings, refresh_seconds=3600)  # no refresh by the question
        answer = answerer.answer(NEW_WORDING)
    finally:
        stop.set()
        timer.join(10)
    assert answer is not None and answer.record.reply_id == f"inbox-proposal-{proposal_id}"
    assert not timer.is_alive()
