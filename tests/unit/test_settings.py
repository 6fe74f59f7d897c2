"""The settings package: every variable's default, one failure rule for bad values (a SettingsError that
names the variable, at start-up), secrets with no default outside dev, and the processes that stop on a
bad value with exit code 2 and the message instead of a traceback."""

from __future__ import annotations

import ast
import math
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Dict, List

import pytest

from settings import DEV, PROJECT_ROOT, SettingsError, current, default_database_url, load
from settings.load import KNOWN_DEFAULT_SECRETS

PRODUCTION = {"COVERLINE_ENV": "production"}
STRONG = "k" * 48


def settings_of(environ: Dict[str, str], var_dir: Path):  # type: ignore[no-untyped-def]
    return load(environ, var_dir=var_dir)


# -- defaults: what the code read before the settings package existed ---------------------------------


def test_an_empty_environment_gives_the_documented_defaults(tmp_path: Path) -> None:
    settings = settings_of({}, tmp_path)

    assert settings.env == DEV and settings.is_dev
    assert settings.database.url == f"sqlite:///{tmp_path / 'coverline.db'}"
    assert (settings.rasa.url, settings.rasa.public_url) == ("http://127.0.0.1:5005", "http://127.0.0.1:5005")
    assert (settings.rasa.host, settings.rasa.port) == ("127.0.0.1", 5005)
    assert (settings.actions.host, settings.actions.port) == ("127.0.0.1", 5055)
    assert (settings.webchat.host, settings.webchat.port, settings.webchat.cors_origins) == ("127.0.0.1", 8080, None)
    inbox = settings.inbox
    assert (inbox.host, inbox.port, inbox.log_level, inbox.forwarded_allow_ips) == ("127.0.0.1", 8090, "info", "")
    assert (inbox.cookie_secure, inbox.session_hours, inbox.login_max_failures, inbox.login_window_minutes) == (
        False,
        12.0,
        5,
        15,
    )
    channels = settings.channels
    assert channels.media_max_bytes == 100 * 1024 * 1024
    assert (channels.redelivery_interval_seconds, channels.redelivery_after_seconds) == (30.0, 360.0)
    assert channels.delivery_retention == timedelta(days=8)
    assert settings.handoff.negative_threshold == 0.75 and settings.handoff.conversation_floor == 0.7
    assert settings.handoff.sla_minutes == {1: 5, 2: 15, 3: 60}
    assert settings.verification.ttl == timedelta(hours=24) and settings.verification.customer_token_secret is None
    retrieval = settings.retrieval
    assert (retrieval.backend, retrieval.index_dir) == ("numpy", PROJECT_ROOT / "models" / "past_replies")
    assert retrieval.options == {
        "faiss_factory": "HNSW32",
        "faiss_ef_search": 128,
        "pgvector_url": settings.database.url,
        "pgvector_table": "reply_vectors",
        "pgvector_ef_search": 100,
    }
    assert settings.rasa.rest_channel_token is None and settings.rasa.api_token.configured is None
    assert list(tmp_path.iterdir()) == []  # loading generates nothing; a secret is generated when asked for


def test_the_default_database_is_the_sqlite_file_in_var() -> None:
    assert default_database_url() == f"sqlite:///{PROJECT_ROOT / 'var' / 'coverline.db'}"


def test_configured_values_are_read(tmp_path: Path) -> None:
    settings = settings_of(
        {
            "DATABASE_URL": "postgresql://coverline@db:5432/coverline",
            "RASA_URL": "http://rasa:5005/",
            "RASA_PORT": "6005",
            "RASA_HOST": "0.0.0.0",
            "INBOX_COOKIE_SECURE": "yes",
            "INBOX_LOG_LEVEL": "WARNING",
            "INBOX_SESSION_HOURS": "0.5",
            "COVERLINE_HANDOFF_NEGATIVE_THRESHOLD": "OFF",
            "COVERLINE_HANDOFF_CONVERSATION_FLOOR": "0.6",
            "COVERLINE_VERIFICATION_TTL_HOURS": "168",
            "CORS_ORIGINS": "https://Harbor.example/, https://www.harbor.example https://harbor.example",
            "RETRIEVAL_BACKEND": "pgvector",
            "RETRIEVAL_PGVECTOR_TABLE": "vectors_v2",
        },
        tmp_path,
    )
    assert settings.database.url == "postgresql://coverline@db:5432/coverline"
    assert settings.rasa.url == "http://rasa:5005" and settings.rasa.public_url == "http://rasa:5005/"
    assert (settings.rasa.host, settings.rasa.port) == ("0.0.0.0", 6005)
    assert settings.inbox.cookie_secure is True and settings.inbox.log_level == "warning"
    assert settings.inbox.session_hours == 0.5
    assert math.isinf(settings.handoff.negative_threshold) and settings.handoff.conversation_floor == 0.6
    assert settings.verification.ttl == timedelta(days=7)
    assert settings.webchat.cors_origins == ("https://harbor.example", "https://www.harbor.example")
    assert settings.retrieval.backend == "pgvector" and settings.retrieval.pgvector_url == settings.database.url
    assert settings.retrieval.pgvector_table == "vectors_v2"


def test_a_blank_variable_is_the_default_except_cors_origins(tmp_path: Path) -> None:
    settings = settings_of(
        {"INBOX_PORT": "  ", "DATABASE_URL": "", "INBOX_SLA_MINUTES": " ", "CORS_ORIGINS": ""}, tmp_path
    )
    assert settings.inbox.port == 8090 and settings.database.url == default_database_url(tmp_path)
    assert settings.handoff.sla_minutes == {1: 5, 2: 15, 3: 60}
    # set but blank: no other origin may open the web chat socket (as bot/channels/socketio.py always read it)
    assert settings.webchat.cors_origins == ()


# -- one failure rule: a bad value is a SettingsError naming the variable -----------------------------

BAD_VALUES = [
    ("DATABASE_URL", "var/coverline.db"),
    ("RASA_URL", "127.0.0.1:5005"),
    ("RASA_PUBLIC_URL", "chat.harbor.example"),
    ("RASA_PORT", "http"),
    ("ACTIONS_PORT", "0"),
    ("ACTIONS_NATIVE_THREADS", "0"),
    ("WEBCHAT_PORT", "70000"),
    ("INBOX_PORT", "8090.5"),
    ("INBOX_LOG_LEVEL", "verbose"),
    ("INBOX_COOKIE_SECURE", "maybe"),
    ("INBOX_SESSION_HOURS", "-1"),
    ("INBOX_SESSION_HOURS", "nan"),
    ("INBOX_LOGIN_MAX_FAILURES", "0"),
    ("INBOX_LOGIN_WINDOW_MINUTES", "fifteen"),
    ("INBOX_SLA_MINUTES", "1=5"),
    ("INBOX_SLA_MINUTES", "1:0"),
    ("INBOX_SLA_MINUTES", ","),
    ("CORS_ORIGINS", "https://*.harbor.example"),
    ("COVERLINE_MEDIA_MAX_BYTES", "100MB"),
    ("COVERLINE_REDELIVERY_INTERVAL_SECONDS", "0"),
    ("COVERLINE_REDELIVERY_AFTER_SECONDS", "soon"),
    ("COVERLINE_DELIVERY_RETENTION_DAYS", "inf"),
    ("COVERLINE_HANDOFF_NEGATIVE_THRESHOLD", "high"),
    ("COVERLINE_HANDOFF_NEGATIVE_THRESHOLD", "1.5"),
    ("COVERLINE_HANDOFF_CONVERSATION_FLOOR", "0"),
    ("COVERLINE_VERIFICATION_TTL_HOURS", "169"),
    ("RETRIEVAL_BACKEND", "annoy"),
    ("RETRIEVAL_FAISS_EF_SEARCH", "-5"),
    ("RETRIEVAL_PGVECTOR_URL", "db:5432"),
    ("RETRIEVAL_PGVECTOR_TABLE", "reply_vectors; drop table customers"),
    ("RETRIEVAL_PGVECTOR_EF_SEARCH", "many"),
]


@pytest.mark.parametrize("variable, value", BAD_VALUES)
def test_a_bad_value_is_a_settings_error_naming_the_variable(variable: str, value: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        settings_of({variable: value}, tmp_path)
    assert str(raised.value).startswith(f"{variable}={value.strip()!r}: "), str(raised.value)


def test_every_bad_value_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        settings_of({"INBOX_PORT": "x", "RASA_PORT": "y", "INBOX_SLA_MINUTES": "z"}, tmp_path)
    message = str(raised.value)
    assert message.startswith("3 settings are unusable")
    assert all(name in message for name in ("INBOX_PORT", "RASA_PORT", "INBOX_SLA_MINUTES"))


@pytest.mark.parametrize(
    "variable, value, expected",
    [
        ("ACTION_SERVER_TOKEN", "short-token", "ACTION_SERVER_TOKEN must be set to a shared secret of at least 16"),
        ("WEBCHAT_SESSION_SECRET", "s3cret-but-only-24-chars", "WEBCHAT_SESSION_SECRET must be at least 32"),
        ("CUSTOMER_TOKEN_SECRET", "s3cret-but-only-24-chars", "CUSTOMER_TOKEN_SECRET must be at least 32 bytes"),
    ],
)
def test_a_short_secret_is_refused_without_showing_it(variable: str, value: str, expected: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=expected) as raised:
        settings_of({variable: value}, tmp_path)
    assert value not in str(raised.value)


@pytest.mark.parametrize("secret", ["changethis", "CHANGEME", "too-short-for-production"])
def test_a_weak_inbox_secret_is_refused_outside_dev_only(secret: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="INBOX_SECRET_KEY must be a random string of at least 32") as raised:
        settings_of({**PRODUCTION, "INBOX_SECRET_KEY": secret}, tmp_path)
    assert secret not in str(raised.value)
    assert settings_of({"INBOX_SECRET_KEY": secret}, tmp_path).inbox.secret_key.value() == secret  # dev: any key
    assert "changethis" in KNOWN_DEFAULT_SECRETS


# -- secrets: generated in dev, never defaulted outside it --------------------------------------------

DEV_SECRETS = [
    ("RASA_API_TOKEN", "rasa_api_token", lambda s: s.rasa.api_token),
    ("ACTION_SERVER_TOKEN", "action_server_token", lambda s: s.actions.token),
    ("INBOX_SECRET_KEY", "inbox_secret_key", lambda s: s.inbox.secret_key),
    ("WEBCHAT_SESSION_SECRET", "webchat_session_secret", lambda s: s.webchat.session_secret),
]


@pytest.mark.parametrize("variable, file_name, secret_of", DEV_SECRETS)
def test_in_dev_a_missing_secret_is_generated_once_into_var(variable, file_name, secret_of, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = secret_of(settings_of({}, tmp_path)).value()
    path = tmp_path / file_name
    assert len(first) >= 32 and path.read_text() == first
    assert path.stat().st_mode & 0o777 == 0o600
    assert secret_of(settings_of({}, tmp_path)).value() == first  # the same after a restart
    assert secret_of(settings_of({variable: STRONG}, tmp_path)).value() == STRONG  # configured wins


@pytest.mark.parametrize("variable, file_name, secret_of", DEV_SECRETS)
def test_outside_dev_a_missing_secret_is_a_settings_error(variable, file_name, secret_of, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = settings_of(PRODUCTION, tmp_path)  # loads: this process may not need that secret
    with pytest.raises(SettingsError, match=f"{variable} is not set; outside dev"):
        secret_of(settings).value()
    assert not (tmp_path / file_name).exists()
    assert secret_of(settings_of({**PRODUCTION, variable: STRONG}, tmp_path)).value() == STRONG


def test_the_inbox_settings_resolve_both_secrets_and_refuse_production_without_them(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="INBOX_SECRET_KEY"):
        settings_of({**PRODUCTION, "RASA_API_TOKEN": "t"}, tmp_path).for_inbox()
    with pytest.raises(SettingsError, match="RASA_API_TOKEN"):
        settings_of({**PRODUCTION, "INBOX_SECRET_KEY": STRONG}, tmp_path).for_inbox()
    inbox = settings_of({**PRODUCTION, "INBOX_SECRET_KEY": STRONG, "RASA_API_TOKEN": " t\n"}, tmp_path).for_inbox()
    assert (inbox.secret_key, inbox.rasa_api_token, inbox.cookie_secure, inbox.is_dev) == (STRONG, "t", True, False)


def test_shared_keys_are_used_byte_for_byte_and_never_shown(tmp_path: Path) -> None:
    key = "k" * 40 + " "  # the insurer's page server signs with exactly this
    settings = settings_of({"CUSTOMER_TOKEN_SECRET": key, "WEBCHAT_SESSION_SECRET": key}, tmp_path)
    assert settings.verification.customer_token_secret == key.encode()
    assert settings.webchat.session_secret.value() == key
    assert key.strip() not in repr(settings)


# -- the environment's name ---------------------------------------------------------------------------


def test_coverline_env_is_the_name_and_inbox_env_still_works(tmp_path: Path) -> None:
    assert settings_of({"COVERLINE_ENV": "Production"}, tmp_path).env == "production"
    assert settings_of({"INBOX_ENV": "staging"}, tmp_path).env == "staging"
    assert settings_of({"COVERLINE_ENV": "dev", "INBOX_ENV": "DEV"}, tmp_path).is_dev
    with pytest.raises(SettingsError, match="COVERLINE_ENV='production' and INBOX_ENV='dev' disagree"):
        settings_of({"COVERLINE_ENV": "production", "INBOX_ENV": "dev"}, tmp_path)


# -- INBOX_SLA_MINUTES: one parser for the inbox and the bot's promise --------------------------------


def test_the_sla_is_parsed_once_for_the_inbox_and_the_handoff(tmp_path: Path) -> None:
    settings = settings_of({"INBOX_SLA_MINUTES": "1:10, 2:30,3:120"}, tmp_path)
    assert settings.handoff.sla_minutes == {1: 10, 2: 30, 3: 120}
    assert settings.for_inbox().sla_minutes == settings.handoff.sla_minutes
    assert settings.for_inbox().sla_for(9) == 120
    with pytest.raises(SettingsError, match=r"INBOX_SLA_MINUTES='garbage': 'garbage' is not priority:minutes"):
        settings_of({"INBOX_SLA_MINUTES": "garbage"}, tmp_path)  # the handoff used to fall back silently


# -- current(): parsed once per environment -----------------------------------------------------------


def test_current_follows_the_environment_and_stops_on_a_bad_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOX_PORT", "9191")
    assert current().inbox.port == 9191
    assert current() is current()  # the same environment is not parsed again
    monkeypatch.setenv("INBOX_PORT", "nine")
    with pytest.raises(SettingsError, match="INBOX_PORT"):
        current()
    monkeypatch.delenv("INBOX_PORT")
    assert current().inbox.port == 8090


# -- layers -------------------------------------------------------------------------------------------

PROJECT_PACKAGES = ("actions", "bot", "conversations", "inbox", "retrieval", "runner", "storage", "webchat")


def imported_modules(path: Path) -> List[str]:
    names: List[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_settings_imports_nothing_from_the_project() -> None:
    for path in (PROJECT_ROOT / "settings").glob("*.py"):
        project = [name for name in imported_modules(path) if name.split(".")[0] in PROJECT_PACKAGES]
        assert project == [], path


def test_no_product_module_imports_the_runner() -> None:
    for package in PROJECT_PACKAGES + ("settings",):
        if package == "runner":
            continue
        for path in (PROJECT_ROOT / package).rglob("*.py"):
            assert not [name for name in imported_modules(path) if name.split(".")[0] == "runner"], path


def test_the_retrieval_backends_are_the_ones_settings_accepts() -> None:
    from retrieval.backends import BACKENDS
    from settings.model import RETRIEVAL_BACKENDS

    assert sorted(RETRIEVAL_BACKENDS) == sorted(BACKENDS)


def test_docs_list_every_variable() -> None:
    source = (PROJECT_ROOT / "settings" / "load.py").read_text()
    variables = set(re.findall(r'"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"', source))
    documented = (PROJECT_ROOT / "docs" / "settings.md").read_text()
    assert len(variables) > 40
    assert sorted(v for v in variables if f"`{v}`" not in documented) == []


# -- processes stop at start-up with the message, exit code 2, no traceback ---------------------------


@pytest.mark.parametrize(
    "command, variable, value",
    [
        (["-m", "inbox", "serve", "--port", "1"], "INBOX_SESSION_HOURS", "twelve"),
        (["-m", "actions.server", "--port", "1"], "COVERLINE_HANDOFF_NEGATIVE_THRESHOLD", "high"),
        (["-m", "bot.server", "--enable-api"], "COVERLINE_MEDIA_MAX_BYTES", "lots"),
        (["-m", "retrieval", "stats"], "RETRIEVAL_BACKEND", "annoy"),
        ([str(PROJECT_ROOT / "webchat" / "serve.py"), "--port", "1"], "WEBCHAT_PORT", "eighty"),
    ],
)
def test_a_process_with_a_bad_value_stops_with_the_message(command: List[str], variable: str, value: str) -> None:
    env = {**os.environ, variable: value, "INBOX_SLA_MINUTES": "1:5,2:x"}
    result = subprocess.run(
        [sys.executable, *command], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "configuration error: 2 settings are unusable" in result.stderr
    assert f"{variable}={value!r}" in result.stderr and "INBOX_SLA_MINUTES='1:5,2:x'" in result.stderr


def test_make_run_stops_on_a_bad_value_before_starting_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from runner import __main__ as runner_main

    monkeypatch.setattr(runner_main, "ServerSet", None)  # reaching it would be the bug
    monkeypatch.setenv("RASA_PORT", "5005x")
    with pytest.raises(SystemExit) as exited:
        runner_main.main()
    assert exited.value.code == 2
    assert "make run: configuration error: RASA_PORT='5005x'" in capsys.readouterr().err
