"""`python -m alerts run` (every minute until stopped), `python -m alerts once`, `python -m alerts load-rules`.

The database is DATABASE_URL (settings/). Until the SMTP settings are in settings/ (proposed in docs/alerts.md),
the email server is given on the command line; without one, emails are queued and retried, and their
deliveries say why they are not sent.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import List, Optional

from alerts.delivery import Deliverer, SmtpConfig
from alerts.monitor import Monitor
from alerts.rules import DEFAULT_RULES, load_rules, read_rules
from settings import load_at_startup
from storage.engine import session_scope
from storage.migrate import require_current
from storage.models import utcnow

logger = logging.getLogger("alerts")
INTERVAL_SECONDS = 60.0


def parse_arguments(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m alerts", description="Coverline spike alerts")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("run", "watch every minute until stopped"), ("once", "catch up once and deliver")):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--smtp-host")
        command.add_argument("--smtp-port", type=int, default=25)
        command.add_argument("--smtp-sender", default="coverline-alerts@localhost")
        command.add_argument("--smtp-starttls", action="store_true")
        command.add_argument("--smtp-ssl", action="store_true")
        command.add_argument("--smtp-user")
        command.add_argument("--smtp-password-file", type=Path, help="a file holding the SMTP password")
    rules = commands.add_parser("load-rules", help="create or update rules from a YAML file, by name")
    rules.add_argument("--file", type=Path, default=DEFAULT_RULES)
    rules.add_argument("--webhook", action="append", default=None, help="recipient for every rule (repeatable)")
    rules.add_argument("--email", action="append", default=None, help="recipient for every rule (repeatable)")
    return parser.parse_args(argv)


def smtp_config(arguments: argparse.Namespace) -> Optional[SmtpConfig]:
    if not arguments.smtp_host:
        return None
    password = arguments.smtp_password_file.read_text().strip() if arguments.smtp_password_file else None
    return SmtpConfig(
        host=arguments.smtp_host,
        port=arguments.smtp_port,
        sender=arguments.smtp_sender,
        starttls=arguments.smtp_starttls,
        ssl=arguments.smtp_ssl,
        user=arguments.smtp_user,
        password=password,
    )


def run_once(monitor: Monitor, deliverer: Deliverer) -> None:
    raised = monitor.run_once()
    outcome = deliverer.deliver_due(monitor.url, monitor.clock())
    if raised or any(outcome.values()):
        logger.info("raised %s alert(s); deliveries %s", len(raised), outcome)


def main(argv: Optional[List[str]] = None) -> None:
    arguments = parse_arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    url = load_at_startup("python -m alerts").database.url
    require_current(url)
    if arguments.command == "load-rules":
        recipients = None
        if arguments.webhook is not None or arguments.email is not None:
            recipients = {"webhooks": arguments.webhook or [], "emails": arguments.email or []}
        with session_scope(url) as session:
            names = [rule.name for rule in load_rules(session, read_rules(arguments.file), recipients)]
        print(f"rules loaded: {', '.join(names)}")
        return
    monitor = Monitor(url, clock=utcnow)
    deliverer = Deliverer(smtp_config(arguments))
    if arguments.command == "once":
        run_once(monitor, deliverer)
        return
    while True:
        started = time.monotonic()
        try:
            run_once(monitor, deliverer)
        except Exception:  # one failed run (database restarting) must not stop the watch
            logger.exception("alert run failed; trying again in a minute")
        time.sleep(max(INTERVAL_SECONDS - (time.monotonic() - started), 1.0))


if __name__ == "__main__":
    main()
