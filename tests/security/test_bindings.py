"""Who can reach each port: on one machine (`make run`) every process listens on loopback only; a
deployment opens the public doors on purpose (RASA_HOST, behind a TLS proxy; docs/security.md)."""

from __future__ import annotations

import pytest

from actions import server as action_server
from runner.servers import Ports, ServerSet


@pytest.fixture
def commands(monkeypatch: pytest.MonkeyPatch) -> dict:
    for variable in ("RASA_HOST", "ACTIONS_HOST", "WEBCHAT_HOST", "INBOX_HOST"):
        monkeypatch.delenv(variable, raising=False)
    return ServerSet(ports=Ports(5005, 5055, 8080, 8090), with_inbox=True).commands()


def test_the_rasa_server_listens_on_loopback_unless_told(commands: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    rasa = commands["rasa"]
    assert rasa[rasa.index("--interface") + 1] == "127.0.0.1"
    monkeypatch.setenv("RASA_HOST", "0.0.0.0")
    rasa = ServerSet(ports=Ports(5005, 5055, 8080, 8090)).commands()["rasa"]
    assert rasa[rasa.index("--interface") + 1] == "0.0.0.0"


def test_no_process_is_given_a_public_address_by_default(commands: dict) -> None:
    for name, command in commands.items():
        assert "0.0.0.0" not in command, name
        for option in ("--host", "--interface", "-i"):
            if option in command:
                assert command[command.index(option) + 1] == "127.0.0.1", name


def test_the_action_server_defaults_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACTIONS_HOST", raising=False)
    seen = {}
    monkeypatch.setattr(action_server, "required_token", lambda: "x" * 32)
    monkeypatch.setattr(
        action_server,
        "build_app",
        lambda token, package: type("App", (), {"run": lambda self, host, port, **kw: seen.update(host=host)})(),
    )
    assert action_server.main(["--port", "5999"]) == 0
    assert seen["host"] == "127.0.0.1"
