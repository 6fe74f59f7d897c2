"""Alerts as the monitor stores them, over customer messages written the way Rasa's event broker writes them:
shared by the inbox's alert API tests and the browser test."""

from __future__ import annotations

from datetime import timedelta
from typing import List, Optional, Sequence, Tuple

from sqlalchemy import select

from storage.engine import session_scope
from storage.models import Alert, AlertDelivery, AlertRule, utcnow
from tests.support.inbox import customer_says

NEGATIVE = {"label": "negative", "confidence": 0.93}
STORM_MESSAGES = (
    ("twitter:1001", "Your app has been down for two hours and my claim vanished", "claim_status"),
    ("twitter:1002", "Still no answer about my claim, call me on 555-867-5309 NOW", "claim_status"),
    ("twitter:1003", "Worst insurer ever, the site keeps crashing", "complaint"),
)


def customer_storm(url: str, messages: Sequence[Tuple[str, str, str]] = STORM_MESSAGES) -> List[int]:
    """Negative customer messages on twitter, a few minutes ago, through the broker's writer."""
    now = utcnow().timestamp()
    return [
        customer_says(url, conversation, text, channel="twitter", intent=intent, sentiment=NEGATIVE, at=now - 300 + i)
        for i, (conversation, text, intent) in enumerate(messages)
    ]


def stored_alert(
    url: str,
    message_ids: Sequence[int],
    scope_value: str = "twitter",
    webhooks: Sequence[str] = (),
    emails: Sequence[str] = (),
    minutes_ago: float = 2,
    summary: Optional[str] = None,
) -> int:
    """One raised alert on the default per-channel share rule, with a queued delivery per recipient."""
    with session_scope(url) as session:
        rule = session.scalar(select(AlertRule).where(AlertRule.name == "negative-share-per-channel"))
        if rule is None:
            rule = AlertRule(
                name="negative-share-per-channel",
                metric="negative_share",
                scope="channel",
                sensitivity=1.5,
                min_volume=8,
                cooldown_minutes=720,
                recipients={"webhooks": list(webhooks), "emails": list(emails)},
            )
            session.add(rule)
            session.flush()
        window_end = utcnow() - timedelta(minutes=minutes_ago)
        alert = Alert(
            rule_id=rule.id,
            metric="negative_share",
            scope_value=scope_value,
            started_at=window_end - timedelta(minutes=15),
            window_end=window_end,
            raised_at=window_end + timedelta(minutes=1),
            before_value=0.12,
            now_value=0.71,
            volume=17,
            zscore=2.6,
            summary=summary or f"{scope_value}: negative share 12 % → 71 % in the last 15 minutes, 17 messages",
            message_ids=list(message_ids),
        )
        session.add(alert)
        session.flush()
        for recipient in webhooks:
            session.add(AlertDelivery(alert_id=alert.id, channel="webhook", recipient=recipient))
        for recipient in emails:
            session.add(AlertDelivery(alert_id=alert.id, channel="email", recipient=recipient))
        return alert.id
