"""The runner's `rasa run` command line must survive any API token, including the generated ones that start
with "-" (token_urlsafe draws from an alphabet with "-" in it). Such a token once made `rasa run` exit with
"argument -t/--auth-token: expected one argument" and every live test fail at start-up."""

from __future__ import annotations

import pytest
from rasa.__main__ import create_argument_parser

from runner.servers import ServerSet


@pytest.mark.parametrize("token", ["-Ab3_x9", "--looks-like-an-option", "plain_token"])
def test_rasa_run_parses_the_token_it_was_given(token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASA_API_TOKEN", token)
    argv = ServerSet(with_webchat=False).commands()["rasa"]
    args = create_argument_parser().parse_args(argv[1:])
    assert args.auth_token == token
    assert args.enable_api
