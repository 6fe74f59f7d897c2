"""The monitor's configuration from the settings (COVERLINE_ALERTS_*, docs/settings.md): the SMTP server and the
team-wide recipients. alerts/ reads them here and nowhere else; `python -m alerts` and the runner call it at
start-up."""

from __future__ import annotations

from typing import Optional

from alerts.delivery import SmtpConfig
from alerts.monitor import Recipients
from settings import AlertSettings, SettingsError


def smtp_config(settings: AlertSettings) -> Optional[SmtpConfig]:
    """The SMTP server from the settings, None without a host; SettingsError for a user without a password."""
    if not settings.smtp_host:
        return None
    password = None
    if settings.smtp_password is not None:  # a user is set: its password must be too (never generated)
        if not settings.smtp_password.configured:
            raise SettingsError(
                f"COVERLINE_ALERTS_SMTP_PASSWORD is not set: COVERLINE_ALERTS_SMTP_USER={settings.smtp_user!r} "
                "needs its password (it has no default, in dev either)"
            )
        password = settings.smtp_password.configured
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_from,
        starttls=settings.smtp_starttls,
        ssl=settings.smtp_ssl,
        user=settings.smtp_user,
        password=password,
    )


def team_recipients(settings: AlertSettings) -> Recipients:
    return {"webhooks": list(settings.webhook_urls), "emails": list(settings.emails)}
