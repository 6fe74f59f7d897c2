"""Inbox settings, read once from the environment; refuses to run in production on a weak secret key."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Mapping, Optional

from storage.settings import PROJECT_ROOT, database_url

SECRET_FILE = PROJECT_ROOT / "var" / "inbox_secret_key"
# Values people paste from tutorials; a key equal to one of these is as good as none.
KNOWN_DEFAULT_SECRETS = {"changethis", "change-me", "changeme", "secret", "dev", "development", "insecure"}
MIN_SECRET_LENGTH = 32
DEFAULT_SLA_MINUTES = {1: 5, 2: 15, 3: 60}


class SettingsError(RuntimeError):
    """The configuration is unsafe or unreadable; the message says which variable to fix."""


@dataclass(frozen=True)
class Settings:
    secret_key: str
    database_url: str
    rasa_url: str
    rasa_api_token: str
    env: str = "dev"
    cookie_secure: bool = False
    session_hours: float = 12.0
    sla_minutes: Dict[int, int] = field(default_factory=lambda: dict(DEFAULT_SLA_MINUTES))
    login_max_failures: int = 5
    login_window_minutes: int = 15
    login_max_failures_per_ip: int = 50
    rasa_timeout_seconds: float = 10.0
    sse_poll_seconds: float = 1.0
    sse_max_seconds: float = 300.0

    @property
    def is_dev(self) -> bool:
        return self.env == "dev"

    def sla_for(self, priority: int) -> int:
        """Minutes to a first agent reply for an escalation of this priority (the lowest band if unknown)."""
        return self.sla_minutes.get(priority, max(self.sla_minutes.values()))


def parse_sla(raw: str) -> Dict[int, int]:
    """`"1:5,2:15,3:60"` → {1: 5, 2: 15, 3: 60}: priority → minutes to first reply."""
    result: Dict[int, int] = {}
    for part in raw.split(","):
        if not part.strip():
            continue
        try:
            priority, minutes = (int(x) for x in part.split(":"))
        except ValueError as error:
            raise SettingsError(f"INBOX_SLA_MINUTES: {part!r} is not priority:minutes (e.g. 1:5,2:15,3:60)") from error
        if minutes <= 0:
            raise SettingsError(f"INBOX_SLA_MINUTES: minutes must be positive in {part!r}")
        result[priority] = minutes
    if not result:
        raise SettingsError("INBOX_SLA_MINUTES is empty")
    return result


def _dev_secret() -> str:
    """A random key kept in var/ (mode 600) so dev sessions survive a restart without configuration."""
    if not SECRET_FILE.exists():
        SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
        SECRET_FILE.write_text(secrets.token_urlsafe(48))
        SECRET_FILE.chmod(0o600)
    return SECRET_FILE.read_text().strip()


def check_secret(secret: str, env: str) -> None:
    if env == "dev":
        return
    if not secret or secret.lower() in KNOWN_DEFAULT_SECRETS or len(secret) < MIN_SECRET_LENGTH:
        raise SettingsError(
            f"INBOX_SECRET_KEY must be a random string of at least {MIN_SECRET_LENGTH} characters outside dev "
            "(INBOX_ENV=dev); generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )


def _flag(value: Optional[str], default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_settings(environ: Optional[Mapping[str, str]] = None) -> Settings:
    """Settings from the environment (INBOX_*, DATABASE_URL, RASA_URL, RASA_API_TOKEN)."""
    env_vars = os.environ if environ is None else environ
    env = env_vars.get("INBOX_ENV", "dev").strip().lower() or "dev"
    secret = env_vars.get("INBOX_SECRET_KEY", "").strip()
    check_secret(secret, env)
    if not secret:
        secret = _dev_secret()
    token = env_vars.get("RASA_API_TOKEN", "").strip()
    if not token:
        from runner.servers import api_token  # the same generated token the Rasa server is started with

        token = api_token()
    try:
        return Settings(
            secret_key=secret,
            database_url=env_vars.get("DATABASE_URL", "").strip() or database_url(),
            rasa_url=(env_vars.get("RASA_URL", "").strip() or "http://127.0.0.1:5005").rstrip("/"),
            rasa_api_token=token,
            env=env,
            cookie_secure=_flag(env_vars.get("INBOX_COOKIE_SECURE"), default=env != "dev"),
            session_hours=float(env_vars.get("INBOX_SESSION_HOURS", 12)),
            sla_minutes=parse_sla(env_vars.get("INBOX_SLA_MINUTES", "1:5,2:15,3:60")),
            login_max_failures=int(env_vars.get("INBOX_LOGIN_MAX_FAILURES", 5)),
            login_window_minutes=int(env_vars.get("INBOX_LOGIN_WINDOW_MINUTES", 15)),
        )
    except ValueError as error:
        raise SettingsError(f"inbox setting is not a number: {error}") from error


def demo_password_file() -> Path:
    return PROJECT_ROOT / "var" / "inbox_demo_agents.txt"
