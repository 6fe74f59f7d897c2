"""The acceptance of issue 17's monitor: a seeded month of traffic with daily and weekly rhythm, written as real
interaction-log rows and replayed through the monitor with an injected clock.

A storm on twitter (from 14:07 on day 20: four times the messages, 80 % negative, for two hours) raises exactly
one alert within 15 minutes, stored with its messages, delivered to real webhook receivers and a real SMTP server
(configured through the settings, with team-wide recipients besides the rule's) and listed by the inbox's API;
the same month without it raises none; a monitor that stops mid-month and catches up raises the same.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import List, Tuple

from sqlalchemy import select

import settings
from alerts.config import smtp_config, team_recipients
from alerts.delivery import Deliverer
from inbox.main import create_app
from inbox.services.agents import create_agent
from storage.engine import session_scope
from storage.models import AlertDelivery, AlertDetectorState, Message
from tests.support.alert_month import END, STORM, alerts_in, clock_steps, fill, replay
from tests.support.alert_receivers import SmtpReceiver, WebhookReceiver
from tests.support.alert_traffic import MONTH_START
from tests.support.inbox import PASSWORDS, login, make_settings


def test_a_storm_raises_one_alert_within_15_minutes_delivered_everywhere(alerts_db: str, tmp_path: Path) -> None:
    with WebhookReceiver() as webhook, SmtpReceiver() as smtp, WebhookReceiver() as team_hook:
        fill(alerts_db, storm=True, webhooks=[webhook.url], emails=["social-team@insurer.example"])
        # the SMTP server and the team-wide recipients come from the settings, as `python -m alerts run` reads them
        configured = settings.load(
            {
                "COVERLINE_ALERTS_SMTP_HOST": "127.0.0.1",
                "COVERLINE_ALERTS_SMTP_PORT": str(smtp.port),
                "COVERLINE_ALERTS_SMTP_FROM": "alerts@insurer.example",
                "COVERLINE_ALERTS_WEBHOOK_URLS": team_hook.url,
                "COVERLINE_ALERTS_EMAILS": "duty-lead@insurer.example, social-team@insurer.example",
            },
            var_dir=tmp_path,
        ).alerts
        deliverer = Deliverer(smtp_config(configured))
        replay(alerts_db, clock_steps(), deliverer, team=team_recipients(configured))

        [alert] = alerts_in(alerts_db)
        assert alert.scope_value == "twitter" and alert.metric == "negative_share"
        assert timedelta(0) < alert.raised_at - STORM.start <= timedelta(minutes=15)
        assert alert.summary.startswith("twitter: negative share ") and "→" in alert.summary
        assert alert.status == "raised"
        with session_scope(alerts_db) as session:
            behind = list(session.scalars(select(Message).where(Message.id.in_(alert.message_ids))))
            deliveries = {
                (d.channel, d.recipient): (d.status, d.attempts) for d in session.scalars(select(AlertDelivery))
            }
        assert len(behind) == len(alert.message_ids) >= 5
        assert {(m.channel, m.sentiment["label"]) for m in behind} == {("twitter", "negative")}
        assert all(m.sent_at >= STORM.start - timedelta(minutes=10) for m in behind)
        assert deliveries == {  # the rule's recipients and the team's, each once
            ("webhook", webhook.url): ("sent", 1),
            ("webhook", team_hook.url): ("sent", 1),
            ("email", "social-team@insurer.example"): ("sent", 1),
            ("email", "duty-lead@insurer.example"): ("sent", 1),
        }
        for receiver in (webhook, team_hook):
            assert [payload["text"] for payload in receiver.payloads] == [f"Coverline alert: {alert.summary}"]
            assert receiver.payloads[0]["blocks"][1]["text"]["text"] == alert.summary
        assert sorted(mail["to"][0] for mail in smtp.messages) == [
            "duty-lead@insurer.example",
            "social-team@insurer.example",
        ]
        assert all("Subject: [Coverline alert] twitter: negative share" in mail["data"] for mail in smtp.messages)
        assert all(mail["from"] == "alerts@insurer.example" for mail in smtp.messages)

    # and in the inbox: the banner's list and the alert with the storm's messages, each linked to its conversation
    agent = inbox_agent(alerts_db)
    listed = agent.get("/api/alerts").json()
    assert listed["counts"]["raised"] == 1 and [a["id"] for a in listed["items"]] == [alert.id]
    assert listed["items"][0]["summary"] == alert.summary
    detail = agent.get(f"/api/alerts/{alert.id}").json()
    assert sorted(m["id"] for m in detail["messages"]) == sorted(alert.message_ids)
    assert {(m["channel"], m["sentiment"]["label"]) for m in detail["messages"]} == {("twitter", "negative")}
    assert all(m["conversation_url"] == f"/conversations/{m['conversation_id']}" for m in detail["messages"])


def inbox_agent(url: str):  # type: ignore[no-untyped-def]
    """An agent signed in to the real inbox app over this database (Rasa is not needed to read alerts)."""
    with session_scope(url) as session:
        create_agent(session, "agent@harbor.example", "Agent", "agent", PASSWORDS["agent"])
    return login(create_app(make_settings(url, "http://127.0.0.1:9")), "agent")


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
