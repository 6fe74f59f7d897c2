"""`make run` starts the alert monitor (unless COVERLINE_ALERTS_ENABLED is off) after loading the default rules
into an empty table, and stops it; the monitor reads its SMTP server and team recipients only through the settings,
and a bad value or an SMTP user without a password stops it at start-up with the message, exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict

import pytest
from sqlalchemy import func, select

from alerts.rules import read_rules
from runner.__main__ import announce_alerts
from runner.servers import PROJECT_ROOT, ServerSet
from settings import SettingsError, load
from storage.engine import session_scope
from storage.models import AlertDelivery, AlertRule
from tests.support.alert_inbox import stored_alert
from tests.support.alert_receivers import SmtpReceiver, WebhookReceiver

PRODUCTION = {"COVERLINE_ENV": "production"}


def rule_names(url: str) -> Dict[str, bool]:
    with session_scope(url) as session:
        return {rule.name: rule.enabled for rule in session.scalars(select(AlertRule).order_by(AlertRule.id))}


def test_the_default_rules_are_loaded_into_an_empty_table_only(sqlite_db: str, capsys: pytest.CaptureFixture) -> None:
    announce_alerts(sqlite_db, enabled=False)
    assert rule_names(sqlite_db) == {} and "spike alerts: off" in capsys.readouterr().out
    announce_alerts(sqlite_db, enabled=True)
    defaults = [spec.name for spec in read_rules()]
    assert list(rule_names(sqlite_db)) == defaults and "default rules loaded" in capsys.readouterr().out
    with session_scope(sqlite_db) as session:  # a team's own changes are never overwritten
        session.scalar(select(AlertRule).where(AlertRule.name == defaults[0])).enabled = False
        session.delete(session.scalar(select(AlertRule).where(AlertRule.name == defaults[1])))
    announce_alerts(sqlite_db, enabled=True)
    assert rule_names(sqlite_db) == {defaults[0]: False, defaults[2]: True}
    assert capsys.readouterr().out == ""


def test_the_runner_starts_the_monitor_only_when_enabled() -> None:
    servers = ServerSet(with_alerts=True)
    assert servers.commands()["alerts"] == [sys.executable, "-m", "alerts", "run"]
    assert "alerts" not in ServerSet().commands()
    assert load({}).alerts.enabled and not load({"COVERLINE_ALERTS_ENABLED": "off"}).alerts.enabled


def test_the_runner_starts_the_monitor_which_delivers_and_stops_cleanly(
    sqlite_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with WebhookReceiver() as webhook, SmtpReceiver() as smtp:
        stored_alert(sqlite_db, [], webhooks=[webhook.url], emails=["social@insurer.example"])
        settings_env = {
            "COVERLINE_ALERTS_SMTP_HOST": "127.0.0.1",
            "COVERLINE_ALERTS_SMTP_PORT": str(smtp.port),
            "COVERLINE_ALERTS_SMTP_FROM": "alerts@insurer.example",
            "COVERLINE_ALERTS_INTERVAL_SECONDS": "1",
        }
        servers = ServerSet(db_url=sqlite_db, with_webchat=False, with_alerts=True, extra_env=settings_env)
        only_the_monitor = {"alerts": servers.commands()["alerts"]}
        monkeypatch.setattr(servers, "commands", lambda: only_the_monitor)  # no model needed for this one
        servers.start()
        try:
            deadline = time.monotonic() + 60
            while not (webhook.payloads and smtp.messages):
                assert servers.processes["alerts"].poll() is None, "the monitor exited"
                assert time.monotonic() < deadline, "the monitor delivered nothing within 60 s"
                time.sleep(0.2)
        finally:
            servers.stop()
        assert servers.processes["alerts"].returncode == 0  # SIGTERM ends its loop; it exits cleanly
    assert webhook.payloads[0]["text"].startswith("Coverline alert: twitter: negative share")
    assert smtp.messages[0]["to"] == ["social@insurer.example"] and smtp.messages[0]["from"] == "alerts@insurer.example"
    with session_scope(sqlite_db) as session:
        assert session.scalar(select(func.count()).where(AlertDelivery.status == "sent")) == 2


@pytest.mark.parametrize(
    "environment, message",
    [
        ({"COVERLINE_ALERTS_SMTP_PORT": "smtp"}, "COVERLINE_ALERTS_SMTP_PORT='smtp': expected a whole number"),
        (
            {"COVERLINE_ALERTS_SMTP_HOST": "127.0.0.1", "COVERLINE_ALERTS_SMTP_USER": "alerts"},
            "COVERLINE_ALERTS_SMTP_PASSWORD is not set",
        ),
    ],
)
def test_the_monitor_stops_at_start_up_on_a_bad_value(
    sqlite_db: str, environment: Dict[str, str], message: str
) -> None:
    env = {**os.environ, "DATABASE_URL": sqlite_db, **environment}
    result = subprocess.run(
        [sys.executable, "-m", "alerts", "once"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and f"python -m alerts: configuration error: {message}" in result.stderr


def test_the_alert_settings_defaults_and_values(tmp_path: Path) -> None:
    defaults = load({}, var_dir=tmp_path).alerts
    assert (defaults.enabled, defaults.interval_seconds, defaults.webhook_urls, defaults.emails) == (True, 60.0, (), ())
    assert (defaults.smtp_host, defaults.smtp_port, defaults.smtp_from) == (None, 25, "coverline-alerts@localhost")
    assert (defaults.smtp_starttls, defaults.smtp_ssl, defaults.smtp_user, defaults.smtp_password) == (
        False,
        False,
        None,
        None,
    )
    hook = "https://hooks.slack.com/services/T0/B0/secret-part/"
    configured = load(
        {
            "COVERLINE_ALERTS_WEBHOOK_URLS": f"{hook}, http://127.0.0.1:9000/hook {hook}",
            "COVERLINE_ALERTS_EMAILS": "a@insurer.example b@insurer.example,a@insurer.example",
            "COVERLINE_ALERTS_SMTP_HOST": "smtp.insurer.example",
            "COVERLINE_ALERTS_SMTP_SSL": "yes",
            "COVERLINE_ALERTS_SMTP_USER": "alerts",
            "COVERLINE_ALERTS_SMTP_PASSWORD": " pass word ",
            "COVERLINE_ALERTS_INTERVAL_SECONDS": "30",
            **PRODUCTION,
        },
        var_dir=tmp_path,
    ).alerts
    assert configured.webhook_urls == (hook, "http://127.0.0.1:9000/hook")  # kept exactly: the path is the token
    assert configured.emails == ("a@insurer.example", "b@insurer.example")
    assert (configured.smtp_port, configured.smtp_ssl, configured.interval_seconds) == (465, True, 30.0)
    assert configured.smtp_password is not None and configured.smtp_password.value() == " pass word "
    assert "secret-part" not in repr(configured) and "pass word" not in repr(configured)


@pytest.mark.parametrize(
    "environment, message",
    [
        ({"COVERLINE_ALERTS_ENABLED": "maybe"}, "COVERLINE_ALERTS_ENABLED='maybe': expected one of"),
        ({"COVERLINE_ALERTS_INTERVAL_SECONDS": "0"}, "COVERLINE_ALERTS_INTERVAL_SECONDS='0': expected a number"),
        ({"COVERLINE_ALERTS_WEBHOOK_URLS": "hooks.slack.com/x"}, "COVERLINE_ALERTS_WEBHOOK_URLS='hooks.slack.com/x'"),
        ({"COVERLINE_ALERTS_EMAILS": "team@x, <evil@x>"}, "COVERLINE_ALERTS_EMAILS='team@x, <evil@x>': expected an"),
        ({"COVERLINE_ALERTS_SMTP_FROM": "alerts"}, "COVERLINE_ALERTS_SMTP_FROM='alerts': expected an email address"),
        ({"COVERLINE_ALERTS_SMTP_HOST": "smtp://x"}, "COVERLINE_ALERTS_SMTP_HOST='smtp://x': expected a host"),
        ({"COVERLINE_ALERTS_SMTP_STARTTLS": "1", "COVERLINE_ALERTS_SMTP_SSL": "1"}, "not both"),
        (
            {**PRODUCTION, "COVERLINE_ALERTS_SMTP_HOST": "smtp.insurer.example", "COVERLINE_ALERTS_SMTP_USER": "u"},
            "the password would cross the network in clear",
        ),
    ],
)
def test_a_bad_alert_setting_is_a_settings_error(environment: Dict[str, str], message: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        load(environment, var_dir=tmp_path)
    assert message in str(raised.value)


def test_a_login_in_clear_is_allowed_in_dev_and_to_a_loopback_server(tmp_path: Path) -> None:
    login = {"COVERLINE_ALERTS_SMTP_USER": "u", "COVERLINE_ALERTS_SMTP_PASSWORD": "p"}
    assert load({**login, "COVERLINE_ALERTS_SMTP_HOST": "smtp.insurer.example"}, var_dir=tmp_path).alerts.smtp_user
    assert load({**PRODUCTION, **login, "COVERLINE_ALERTS_SMTP_HOST": "localhost"}, var_dir=tmp_path).alerts.smtp_user
    secured = {**PRODUCTION, **login, "COVERLINE_ALERTS_SMTP_HOST": "smtp.insurer.example"}
    assert load({**secured, "COVERLINE_ALERTS_SMTP_STARTTLS": "on"}, var_dir=tmp_path).alerts.smtp_starttls
