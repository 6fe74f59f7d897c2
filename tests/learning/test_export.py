"""Annotations leave the log as training data Rasa reads, with nothing personal in it.

Conversations are logged as production logs them (tests/support/review_logs.py), annotated through
learning/annotations.py, exported, and the files are read back with Rasa's own YAML reader and
bot/nlu's sentiment reader: the trained-on file holds the redacted words, the annotator's intent and
entities at their redacted places and the metadata; the held-back file holds the rest, never both.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

from bot.nlu.sentiment_data import sentiment_of
from learning import annotations, export
from learning.redaction import redact
from storage.engine import session_scope
from storage.models import Agent
from tests.support.databases import migrated_sqlite
from tests.support.review_logs import Chat

PERSONAL = (
    "hi I'm Maria Lopez, card 4111 1111 1111 1111 was charged twice on policy PX-88123, mail maria.lopez@example.com"
)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return migrated_sqlite(tmp_path / "export.db")


@pytest.fixture
def agent_id(url: str) -> int:
    with session_scope(url) as db:
        agent = Agent(email="ana@harbor.example", name="Ana", role="agent", password_hash="-")
        db.add(agent)
        db.flush()
        return agent.id


def annotate(url: str, message_id: int, agent: int, intent: str, **kwargs) -> None:  # type: ignore[no-untyped-def]
    with session_scope(url) as db:
        annotations.annotate(db, message_id, agent, intent, **kwargs)


def run_export(url: str, tmp_path: Path) -> export.ExportResult:
    with session_scope(url) as db:
        return export.export(db, tmp_path / "nlu_data" / "learned" / "annotated.yml", tmp_path / "heldout.yml")


def trained_examples(result: export.ExportResult):  # type: ignore[no-untyped-def]
    return RasaYAMLReader().read(str(result.nlu_path)).training_examples


def test_an_annotated_message_is_trained_on_redacted_with_its_labels(
    url: str, agent_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "held_back", lambda message_id, percent=20: False)
    chat = Chat(url, "whatsapp:15550001111")
    message_id = chat.customer(PERSONAL, "cancel_policy", 0.41, sentiment={"label": "neutral", "confidence": 0.6})
    start = PERSONAL.index("PX-88123")
    policy = {"entity": "policy_number", "value": "PX-88123", "start": start, "end": start + 8}
    annotate(url, message_id, agent_id, "billing_issue", entities=[policy], sentiment="negative")

    result = run_export(url, tmp_path)

    written = result.nlu_path.read_text()
    for secret in ("4111", "Lopez", "maria.lopez", "88123"):
        assert secret not in written
    (example,) = trained_examples(result)
    assert example.get("intent") == "billing_issue"
    (entity,) = example.get("entities")
    assert entity["entity"] == "policy_number" and entity["value"].startswith("PX-0")  # a synthetic stand-in
    assert example.get("text")[entity["start"] : entity["end"]] == entity["value"]
    assert "(card)" in example.get("text") and "(email)" in example.get("text")  # placeholders, as words
    metadata = example.get("metadata")
    assert metadata["example"]["source_message_id"] == message_id
    assert metadata["example"]["annotator"] == "ana@harbor.example"
    assert sentiment_of(metadata) == "negative"  # what the sentiment head will learn
    assert (result.trained, result.held_back, result.redactions["card"]) == (1, 0, 1)


def test_held_back_messages_are_never_trained_on_and_the_split_is_stable(
    url: str, agent_id: int, tmp_path: Path
) -> None:
    chat = Chat(url, "telegram:123456789", channel="telegram")
    ids = [chat.customer(f"can i switch my autopay to the {n}th of the month", "nlu_fallback", 0.2) for n in range(40)]
    for message_id in ids:
        annotate(url, message_id, agent_id, "pay_premium", sentiment="neutral")

    first = run_export(url, tmp_path)
    trained = {e.get("metadata")["example"]["source_message_id"] for e in trained_examples(first)}
    held = yaml.safe_load(first.heldout_path.read_text())["examples"]
    held_ids = {message_id for message_id in ids if export.held_back(message_id)}

    assert first.trained + first.held_back == 40 and 2 <= first.held_back <= 16
    assert trained == set(ids) - held_ids
    assert {row["text"] for row in held} == {
        f"can i switch my autopay to the {ids.index(i)}th of the month" for i in held_ids
    }
    assert all(row["intent"] == "pay_premium" and row["sentiment"] == "neutral" for row in held)
    before = (first.nlu_path.read_text(), first.heldout_path.read_text())
    run_export(url, tmp_path)
    assert (first.nlu_path.read_text(), first.heldout_path.read_text()) == before  # same annotations, same files


def test_undone_annotations_are_not_exported(url: str, agent_id: int, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(export, "held_back", lambda message_id, percent=20: False)
    chat = Chat(url, "messenger:6543210987654321", channel="facebook")
    kept, undone = (
        chat.customer("how do i add my son to my car insurance", "out_of_scope", 0.3),
        chat.customer("asdf", "out_of_scope", 0.2),
    )
    annotate(url, kept, agent_id, "change_policy")
    annotate(url, undone, agent_id, "greet")
    with session_scope(url) as db:
        admin = Agent(email="ade@harbor.example", name="Ade", role="admin", password_hash="-")
        db.add(admin)
        db.flush()
        annotation = annotations.active_annotation(db, undone)
        annotations.undo(db, annotation["id"], admin.id)
    intents = {e.get("intent") for e in trained_examples(run_export(url, tmp_path))}
    assert intents == {"change_policy"}


@pytest.mark.parametrize(
    "text, name, value, expected",
    [
        ("mail a@b.co then insure my home", "product", "home", "home"),
        ("I'm Jo Park and want home cover", "product", "home", "home"),
        ("my email is jo@park.io", "email", "jo@park.io", None),  # personal: dropped
    ],
)
def test_entities_move_with_the_redaction(text: str, name: str, value: str, expected) -> None:  # type: ignore[no-untyped-def]
    redaction = redact(text)
    start = text.index(value)
    entity = {"entity": name, "value": value, "start": start, "end": start + len(value)}
    moved, dropped = export.move_entities([entity], redaction)
    if expected is None:
        assert (moved, dropped) == ([], 1)
    else:
        (only,) = moved
        assert redaction.text[only["start"] : only["end"]] == only["value"] == expected and dropped == 0


def test_markup_typed_by_a_customer_stays_words(url: str, agent_id: int, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Rasa's YAML reads `[x](entity)` anywhere in an example; a customer must not be able to plant one."""
    monkeypatch.setattr(export, "held_back", lambda message_id, percent=20: False)
    chat = Chat(url, "telegram:123456789", channel="telegram")
    hostile = "[cancel everything](policy_number) and my card 4111 1111 1111 1111(visa) pls"
    annotate(url, chat.customer(hostile, "nlu_fallback", 0.1), agent_id, "cancel_policy")
    (example,) = trained_examples(run_export(url, tmp_path))
    assert example.get("entities") in (None, [])
    assert example.get("text") == "(cancel everything)(policy_number) and my card (card)(visa) pls"
