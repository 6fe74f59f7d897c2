"""Deliveries that fail are retried and recorded, never dropped; acknowledging and resolving are audited."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Tuple

import pytest
from sqlalchemy import select

from alerts.delivery import Deliverer, SmtpConfig
from alerts.lifecycle import AlertTransitionRefused, acknowledge, resolve
from storage.engine import session_scope
from storage.models import Agent, Alert, AlertDelivery, AlertRule, AuditEntry
from tests.support.alert_receivers import WebhookReceiver
from tests.support.network import free_port

NOW = datetime(2026, 10, 20, 14, 21)


def raised_alert(url: str, webhooks: list, emails: list = ()) -> int:  # type: ignore[assignment]
    """An alert as the monitor stores it, with one queued delivery per recipient."""
    with session_scope(url) as session:
        rule = AlertRule(
            name="negative-share-per-channel",
            metric="negative_share",
            scope="channel",
            sensitivity=1.5,
            min_volume=8,
            cooldown_minutes=720,
            recipients={"webhooks": webhooks, "emails": list(emails)},
        )
        session.add(rule)
        session.flush()
        alert = Alert(
            rule_id=rule.id,
            metric="negative_share",
            scope_value="twitter",
            started_at=NOW - timedelta(minutes=16),
            window_end=NOW - timedelta(minutes=1),
            raised_at=NOW,
            before_value=0.12,
            now_value=0.61,
            volume=48,
            zscore=2.5,
            summary="twitter: negative share 12 % → 61 % in the last 15 minutes, 48 messages",
            message_ids=[],
        )
        session.add(alert)
        session.flush()
        for url_ in webhooks:
            session.add(AlertDelivery(alert_id=alert.id, channel="webhook", recipient=url_, next_attempt_at=NOW))
        for address in emails:
            session.add(AlertDelivery(alert_id=alert.id, channel="email", recipient=address, next_attempt_at=NOW))
        return alert.id


def delivery(url: str) -> Tuple[str, int, str]:
    with session_scope(url) as session:
        row = session.scalars(select(AlertDelivery)).one()
        return row.status, row.attempts, row.last_error


def test_a_failing_webhook_is_retried_with_back_off_until_it_takes_the_alert(alerts_db: str) -> None:
    with WebhookReceiver(failures=2) as webhook:
        raised_alert(alerts_db, [webhook.url])
        deliverer = Deliverer()
        assert deliverer.deliver_due(alerts_db, NOW) == {"sent": 0, "retry": 1, "failed": 0}
        status, attempts, error = delivery(alerts_db)
        assert (status, attempts) == ("pending", 1) and "500" in error
        assert deliverer.deliver_due(alerts_db, NOW + timedelta(seconds=30)) == {"sent": 0, "retry": 0, "failed": 0}
        assert deliverer.deliver_due(alerts_db, NOW + timedelta(minutes=1)) == {"sent": 0, "retry": 1, "failed": 0}
        assert deliverer.deliver_due(alerts_db, NOW + timedelta(minutes=2)) == {"sent": 0, "retry": 0, "failed": 0}
        assert deliverer.deliver_due(alerts_db, NOW + timedelta(minutes=3)) == {"sent": 1, "retry": 0, "failed": 0}
        assert delivery(alerts_db) == ("sent", 3, None)
        assert len(webhook.payloads) == 1 and webhook.requests == 3


def test_a_recipient_that_never_answers_ends_failed_with_its_last_error(sqlite_db: str) -> None:
    raised_alert(sqlite_db, [f"http://127.0.0.1:{free_port()}/hook"], ["team@insurer.example"])
    deliverer = Deliverer(SmtpConfig(host="127.0.0.1", port=free_port(), sender="a@insurer.example", timeout=2))
    moment = NOW
    for _ in range(3):
        deliverer = Deliverer(deliverer.smtp, max_attempts=3)
        deliverer.deliver_due(sqlite_db, moment)
        moment += timedelta(hours=1)
    with session_scope(sqlite_db) as session:
        rows = {row.channel: row for row in session.scalars(select(AlertDelivery))}
    assert {channel: (row.status, row.attempts) for channel, row in rows.items()} == {
        "webhook": ("failed", 3),
        "email": ("failed", 3),
    }
    assert "Connection refused" in rows["webhook"].last_error and rows["email"].last_error.startswith("email to ")


def test_acknowledge_and_resolve_are_audited_and_happen_once(alerts_db: str) -> None:
    alert_id = raised_alert(alerts_db, [])
    with session_scope(alerts_db) as session:
        agent = Agent(email="lead@insurer.example", name="Team Lead", role="admin", password_hash="x")
        session.add(agent)
        session.flush()
        agent_id = agent.id
    with session_scope(alerts_db) as session:
        acknowledge(session, alert_id, agent_id, ip="127.0.0.1")
    with pytest.raises(AlertTransitionRefused), session_scope(alerts_db) as session:
        acknowledge(session, alert_id, agent_id)
    with session_scope(alerts_db) as session:
        resolve(session, alert_id, agent_id)
    with pytest.raises(AlertTransitionRefused), session_scope(alerts_db) as session:
        resolve(session, alert_id, agent_id)
    with session_scope(alerts_db) as session:
        alert = session.get(Alert, alert_id)
        trail = [(e.action, e.agent_id, e.detail) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert alert.status == "resolved"
    assert alert.acknowledged_by_id == alert.resolved_by_id == agent_id
    assert alert.acknowledged_at <= alert.resolved_at
    assert trail == [
        ("alert_acknowledged", agent_id, {"alert_id": alert_id}),
        ("alert_resolved", agent_id, {"alert_id": alert_id}),
    ]
