"""`make run`: migrate and seed the database, start the processes (bot, actions, web chat, inbox, alert monitor,
learning worker), show where to go."""

from __future__ import annotations

import sys

from alerts.config import smtp_config
from alerts.rules import ensure_default_rules
from inbox.services.agents import seed_demo_agents
from inbox.settings import demo_password_file
from recommendations.library import DEMO_LIBRARY, import_library
from retrieval.corpus import demo_corpus_files, import_files
from runner.servers import MODEL_PATH, ServerSet, action_server_token
from settings import SettingsError, exit_with, load_at_startup
from storage.engine import session_scope
from storage.migrate import upgrade
from storage.seed import seed


def main() -> int:
    settings = load_at_startup("make run")  # a bad value stops here: exit code 2 and what to fix
    try:  # the secrets every process is handed: set, or in dev generated into var/
        inbox_settings = settings.for_inbox()
        action_server_token()
        settings.webchat.session_secret.value()
        if settings.alerts.enabled:
            smtp_config(settings.alerts)  # an SMTP user without a password stops here, before anything starts
    except SettingsError as error:
        exit_with("make run", error)
    if not MODEL_PATH.exists():
        print(f"No trained model at {MODEL_PATH}: run `make train` (make run does it for you).", file=sys.stderr)
        return 2
    servers = ServerSet(with_inbox=True, with_alerts=settings.alerts.enabled, with_learning=True)
    upgrade(servers.db_url)
    with session_scope(servers.db_url) as session:
        added = seed(session)
        replies = import_files(session, demo_corpus_files())
        content = import_library(session, [DEMO_LIBRARY])
    print(f"database ready ({servers.db_url.split('@')[-1]}); demo rows added: {added}")
    print(f"past replies: {replies.summary()}")
    print(f"content library: {content.summary()}")
    announce_demo_agents(servers.db_url, inbox_settings.is_dev)
    announce_alerts(servers.db_url, settings.alerts.enabled)
    servers.start()
    try:
        servers.wait_ready()
    except (RuntimeError, TimeoutError) as error:
        print(f"start-up failed: {error}", file=sys.stderr)
        servers.stop()
        return 1
    print(
        "\nCoverline is up:\n"
        f"  web chat       {servers.webchat_url}\n"
        f"  agents' inbox  {servers.inbox_url}  (API docs {servers.inbox_url}/api/docs)\n"
        + (
            f"  spike alerts   {servers.inbox_url}/alerts  (monitor every {settings.alerts.interval_seconds:g} s)\n"
            if servers.with_alerts
            else ""
        )
        + f"  models         {servers.inbox_url}/admin/models  (retrain / restore, admins)\n"
        + f'  Rasa REST      POST {servers.rasa_url}/webhooks/rest/webhook  {{"sender": "me", "message": "hi"}}'
        "  with Authorization: Bearer <var/rasa_api_token>\n"
        f"  Rasa HTTP API  {servers.rasa_url}/status?token=<var/rasa_api_token>\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )
    return servers.watch()


def announce_alerts(db_url: str, enabled: bool) -> None:
    """With the monitor on, a database without alert rules gets the default ones (alerts/default_rules.yml), so
    a new deployment watches for spikes out of the box; rules that exist are left as they are."""
    if not enabled:
        print("spike alerts: off (COVERLINE_ALERTS_ENABLED)")
        return
    with session_scope(db_url) as session:
        loaded = ensure_default_rules(session)
    if loaded:
        print(f"spike alerts: default rules loaded ({', '.join(loaded)})")


def announce_demo_agents(db_url: str, is_dev: bool) -> None:
    """In dev, an inbox with no agents gets a demo admin and agent with random passwords, shown once here
    and kept in var/ (mode 600); elsewhere the first admin comes from `python -m inbox create-admin`."""
    if not is_dev:
        print("inbox: create the first admin with `python -m inbox create-admin --email … --name …`")
        return
    with session_scope(db_url) as session:
        created = seed_demo_agents(session)
    if not created:
        return
    lines = [f"  {role:<5}  {email}  password: {password}" for email, role, password in created]
    path = demo_password_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    print("inbox demo agents (dev only; also in var/inbox_demo_agents.txt):\n" + "\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
