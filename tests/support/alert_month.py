"""The simulated month of issue 17's monitor acceptance, shared by its tests and `tests/alerts/replay_seeds.py`:
the storm, the clock the monitor is driven by, and reading back what it raised."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterator, List, Optional

from sqlalchemy import select

from alerts.delivery import Deliverer
from alerts.monitor import Monitor, Recipients
from alerts.rules import load_rules, read_rules
from storage.engine import session_scope
from storage.models import Alert
from tests.support.alert_traffic import DAYS, MONTH_START, Spike, write_month

SEED = 3
STORM = Spike("twitter", MONTH_START + timedelta(days=19, hours=14, minutes=7), negative_share=0.8, volume_factor=4)
END = MONTH_START + timedelta(days=DAYS, minutes=10)


def fill(url: str, storm: bool, webhooks: List[str] = (), emails: List[str] = ()) -> None:  # type: ignore[assignment]
    with session_scope(url) as session:
        write_month(session, SEED, STORM if storm else None)
        load_rules(session, read_rules(), {"webhooks": list(webhooks), "emails": list(emails)})


def clock_steps() -> Iterator[datetime]:
    """A day at a time (catching up), then every minute around the storm, as `python -m alerts run` would."""
    moment, minute_by_minute = MONTH_START, STORM.start - timedelta(minutes=10)
    while moment + timedelta(days=1) < minute_by_minute:
        moment += timedelta(days=1)
        yield moment
    for minute in range(50):
        yield minute_by_minute + timedelta(minutes=minute)
    moment = minute_by_minute + timedelta(minutes=50)
    while moment < END:
        moment = min(moment + timedelta(days=1), END)
        yield moment


def replay(
    url: str,
    steps: Iterator[datetime],
    deliverer: Deliverer = None,  # type: ignore[assignment]
    team: Optional[Recipients] = None,
) -> None:
    now = [MONTH_START]
    monitor = Monitor(url, clock=lambda: now[0], team=team)
    for moment in steps:
        now[0] = moment
        monitor.run_once()
        if deliverer is not None:
            deliverer.deliver_due(url, moment)


def alerts_in(url: str) -> List[Alert]:
    with session_scope(url) as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))
