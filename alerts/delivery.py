"""Sending raised alerts to people: Slack-compatible webhooks and email over SMTP, retried until sent.

Every recipient of every alert is an `alert_deliveries` row the monitor queued in the transaction that raised the
alert. `deliver_due` sends the rows whose time has come; a failure is recorded (attempts, last error) and retried
with a doubling back-off, and after `max_attempts` the row is `failed` and logged as an error: it stays listed,
so an alert nobody received is visible, never silently lost.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, Dict, Optional
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from storage.engine import session_scope
from storage.models import Alert, AlertDelivery

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
TIMEOUT_SECONDS = 10.0


class DeliveryError(RuntimeError):
    """A recipient did not take the alert; the message says why, for `last_error`."""


@dataclass(frozen=True)
class SmtpConfig:
    """Where alert emails go out (from the settings, COVERLINE_ALERTS_SMTP_*: alerts/config.py)."""

    host: str
    sender: str
    port: int = 25
    starttls: bool = False
    ssl: bool = False
    user: Optional[str] = None
    password: Optional[str] = None
    timeout: float = TIMEOUT_SECONDS


def webhook_payload(alert: Alert) -> Dict[str, Any]:
    """Slack's incoming-webhook shape: `text` for clients that read nothing else, `blocks` for a richer card."""
    facts = (
        f"*Rule:* {alert.rule.name if alert.rule else alert.rule_id}   *Scope:* {alert.scope_value}\n"
        f"*Window:* {alert.started_at:%Y-%m-%d %H:%M} → {alert.window_end:%H:%M} UTC   "
        f"*Messages:* {alert.volume}   *Alert:* #{alert.id}"
    )
    return {
        "text": f"Coverline alert: {alert.summary}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Coverline alert"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": alert.summary}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": facts}]},
        ],
    }


def post_webhook(url: str, payload: Dict[str, Any], timeout: float = TIMEOUT_SECONDS) -> None:
    if urlsplit(url).scheme not in ("http", "https"):
        raise DeliveryError(f"not an http(s) URL: {url}")
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode("utf-8"), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked above)
            response.read()
    except OSError as error:  # URLError, HTTPError (4xx/5xx), timeouts, refused connections
        raise DeliveryError(f"webhook {url}: {error}") from error


def email_message(alert: Alert, sender: str, recipient: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"[Coverline alert] {alert.summary}"
    message["From"] = sender
    message["To"] = recipient
    message.set_content(
        f"{alert.summary}\n\n"
        f"Scope: {alert.scope_value}\n"
        f"Window: {alert.started_at:%Y-%m-%d %H:%M} to {alert.window_end:%H:%M} UTC\n"
        f"Messages in the window: {alert.volume}\n\n"
        f"Alert #{alert.id} is in the inbox's alert list with the messages behind it; acknowledge it there.\n"
    )
    return message


def send_email(config: SmtpConfig, message: EmailMessage) -> None:
    try:
        client = smtplib.SMTP_SSL if config.ssl else smtplib.SMTP
        with client(config.host, config.port, timeout=config.timeout) as smtp:
            if config.starttls and not config.ssl:
                smtp.starttls()
            if config.user:
                smtp.login(config.user, config.password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        raise DeliveryError(f"email to {message['To']}: {error}") from error


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4 ... minutes after the first, second, third failure, at most an hour."""
    return min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), LONGEST_RETRY)


class Deliverer:
    """Sends due deliveries; without an SMTP config, emails fail with that reason (and are retried, so setting
    it later still delivers them)."""

    def __init__(
        self,
        smtp: Optional[SmtpConfig] = None,
        timeout: float = TIMEOUT_SECONDS,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.smtp = smtp
        self.timeout = timeout
        self.max_attempts = max_attempts

    def deliver_due(self, url: Optional[str], now: datetime) -> Dict[str, int]:
        """Try every pending delivery whose time has come; how many were sent, retried later and given up."""
        outcome = {"sent": 0, "retry": 0, "failed": 0}
        with session_scope(url) as session:
            due = list(
                session.scalars(
                    select(AlertDelivery)
                    .where(AlertDelivery.status == "pending", AlertDelivery.next_attempt_at <= now)
                    .order_by(AlertDelivery.id)
                )
            )
            alerts = {
                a.id: a
                for a in session.scalars(
                    select(Alert).options(selectinload(Alert.rule)).where(Alert.id.in_({d.alert_id for d in due}))
                )
            }
        for delivery in due:
            alert = alerts[delivery.alert_id]
            error = self._send(delivery, alert)
            result = self._record(url, delivery, error, now)
            outcome[result] += 1
        return outcome

    def _send(self, delivery: AlertDelivery, alert: Alert) -> Optional[str]:
        try:
            if delivery.channel == "webhook":
                post_webhook(delivery.recipient, webhook_payload(alert), self.timeout)
            elif self.smtp is None:
                raise DeliveryError("no SMTP server configured for alert emails")
            else:
                send_email(self.smtp, email_message(alert, self.smtp.sender, delivery.recipient))
        except DeliveryError as error:
            return str(error)
        return None

    def _record(self, url: Optional[str], delivery: AlertDelivery, error: Optional[str], now: datetime) -> str:
        attempts = delivery.attempts + 1
        if error is None:
            values: Dict[str, Any] = {"status": "sent", "attempts": attempts, "sent_at": now, "last_error": None}
            result = "sent"
        elif attempts >= self.max_attempts:
            values = {"status": "failed", "attempts": attempts, "last_error": error}
            result = "failed"
            logger.error(
                "alert %s not delivered to %s after %s attempts: %s",
                delivery.alert_id,
                delivery.recipient,
                attempts,
                error,
            )
        else:
            values = {"attempts": attempts, "last_error": error, "next_attempt_at": now + retry_delay(attempts)}
            result = "retry"
            logger.warning(
                "alert %s to %s failed (attempt %s), will retry: %s",
                delivery.alert_id,
                delivery.recipient,
                attempts,
                error,
            )
        with session_scope(url) as session:
            session.execute(update(AlertDelivery).where(AlertDelivery.id == delivery.id).values(**values))
        return result
