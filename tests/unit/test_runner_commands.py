"""The runner's Rasa command line: parsed by Rasa's own argument parser (through bot/server.py, which runs
`rasa run`), it must carry no API token, whatever the token looks like (a generated one may start with
"-"), yet the server must get it (from RASA_API_TOKEN); and CORS must name the web chat page's origins,
never "*"."""

from __future__ import annotations

import pytest

from bot.server import LaunchError, parse
from runner.servers import Ports, ServerSet


@pytest.mark.parametrize("token", ["-Ab3_x9", "--looks-like-an-option", "plain_token"])
def test_the_rasa_command_carries_no_token_and_the_server_gets_it(token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASA_API_TOKEN", token)
    monkeypatch.delenv("CORS_ORIGINS", raising=False)
    servers = ServerSet(ports=Ports(webchat=8123), with_webchat=False)
    argv = servers.commands()["rasa"]

    assert argv[1:3] == ["-m", "bot.server"]
    assert not any(token in item for item in argv)
    args = parse(argv[3:], servers.env())
    assert args.auth_token == token
    assert args.enable_api
    assert args.cors == ["http://127.0.0.1:8123", "http://localhost:8123"]


def test_cors_origins_come_from_the_environment_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://harbor.example, https://www.harbor.example/")
    servers = ServerSet(with_webchat=False)
    argv = servers.commands()["rasa"]

    assert "--cors" not in argv
    assert parse(argv[3:], servers.env()).cors == ["https://harbor.example", "https://www.harbor.example"]


@pytest.mark.parametrize(
    "origins",
    [
        "*",
        "https://*.harbor.example",
        "https://harbor.example/chat",
        "harbor.example",
        "javascript:alert(1)",
        "ftp://x",
    ],
)
def test_a_wildcard_pattern_or_url_is_not_an_origin(origins: str) -> None:
    with pytest.raises(LaunchError, match="CORS origin"):
        parse(["--enable-api"], {"RASA_API_TOKEN": "t", "CORS_ORIGINS": origins})


@pytest.mark.parametrize("argv", [["--auth-token=secret"], ["-t", "secret"], ["--auth-tok", "secret"]])
def test_a_token_on_the_command_line_is_refused(argv: list) -> None:
    with pytest.raises(LaunchError, match="must not be on the command line"):
        parse(["--enable-api", *argv], {"RASA_API_TOKEN": "t"})


def test_an_api_without_a_token_is_refused() -> None:
    with pytest.raises(LaunchError, match="needs RASA_API_TOKEN"):
        parse(["--enable-api"], {})
    assert parse([], {}).auth_token is None  # no API, no token needed
