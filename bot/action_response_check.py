"""Rasa's check of each action server response, with its JSON-schema validator built once.

Rasa (3.6, `RemoteAction._validate_action_result`) checks every response from the action server with
`jsonschema.validate`, which first checks the schema itself against JSON Schema's metaschema and builds
a new validator, on every call: 21 ms of the Rasa server's event loop per call on this machine, against
0.3 ms for the same check with a validator built once. Coverline calls the action server at least once per
customer message (the `handoff_signal` slot mapping), so this was the largest single cost per reply under
load (benchmarks/results/load.md, "Where the time goes"). The schema is a constant, so the validator is
built on first use; responses are checked exactly as before, and a bad one fails with Rasa's own error
(the best-matching ValidationError, with Rasa's advice appended).

`install()` is called by `python -m bot.server` before Rasa starts.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, Text

MARK = "_coverline_cached_validator"


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(schema)
    cls.check_schema(schema)  # what jsonschema.validate does on every call, once
    return cls(schema)


def validate_action_result(self: Any, result: Dict[Text, Any]) -> bool:
    """`RemoteAction._validate_action_result`, with the validator built once."""
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    error = best_match(_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response from the Action "
        f"endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


def install() -> None:
    from rasa.core.actions.action import RemoteAction

    if not getattr(RemoteAction._validate_action_result, MARK, False):
        setattr(validate_action_result, MARK, True)
        RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
