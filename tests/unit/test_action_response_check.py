"""Rasa's check of action server responses keeps its verdicts with the validator built once."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction

from bot import action_response_check

GOOD = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "handoff_signal", "value": "negative_sentiment", "timestamp": None}]},
    {"events": [{"event": "pause"}, {"event": "action", "name": "action_listen"}], "responses": [{"text": "hi"}]},
]
BAD = [
    {"events": [{"event": "slot"}]},  # a slot event without a name
    {"events": [{"event": "not_an_event"}]},
    {"events": "pause"},
    {"responses": ["text"]},
]


@pytest.fixture
def installed():  # type: ignore[no-untyped-def]
    original = RemoteAction._validate_action_result
    action_response_check.install()
    yield RemoteAction("action_read_handoff_signal", None)
    RemoteAction._validate_action_result = original  # type: ignore[method-assign]


@pytest.mark.parametrize("response", GOOD)
def test_valid_responses_pass_as_before(installed, response) -> None:  # type: ignore[no-untyped-def]
    validate(response, RemoteAction.action_response_format_spec())  # Rasa's own check agrees
    assert installed._validate_action_result(response) is True


@pytest.mark.parametrize("response", BAD)
def test_invalid_responses_fail_with_rasas_error(installed, response) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as rasa_verdict:
        validate(response, RemoteAction.action_response_format_spec())
    with pytest.raises(ValidationError, match="Failed to validate Action server response") as ours:
        installed._validate_action_result(response)
    assert ours.value.message.startswith(rasa_verdict.value.message)  # the same error, Rasa's advice appended


def test_the_server_launcher_installs_it() -> None:
    """`python -m bot.server` is how Coverline starts Rasa (runner, README): it must put the check in place."""
    import inspect

    from bot import server

    assert "action_response_check.install()" in inspect.getsource(server.main)
