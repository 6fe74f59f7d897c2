"""The shared helpers every connector relies on, checked against Rasa's own parsing."""

from __future__ import annotations

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.core.domain import Domain
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.channels.webhooks import (
    Inbound,
    conversation_id,
    customer_text,
    numbered_options,
    platform_user_id,
    secrets_match,
    split_text,
)

DOMAIN = Domain.from_yaml('version: "3.1"\nintents:\n  - affirm\n  - inform\n  - restart\nentities:\n  - product\n')


def intent_rasa_reads(text: str) -> object:
    """What Rasa's RegexMessageHandler makes of a UserMessage's text (it strips the text first)."""
    message = Message({TEXT: UserMessage(text).text})
    return YAMLStoryReader.unpack_regex_message(message, DOMAIN).get(INTENT)


@pytest.mark.parametrize(
    "typed", ["/affirm", " /affirm", "\u3000/affirm", "\n/restart", '/inform{"product": "life"}', "/affirm@0.99"]
)
def test_customer_text_that_rasa_would_read_as_an_intent_is_neutralised(typed: str) -> None:
    assert intent_rasa_reads(typed) is not None  # the threat is real: Rasa would take it as an intent
    assert intent_rasa_reads(customer_text(typed)) is None


def test_a_prefixed_space_is_not_enough_because_rasa_strips_the_text() -> None:
    assert intent_rasa_reads(" /affirm") == {"name": "affirm", "confidence": 1.0}


def test_every_leading_slash_and_space_goes() -> None:
    assert customer_text(" / //restart now") == "restart now"


def test_ordinary_text_is_left_alone() -> None:
    assert customer_text("Is 1/2 of my premium refundable?") == "Is 1/2 of my premium refundable?"


def test_button_payloads_pass_as_intents_and_customer_text_does_not() -> None:
    output = CollectingOutputChannel()
    button = Inbound("42", "m1", "/affirm", from_button=True).user_message("telegram", output)
    typed = Inbound("42", "m2", "/affirm").user_message("telegram", output)

    assert intent_rasa_reads(button.text) == {"name": "affirm", "confidence": 1.0}
    assert (typed.text, typed.metadata["original_text"]) == ("affirm", "/affirm")
    assert button.sender_id == typed.sender_id == "telegram:42"


def test_sender_ids_of_two_platforms_never_collide_and_map_back() -> None:
    assert conversation_id("whatsapp", "16505551234") != conversation_id("telegram", "16505551234")
    assert platform_user_id("telegram", conversation_id("telegram", "42")) == "42"
    assert platform_user_id("telegram", "42") == "42"  # an unprefixed id (e.g. from Rasa's API) passes as is


def test_secret_comparison_fails_closed() -> None:
    assert secrets_match("s3cret", "s3cret")
    assert not secrets_match("s3cret", "s3creT")
    assert not secrets_match("s3cret", None)
    assert not secrets_match("s3cret", "")


def test_long_text_is_split_at_word_breaks_within_the_limit() -> None:
    text = " ".join(f"word{i}" for i in range(600))

    pieces = split_text(text, 2000)

    assert all(len(piece) <= 2000 for piece in pieces)
    assert " ".join(pieces) == text
    assert split_text("short", 2000) == ["short"]


def test_numbered_options_list_every_button_title() -> None:
    buttons = [{"title": "Auto", "payload": "/a"}, {"title": "Home", "payload": "/h"}]
    assert numbered_options("Which product?", buttons) == "Which product?\n\n1. Auto\n2. Home"
    assert numbered_options("No choice here.", []) == "No choice here."
