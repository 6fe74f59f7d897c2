"""The acceptance of issue 17's monitor: a seeded month of traffic with daily and weekly rhythm, written as real
interaction-log rows and replayed through the monitor with an injected clock.

A storm on twitter (from 14:07 on day 20: four times the messages, 80 % negative, for two hours) raises exactly
one alert within 15 minutes, stored with its messages and delivered to a real webhook receiver and a real SMTP
server; the same month without it raises none; a monitor that stops mid-month and catches up raises the same.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import List, Tuple

from sqlalchemy import select

from alerts.delivery import Deliverer, SmtpConfig
from storage.engine import session_scope
from storage.models import AlertDelivery, AlertDetectorState, Message
from tests.support.alert_month import END, STORM, alerts_in, clock_steps, fill, replay
from tests.support.alert_receivers import SmtpReceiver, WebhookReceiver
from tests.support.alert_traffic import MONTH_START


def test_a_storm_raises_one_alert_within_15_minutes_delivered_everywhere(alerts_db: str) -> None:
    with WebhookReceiver() as webhook, SmtpReceiver() as smtp:
        fill(alerts_db, storm=True, webhooks=[webhook.url], emails=["social-team@insurer.example"])
        deliverer = Deliverer(SmtpConfig(host="127.0.0.1", port=smtp.port, sender="alerts@insurer.example"))
        replay(alerts_db, clock_steps(), deliverer)

        [alert] = alerts_in(alerts_db)
        assert alert.scope_value == "twitter" and alert.metric == "negative_share"
        assert timedelta(0) < alert.raised_at - STORM.start <= timedelta(minutes=15)
        assert alert.summary.startswith("twitter: negative share ") and "→" in alert.summary
        assert alert.status == "raised"
        with session_scope(alerts_db) as session:
            behind = list(session.scalars(select(Message).where(Message.id.in_(alert.message_ids))))
            deliveries = {d.channel: (d.status, d.attempts) for d in session.scalars(select(AlertDelivery))}
        assert len(behind) == len(alert.message_ids) >= 5
        assert {(m.channel, m.sentiment["label"]) for m in behind} == {("twitter", "negative")}
        assert all(m.sent_at >= STORM.start - timedelta(minutes=10) for m in behind)
        assert deliveries == {"webhook": ("sent", 1), "email": ("sent", 1)}
        assert [payload["text"] for payload in webhook.payloads] == [f"Coverline alert: {alert.summary}"]
        assert webhook.payloads[0]["blocks"][1]["text"]["text"] == alert.summary
        [mail] = smtp.messages
        assert mail["to"] == ["social-team@insurer.example"]
        assert "Subject: [Coverline alert] twitter: negative share" in mail["data"]


def test_the_same_month_without_the_storm_raises_none(alerts_db: str) -> None:
    fill(alerts_db, storm=False)
    replay(alerts_db, clock_steps())
    assert alerts_in(alerts_db) == []
    with session_scope(alerts_db) as session:
        fed = set(session.scalars(select(AlertDetectorState.processed_until)))
    assert fed == {datetime(2026, 10, 31, 0, 5)}  # every scope fed up to the last closed bucket


def _found(url: str) -> List[Tuple[str, str, datetime, str]]:
    return [(a.metric, a.scope_value, a.window_end, a.summary) for a in alerts_in(url)]


def test_a_monitor_that_stops_mid_month_catches_up_to_the_same_alerts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from storage.migrate import upgrade

    urls = []
    for name in ("steady", "restarted"):
        url = f"sqlite:///{tmp_path / name}.db"
        upgrade(url)
        fill(url, storm=True)
        urls.append(url)
    replay(urls[0], clock_steps())
    # down from day 10 to the end of the month: one run at day 10, then one catch-up run at the end
    replay(urls[1], iter([MONTH_START + timedelta(days=10, hours=3, minutes=17), END]))
    with session_scope(urls[1]) as session:
        before = {s.scope_value: (s.processed_until, s.state) for s in session.scalars(select(AlertDetectorState))}
    replay(urls[1], iter([END]))  # running again at the same time feeds nothing twice
    with session_scope(urls[1]) as session:
        after = {s.scope_value: (s.processed_until, s.state) for s in session.scalars(select(AlertDetectorState))}
    assert after == before
    assert _found(urls[1]) == _found(urls[0]) and len(_found(urls[0])) == 1
