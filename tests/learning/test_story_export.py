"""Conversations marked good leave as e2e test stories Rasa reads, true to what happened and with nothing
personal in them.

Each conversation is stored the way the bot stores it (tests/support/tracked_chats.py: Rasa events through
Coverline's SQL tracker store, projected onto the interaction log), an agent annotates one customer message
with the verdict "good" (learning/annotations.py), and the file is read back with Rasa's own YAML story
reader against the project's domain. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.core.training_data.structures import StoryStep

from learning import annotations, story_export
from storage.engine import session_scope
from storage.models import Agent, Conversation
from tests.support.databases import migrated_sqlite
from tests.support.paths import MODEL
from tests.support.rasa_cli import run_rasa
from tests.support.review_logs import Chat
from tests.support.tracked_chats import TrackedChat, action, agent_reply, form, paused, project_domain, slot

TELEGRAM = "telegram:123456789"
WHATSAPP = "whatsapp:15550001111"
WEB_CHAT = "8f3d2a9c41b74e0c9a6f1d2e3b4c5a6d"  # a socket.io session id, as the web chat's sender id
CLAIM_WORDS = "I need to file a claim, I'm Maria Lopez, someone hit my car"


@pytest.fixture(scope="module")
def domain() -> Domain:
    return project_domain()


@pytest.fixture
def agent_id(db_url: str) -> int:
    with session_scope(db_url) as db:
        agent = Agent(email="ana@harbor.example", name="Ana", role="agent", password_hash="-")
        db.add(agent)
        db.flush()
        return agent.id


def span(text: str, words: str, entity: str, value: Any = None) -> Dict[str, Any]:
    start = text.index(words)
    return {"entity": entity, "value": words if value is None else value, "start": start, "end": start + len(words)}


def mark_good(url: str, message_id: int, agent: int, intent: str, **labels: Any) -> None:
    with session_scope(url) as db:
        annotations.annotate(db, message_id, agent, intent, reply_verdict="good", **labels)


def run_export(url: str, path: Path) -> story_export.StoryExportResult:
    with session_scope(url) as db:
        return story_export.export_stories(db, path)


def read_stories(path: Path, domain: Domain) -> List[StoryStep]:
    return YAMLStoryReader(domain).read_from_file(str(path))


def claim_conversation(url: str, domain: Domain, sender_id: str, channel: str) -> List[int]:
    """Hello; a claim with the customer's name in it; the policy number the form asks for; the next ask."""
    chat = TrackedChat(url, domain, sender_id, channel)
    hello = chat.turn("hey there, good evening", "greet", then=[action("utter_greet", "Hi! How can I help?")])
    claim = chat.turn(
        CLAIM_WORDS,
        "file_claim",
        [span(CLAIM_WORDS, "hit", "incident_type", "collision"), span(CLAIM_WORDS, "car", "product", "auto")],
        then=[
            slot("incident_type", "collision"),
            slot("product", "auto"),
            action("claim_form", "What's your policy number?"),  # a form asks in its own turn
            form("claim_form"),
            slot("requested_slot", "policy_number"),
        ],
    )
    number = chat.turn(
        "it's PX-88123",
        "inform",
        [span("it's PX-88123", "PX-88123", "policy_number")],
        then=[
            slot("policy_number", "it's PX-88123"),  # from_text while the form asks for it: all the words
            action("claim_form", "When did it happen?"),
            slot("policy_number", "PX-88123"),
            slot("requested_slot", "incident_date"),
        ],
    )
    chat.turn("yesterday", "inform", then=[action("claim_form")])
    return [hello, claim, number]


def test_a_good_conversation_becomes_a_story_rasa_reads(db_url: str, agent_id: int, domain: Domain, tmp_path) -> None:
    hello, claim, number = claim_conversation(db_url, domain, TELEGRAM, "telegram")
    number_label = span("it's PX-88123", "PX-88123", "policy_number")
    mark_good(db_url, number, agent_id, "inform", entities=[number_label])
    path = tmp_path / story_export.LEARNED_STORIES.name

    result = run_export(db_url, path)

    assert (result.written, result.skipped) == (1, {})
    (story,) = read_stories(path, domain)
    users = [e for e in story.events if isinstance(e, UserUttered)]
    assert [u.intent_name for u in users] == ["greet", "file_claim", "inform"]  # through the good message only
    actions = [e.action_name for e in story.events if isinstance(e, ActionExecuted)]
    assert [a for a in actions if a != "action_listen"] == ["utter_greet", "claim_form", "claim_form"]
    assert [e.name for e in story.events if isinstance(e, ActiveLoop)] == ["claim_form"]
    slots = [(e.key, e.value) for e in story.events if isinstance(e, SlotSet)]
    assert ("requested_slot", "incident_date") in slots and ("product", "auto") in slots
    # a logged synonym keeps its value; the annotator's policy number has a synthetic stand-in, in the text
    # and in the slot the form filled from it
    assert {(e["entity"], e["value"]) for e in users[1].entities} == {
        ("incident_type", "collision"),
        ("product", "auto"),
    }
    (policy,) = users[2].entities
    assert policy["entity"] == "policy_number" and policy["value"].startswith("PX-0")
    assert users[2].text[policy["start"] : policy["end"]] == policy["value"]
    assert ("policy_number", policy["value"]) in slots
    written = path.read_text()
    for secret in ("88123", "Maria", "Lopez", "123456789"):
        assert secret not in written
    assert "(name)" in users[1].text
    with session_scope(db_url) as db:
        source = story_export.conversation_hash(db.get(Conversation, TELEGRAM))
    assert story.block_name == f"conversation {source} through message {number}, marked good by ana@harbor.example"
    metadata = yaml.safe_load(written)["stories"][0]["metadata"]
    assert metadata["source_message_id"] == number and metadata["annotator"] == "ana@harbor.example"


def test_an_earlier_annotation_labels_its_turn(db_url: str, agent_id: int, domain: Domain, tmp_path) -> None:
    """An annotated turn before the good one says what the annotator said, not what the model read."""
    hello, claim, number = claim_conversation(db_url, domain, WHATSAPP, "whatsapp")
    with session_scope(db_url) as db:
        annotations.annotate(db, claim, agent_id, "file_claim", entities=[span(CLAIM_WORDS, "hit", "incident_type")])
    mark_good(db_url, number, agent_id, "inform", entities=[span("it's PX-88123", "PX-88123", "policy_number")])
    path = tmp_path / story_export.LEARNED_STORIES.name

    run_export(db_url, path)

    users = [e for e in read_stories(path, domain)[0].events if isinstance(e, UserUttered)]
    assert [(e["entity"], e["value"]) for e in users[1].entities] == [("incident_type", "hit")]
    assert json.dumps({"entity": "product", "value": "auto"}) not in path.read_text()


def test_conversations_that_cannot_be_told_truly_are_skipped_and_counted(
    db_url: str, agent_id: int, domain: Domain, tmp_path
) -> None:
    # a photo sent without words before the good message: a payload, not a customer's words
    photo = TrackedChat(db_url, domain, WHATSAPP, "whatsapp")
    photo.turn("/share_attachment", "share_attachment", then=[action("action_acknowledge_attachment", "Got it.")])
    good = photo.turn("how can I pay my premium this month?", "pay_premium", then=[action("utter_pay_premium", "..")])
    mark_good(db_url, good, agent_id, "pay_premium")
    # an agent had the web chat conversation before the good message
    handed = TrackedChat(db_url, domain, WEB_CHAT, "socketio")
    handed.turn(
        "I want to talk to a person", "request_human", then=[action("action_escalate", "Connecting you."), paused()]
    )
    handed.events(agent_reply("Hi, Ana here, how can I help?", agent_id))
    good = handed.turn("how can I pay my premium this month?", "pay_premium", then=[action("utter_pay_premium", "..")])
    mark_good(db_url, good, agent_id, "pay_premium")
    # a reply by an action the domain no longer has
    renamed = TrackedChat(db_url, domain, "telegram:987654321", "telegram")
    good = renamed.turn("hey there", "greet", then=[action("utter_old_greeting", "Hello!")])
    mark_good(db_url, good, agent_id, "greet")
    # an earlier turn the model did not understand, never labelled: nlu_fallback is no intent of the domain
    unsure = TrackedChat(db_url, domain, "telegram:555000111", "telegram")
    unsure.turn("asdf qwer", "nlu_fallback", then=[action("action_default_fallback", "Sorry?")])
    good = unsure.turn("hey there", "greet", then=[action("utter_greet", "Hi!")])
    mark_good(db_url, good, agent_id, "greet")
    # logged, but Rasa's tracker store has no events for it (another database, or Rasa never ran here)
    untracked = Chat(db_url, "whatsapp:15550002222")
    good = untracked.customer("hey there", "greet")
    untracked.bot("Hi!", utter_action="utter_greet")
    mark_good(db_url, good, agent_id, "greet")
    # and one that is fine
    fine = TrackedChat(db_url, domain, "telegram:222333444", "telegram")
    good = fine.turn("hey there", "greet", then=[action("utter_greet", "Hi!")])
    mark_good(db_url, good, agent_id, "greet")

    result = run_export(db_url, tmp_path / story_export.LEARNED_STORIES.name)

    assert result.written == 1
    assert result.skipped == {
        "action_not_in_domain": 1,
        "handoff": 1,
        "intent_not_in_domain": 1,
        "no_tracker": 1,
        "payload_turn": 1,
    }
    (story,) = read_stories(result.path, domain)
    assert "utter_greet" in [e.action_name for e in story.events if isinstance(e, ActionExecuted)]


def test_the_bots_own_handoff_is_a_reply_the_story_keeps(db_url: str, agent_id: int, domain: Domain, tmp_path) -> None:
    """action_escalate pauses the bot; what people say afterwards is not in the story, the handoff is."""
    chat = TrackedChat(db_url, domain, WEB_CHAT, "socketio")
    asked = chat.turn(
        "please connect me to a real person",
        "request_human",
        then=[action("action_escalate", "Connecting you."), paused(), action("action_listen")],
        listen=False,
    )
    chat.events(agent_reply("Hi, Ana here.", agent_id))
    mark_good(db_url, asked, agent_id, "request_human")

    result = run_export(db_url, tmp_path / story_export.LEARNED_STORIES.name)

    (story,) = read_stories(result.path, domain)
    assert [e.action_name for e in story.events if isinstance(e, ActionExecuted)][-1] == "action_escalate"
    assert "Ana" not in result.path.read_text()


def test_a_story_replays_the_session_of_the_good_message(db_url: str, agent_id: int, domain: Domain, tmp_path) -> None:
    """A conversation that came back after its session expired: the test replays the later session only,
    as Rasa's tracker holds it (it starts afresh)."""
    chat = TrackedChat(db_url, domain, TELEGRAM, "telegram")
    chat.turn("hey there, good evening", "greet", then=[action("utter_greet", "Hi!")])
    chat.events([ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")])
    good = chat.turn("how can I pay my premium this month?", "pay_premium", then=[action("utter_pay_premium", "..")])
    chat.turn("thanks so much", "thank_you", then=[action("utter_you_are_welcome", "You're welcome!")])
    mark_good(db_url, good, agent_id, "pay_premium")

    result = run_export(db_url, tmp_path / story_export.LEARNED_STORIES.name)

    (story,) = read_stories(result.path, domain)
    assert [e.intent_name for e in story.events if isinstance(e, UserUttered)] == ["pay_premium"]
    assert [e.action_name for e in story.events if isinstance(e, ActionExecuted)][-1] == "utter_pay_premium"


def test_the_same_annotations_give_the_same_file(db_url: str, agent_id: int, domain: Domain, tmp_path) -> None:
    path = tmp_path / story_export.LEARNED_STORIES.name
    assert run_export(db_url, path).written == 0 and not path.exists()  # nothing to say: no file made
    for sender_id, channel in ((TELEGRAM, "telegram"), (WHATSAPP, "whatsapp"), (WEB_CHAT, "socketio")):
        chat = TrackedChat(db_url, domain, sender_id, channel)
        good = chat.turn("hey there, good evening", "greet", then=[action("utter_greet", "Hi!")])
        mark_good(db_url, good, agent_id, "greet")

    run_export(db_url, path)
    first = path.read_text()
    run_export(db_url, path)

    assert path.read_text() == first
    names = [s["story"] for s in yaml.safe_load(first)["stories"]]
    assert names == sorted(names) and len(names) == 3
    with session_scope(db_url) as db:
        for annotation in annotations.list_annotations(db, status="active"):
            annotations.undo(db, annotation["id"], agent_id)
    assert run_export(db_url, path).written == 0
    assert yaml.safe_load(path.read_text())["stories"] == []  # an undone verdict takes its story away


@pytest.mark.needs_model
def test_an_exported_story_passes_rasa_test_against_the_model(tmp_path: Path) -> None:
    """The exported steps are what `rasa test core --e2e` replays: a plain answer, and a claim form asking
    for the policy number, which the customer gives (redacted to a synthetic number the model still reads
    as one)."""
    domain = project_domain()
    url = migrated_sqlite(tmp_path / "model.db")
    with session_scope(url) as db:
        agent = Agent(email="ana@harbor.example", name="Ana", role="agent", password_hash="-")
        db.add(agent)
        db.flush()
        agent_id = agent.id
    chat = TrackedChat(url, domain, TELEGRAM, "telegram")
    chat.turn("hey there, good evening", "greet", then=[action("action_greet", "Hi!")])
    good = chat.turn("how can I pay my premium this month?", "pay_premium", then=[action("utter_pay_premium", "..")])
    mark_good(url, good, agent_id, "pay_premium")
    claim = TrackedChat(url, domain, WHATSAPP, "whatsapp")
    words = "I need to file a claim, someone hit my car"
    claim.turn(
        words,
        "file_claim",
        [span(words, "hit", "incident_type", "collision")],
        then=[
            action("claim_form", "What's your policy number?"),
            form("claim_form"),
            slot("requested_slot", "policy_number"),
        ],
    )
    good = claim.turn(
        "PX-88123",
        "inform",
        [span("PX-88123", "PX-88123", "policy_number")],
        then=[
            action("claim_form", "What kind of incident was it?"),
            slot("policy_number", "PX-88123"),
            slot("requested_slot", "incident_type"),
        ],
    )
    mark_good(url, good, agent_id, "inform", entities=[span("PX-88123", "PX-88123", "policy_number")])
    path = tmp_path / story_export.LEARNED_STORIES.name
    assert run_export(url, path).written == 2
    out = tmp_path / "results"

    result = run_rasa(
        "test", "core", "--model", str(MODEL), "--stories", str(path), "--out", str(out), "--e2e", "--no-plot"
    )

    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "Evaluating 2 stories" in result.stdout + result.stderr
    failed = (out / "failed_test_stories.yml").read_text()
    assert "- story:" not in failed, f"exported stories failed:\n{failed}\n\n{path.read_text()}"
