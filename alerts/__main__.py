"""`python -m alerts run` (every COVERLINE_ALERTS_INTERVAL_SECONDS until stopped), `python -m alerts once`,
`python -m alerts load-rules`.

The database, the SMTP server and the team-wide recipients come from the settings (settings/, COVERLINE_ALERTS_*,
docs/settings.md), read once at start-up: a bad value or an SMTP user without a password stops the monitor with
exit code 2 and the message. Without an SMTP host, emails are queued and retried, and their deliveries say why
they are not sent.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from pathlib import Path
from typing import List, Optional

from alerts.config import smtp_config, team_recipients
from alerts.delivery import Deliverer
from alerts.monitor import Monitor
from alerts.rules import DEFAULT_RULES, load_rules, read_rules
from settings import SettingsError, exit_with, load_at_startup
from storage.engine import session_scope
from storage.migrate import require_current
from storage.models import utcnow

logger = logging.getLogger("alerts")
PROGRAM = "python -m alerts"


def parse_arguments(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROGRAM, description="Coverline spike alerts (settings: docs/settings.md)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="watch every COVERLINE_ALERTS_INTERVAL_SECONDS until stopped")
    commands.add_parser("once", help="catch up once and deliver (cron)")
    rules = commands.add_parser("load-rules", help="create or update rules from a YAML file, by name")
    rules.add_argument("--file", type=Path, default=DEFAULT_RULES)
    rules.add_argument("--webhook", action="append", default=None, help="recipient for every rule (repeatable)")
    rules.add_argument("--email", action="append", default=None, help="recipient for every rule (repeatable)")
    return parser.parse_args(argv)


def run_once(monitor: Monitor, deliverer: Deliverer) -> None:
    raised = monitor.run_once()
    outcome = deliverer.deliver_due(monitor.url, monitor.clock())
    if raised or any(outcome.values()):
        logger.info("raised %s alert(s); deliveries %s", len(raised), outcome)


def watch(monitor: Monitor, deliverer: Deliverer, interval: float) -> None:
    """Run every `interval` seconds until SIGTERM or Ctrl-C; a run in progress finishes first (its transaction
    is short), so the runner's stop never leaves a half-fed day."""
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    logger.info("watching every %.0f s", interval)
    while not stopping.is_set():
        started = time.monotonic()
        try:
            run_once(monitor, deliverer)
        except Exception:  # one failed run (database restarting) must not stop the watch
            logger.exception("alert run failed; trying again in %.0f s", interval)
        elapsed = time.monotonic() - started
        stopping.wait(max(interval - elapsed, 1.0))
    logger.info("stopped")


def main(argv: Optional[List[str]] = None) -> None:
    arguments = parse_arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = load_at_startup(PROGRAM)
    url = settings.database.url
    require_current(url)
    if arguments.command == "load-rules":
        recipients = None
        if arguments.webhook is not None or arguments.email is not None:
            recipients = {"webhooks": arguments.webhook or [], "emails": arguments.email or []}
        with session_scope(url) as session:
            names = [rule.name for rule in load_rules(session, read_rules(arguments.file), recipients)]
        print(f"rules loaded: {', '.join(names)}")
        return
    try:
        deliverer = Deliverer(smtp_config(settings.alerts))
    except SettingsError as error:
        exit_with(PROGRAM, error)
    monitor = Monitor(url, clock=utcnow, team=team_recipients(settings.alerts))
    if arguments.command == "once":
        run_once(monitor, deliverer)
        return
    watch(monitor, deliverer, settings.alerts.interval_seconds)


if __name__ == "__main__":
    main()
