"""The interaction log on real databases: SQLite always, PostgreSQL when it answers."""

from __future__ import annotations

import time
from typing import Optional

import pytest
from sqlalchemy import func, select
from sqlalchemy import text as sql
from sqlalchemy.exc import IntegrityError

from conversations.identity import customer_identity
from conversations.projection import ensure_conversation, record_event
from inbox.services.agents import create_agent
from storage.engine import session_scope
from storage.migrate import upgrade
from storage.models import Conversation, Message
from tests.support.broker_events import bot_event, user_event


def exercise_log(url: str) -> None:
    upgrade(url)
    now = time.time()
    inbound = user_event("c-1", "hi PX-88123", now, "m-1")
    with session_scope(url) as s:
        assert record_event(s, inbound) is not None
    with session_scope(url) as s:  # the same event again (a replay) is not stored twice
        assert record_event(s, inbound) is None
    with session_scope(url) as s:
        record_event(s, bot_event("c-1", "Hello!", now + 0.25, utter_action="utter_greet"))
        record_event(s, bot_event("c-1", "From the log", now + 0.5, answer_source="lookup"))
        record_event(s, {"sender_id": "c-1", "event": "action", "name": "action_listen", "timestamp": now})
    with session_scope(url) as s:
        rows = s.scalars(select(Message).where(Message.conversation_id == "c-1").order_by(Message.id)).all()
        assert [(m.direction, m.author) for m in rows] == [
            ("inbound", "customer"),
            ("outbound", "bot"),
            ("outbound", "bot"),
        ]
        first, greet, lookup = rows
        assert (first.intent, round(first.confidence, 2), first.channel) == ("greet", 0.93, "rest")
        assert first.entities[0]["value"] == "PX-88123"
        assert greet.answer_source == "template" and greet.action_name == "utter_greet"
        assert lookup.answer_source == "lookup"
        assert greet.in_reply_to_id == first.id
        assert greet.latency_ms == pytest.approx(250, abs=1)
        assert s.get(Conversation, "c-1").channel == "rest"
        assert s.scalar(select(func.count()).select_from(Message)) == 3


def test_interaction_log_on_sqlite(tmp_path) -> None:
    exercise_log(f"sqlite:///{tmp_path / 'log.db'}")


def test_interaction_log_on_postgres(fresh_postgres_url: str) -> None:
    exercise_log(fresh_postgres_url)


def test_same_platform_message_id_is_stored_once(tmp_path) -> None:
    """A platform retrying a webhook produces a new event with the same platform message id."""
    url = f"sqlite:///{tmp_path / 'log.db'}"
    upgrade(url)
    with session_scope(url) as s:
        assert record_event(s, user_event("c-2", "hello", 1000.0, "wamid.1")) is not None
    with session_scope(url) as s:
        assert record_event(s, user_event("c-2", "hello", 1001.0, "wamid.1")) is None
    with session_scope(url) as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 1


def refuse_inserts_into_the_log(url: str) -> None:
    """The database refuses every insert into the log with an integrity error (a constraint or trigger):
    what a broken schema or a bad deployment looks like to the writer."""
    with session_scope(url) as s:
        if url.startswith("sqlite"):
            s.execute(
                sql("CREATE TRIGGER log_refuses BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'refused'); END")
            )
        else:
            s.execute(
                sql(
                    "CREATE FUNCTION log_refuses() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'refused' USING ERRCODE = 'check_violation'; END $$ LANGUAGE plpgsql"
                )
            )
            s.execute(
                sql("CREATE TRIGGER log_refuses BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION log_refuses()")
            )


def test_a_refused_insert_is_not_taken_for_a_duplicate(log_url: str) -> None:
    """Only a real duplicate (same event key or platform message id) is skipped; any other integrity error
    reaches the writer, which keeps the event journalled and retries, instead of acknowledging a message
    that was never stored."""
    refuse_inserts_into_the_log(log_url)
    for event in (
        user_event("whatsapp:15550001111", "my claim?", 1000.0, "wamid.HBgL1"),
        bot_event("whatsapp:15550001111", "Which claim?", 1000.1),
    ):
        with pytest.raises(IntegrityError), session_scope(log_url) as s:
            record_event(s, event)
    with session_scope(log_url) as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0


# --- the customer's channel identity -------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def log_url(request: pytest.FixtureRequest, tmp_path) -> str:
    url = (
        f"sqlite:///{tmp_path / 'log.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("fresh_postgres_url")
    )
    upgrade(url)
    return url


def social_event(sender: str, ts: float, message_id: str, identity: Optional[dict], text: str = "hello") -> dict:
    """A user event as Rasa publishes it for a message from a social connector."""
    channel = sender.split(":", 1)[0]
    event = {**user_event(sender, text, ts, message_id), "input_channel": channel}
    event["metadata"] = {"model_id": "6c4bb7f0", "assistant_id": "coverline"}
    if identity is not None:
        event["metadata"]["channel_identity"] = {"channel": channel, **identity}
    return event


def identity_of(url: str, conversation_id: str) -> Optional[str]:
    with session_scope(url) as s:
        conversation = s.get(Conversation, conversation_id)
        return conversation.customer_identity if conversation is not None else None


JANE = {"user_id": "12345", "display_name": "Jane Doe", "username": "jane", "phone": "+15551234567", "language": "en"}


def test_identity_is_set_from_the_channel_identity_metadata(log_url: str) -> None:
    with session_scope(log_url) as s:
        assert record_event(s, social_event("telegram:12345", 1000.0, "12345:1", JANE)) is not None
    with session_scope(log_url) as s:
        conversation = s.get(Conversation, "telegram:12345")
        assert (conversation.channel, conversation.customer_identity) == (
            "telegram",
            "Jane Doe (@jane, +15551234567) telegram:12345",
        )


@pytest.mark.parametrize(
    ("sender", "identity", "expected"),
    [
        (
            "whatsapp:16505551234",
            {"user_id": "16505551234", "display_name": "Sheena Nelson", "phone": "+16505551234"},
            "Sheena Nelson (+16505551234) whatsapp:16505551234",
        ),
        (
            "twitter:3001969357",
            {"user_id": "3001969357", "name": "Jordan Lee", "username": "@jordanlee"},
            "Jordan Lee (@jordanlee) twitter:3001969357",
        ),
        ("facebook:6789012345678901", {"user_id": "6789012345678901"}, "facebook:6789012345678901"),
        (
            "telegram:77",
            {"user_id": 77, "display_name": "  Ana \n Silva\u200b ", "username": ""},
            "Ana Silva telegram:77",
        ),
    ],
)
def test_identity_format(sender: str, identity: dict, expected: str) -> None:
    channel = sender.split(":", 1)[0]
    assert customer_identity({"channel": channel, **identity}, channel, sender) == expected


def test_identity_of_another_sender_is_ignored() -> None:
    """A web chat client controls its own metadata: it cannot label its conversation as someone else's."""
    spoof = {"channel": "telegram", "user_id": "12345", "display_name": "Jane Doe"}
    assert customer_identity(spoof, "socketio", "b2c1e0d5") is None
    assert customer_identity(spoof, "telegram", "telegram:99999") is None
    assert customer_identity(None, "telegram", "telegram:12345") is None
    assert customer_identity("Jane", "telegram", "telegram:12345") is None  # type: ignore[arg-type]


def test_identity_is_filled_in_when_the_first_event_lacked_it(log_url: str) -> None:
    # the action server creates the row during the first turn, before the broker sees the user event
    with session_scope(log_url) as s:
        ensure_conversation(s, "telegram:12345", "telegram")
    assert identity_of(log_url, "telegram:12345") == "telegram:12345"
    # an event without metadata (e.g. replayed from an older spool) leaves the placeholder
    with session_scope(log_url) as s:
        record_event(s, social_event("telegram:12345", 1000.0, "12345:1", None))
    assert identity_of(log_url, "telegram:12345") == "telegram:12345"
    with session_scope(log_url) as s:
        record_event(s, social_event("telegram:12345", 1001.0, "12345:2", JANE))
    assert identity_of(log_url, "telegram:12345") == "Jane Doe (@jane, +15551234567) telegram:12345"


def test_identity_is_kept_when_later_events_lack_it(log_url: str) -> None:
    sender, full = "telegram:12345", "Jane Doe (@jane, +15551234567) telegram:12345"
    with session_scope(log_url) as s:
        record_event(s, social_event(sender, 1000.0, "12345:1", JANE))
        record_event(s, bot_event(sender, "Hello Jane!", 1000.5, utter_action="utter_greet"))
    assert identity_of(log_url, sender) == full
    with session_scope(log_url) as s:
        record_event(s, social_event(sender, 1001.0, "12345:2", None))  # no channel_identity
        record_event(s, social_event(sender, 1002.0, "12345:3", {"user_id": "12345"}))  # the user id alone
        record_event(s, bot_event(sender, "Anything else?", 1002.5, utter_action="utter_anything_else"))
        ensure_conversation(s, sender, "telegram")  # the action server, as on every action run
    assert identity_of(log_url, sender) == full
    with session_scope(log_url) as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.conversation_id == sender)) == 5


def test_a_renamed_profile_replaces_the_identity(log_url: str) -> None:
    sender = "telegram:12345"
    with session_scope(log_url) as s:
        record_event(s, social_event(sender, 1000.0, "12345:1", JANE))
    with session_scope(log_url) as s:
        record_event(s, social_event(sender, 1001.0, "12345:2", {**JANE, "display_name": "Jane Roe"}))
    assert identity_of(log_url, sender) == "Jane Roe (@jane, +15551234567) telegram:12345"


def test_rest_conversations_keep_the_sender_id(log_url: str) -> None:
    with session_scope(log_url) as s:
        record_event(s, user_event("rest-7", "hi", 1000.0, "m-7"))
    assert identity_of(log_url, "rest-7") == "rest-7"


def test_long_values_are_truncated_within_the_column(log_url: str) -> None:
    """Display names are free text (emoji, any script, control characters) and can be long."""
    name = "🚗 Dr. Maximiliana Wolfeschlegelsteinhausenbergerdorff\x00\u202e " * 20
    long_identity = {"user_id": "12345", "display_name": name, "username": "j" * 300, "phone": "+1" + "5" * 300}
    sender = "telegram:12345"
    with session_scope(log_url) as s:
        record_event(s, social_event(sender, 1000.0, "12345:1", long_identity))
    stored = identity_of(log_url, sender)
    assert stored is not None and len(stored) <= 255
    assert stored.startswith("🚗 Dr. Maximiliana") and stored.endswith("…) telegram:12345")
    assert "(@jjjj" in stored and "\x00" not in stored and "\u202e" not in stored

    # a user id so long that little else fits: the key is never cut; the name goes, then the details are cut
    long_id = "9" * 230
    key = f"telegram:{long_id}"
    with session_scope(log_url) as s:
        record_event(s, social_event(key, 1000.0, f"{long_id}:1", {**long_identity, "user_id": long_id}))
    stored = identity_of(log_url, key)
    assert stored == "(@jjjjjjjjjjj…) " + key and len(stored) == 255


def test_a_resolved_conversation_reopens_when_the_customer_writes_again(log_url: str) -> None:
    with session_scope(log_url) as s:
        record_event(s, user_event("web-1", "hello", 1000.0, "m1"))
    with session_scope(log_url) as s:
        s.get(Conversation, "web-1").status = "resolved"
    with session_scope(log_url) as s:
        record_event(s, bot_event("web-1", "anything else?", 1001.0))
    with session_scope(log_url) as s:
        assert s.get(Conversation, "web-1").status == "resolved"  # our own reply does not reopen it
    with session_scope(log_url) as s:
        record_event(s, user_event("web-1", "one more thing", 1002.0, "m2"))
    with session_scope(log_url) as s:
        assert s.get(Conversation, "web-1").status == "pending"


def test_an_agent_reply_keeps_who_wrote_it_and_an_unknown_agent_loses_no_reply(log_url: str) -> None:
    """The inbox puts the agent's id in the reply's metadata; an id that names no agent (a reply posted to
    Rasa's API by another tool) must still be logged, only without an author, not dropped on the foreign key."""
    with session_scope(log_url) as s:
        sam = create_agent(s, "sam@harbor.example", "Sam Agent", "agent", "a long enough password 1").id
    with session_scope(log_url) as s:
        record_event(s, user_event("web-5", "I want a person", 1000.0, "m1"))
        record_event(s, bot_event("web-5", "Sam here.", 1001.0, author="agent", agent_id=sam, agent="Sam Agent"))
        record_event(s, bot_event("web-5", "Someone else.", 1002.0, author="agent", agent_id=sam + 99))
        record_event(s, bot_event("web-5", "Bot again.", 1003.0, utter_action="utter_greet", agent_id=sam))
    with session_scope(log_url) as s:
        rows = s.scalars(select(Message).where(Message.author != "customer").order_by(Message.id)).all()
        assert [(m.text, m.author, m.agent_id) for m in rows] == [
            ("Sam here.", "agent", sam),
            ("Someone else.", "agent", None),
            ("Bot again.", "bot", None),
        ]
        assert rows[0].agent.name == "Sam Agent"


def test_a_photo_is_logged_with_its_attachment_and_no_words_the_customer_did_not_type(log_url: str) -> None:
    photo = {"type": "image", "media_id": "AgACAgQ", "mime_type": "image/jpeg"}
    alone = social_event("telegram:12345", 1000.0, "12345:7", JANE, text="/share_attachment")
    alone["metadata"]["attachments"] = [photo]
    captioned = social_event("telegram:12345", 1001.0, "12345:8", JANE, text="the dent on the door")
    captioned["metadata"]["attachments"] = [photo]
    with session_scope(log_url) as s:
        record_event(s, alone)
        record_event(s, captioned)
        record_event(s, alone)  # Rasa publishing the same event again
    with session_scope(log_url) as s:
        rows = s.scalars(select(Message).where(Message.conversation_id == "telegram:12345").order_by(Message.id)).all()
        assert [(m.text, m.payload) for m in rows] == [
            (None, {"attachments": [photo]}),
            ("the dent on the door", {"attachments": [photo]}),
        ]


def test_a_tapped_button_is_logged_with_the_title_the_customer_saw(log_url: str) -> None:
    collision = '/inform{"incident_type": "collision"}'
    question = bot_event("web-6", "What happened?", 1000.0, utter_action="utter_ask_incident_type")
    question["data"] = {"buttons": [{"title": "Collision", "payload": collision}, {"title": "Theft", "payload": "/x"}]}
    tapped = {**user_event("web-6", collision, 1001.0, "m1"), "metadata": {"button_payload": True}}
    greeting = {**user_event("web-7", "/greet", 1002.0, "m2"), "metadata": {"button_payload": True}}
    typed = user_event("web-6", "collision", 1003.0, "m3")
    with session_scope(log_url) as s:
        for event in (question, tapped, greeting, typed):
            record_event(s, event)
    with session_scope(log_url) as s:
        inbound = s.scalars(select(Message).where(Message.direction == "inbound").order_by(Message.id)).all()
        assert [(m.text, m.payload) for m in inbound] == [
            (collision, {"button": {"title": "Collision", "payload": collision}}),
            ("/greet", {"button": {"title": None, "payload": "/greet"}}),  # the web chat page's own payload
            ("collision", None),
        ]
