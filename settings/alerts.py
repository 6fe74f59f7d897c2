"""Parsers for the spike-alert settings (COVERLINE_ALERTS_*, read in load.py): addresses, webhook URLs, hosts.

Each takes the variable's text and returns the value or raises ValueError with what it expected (values.py's
contract), so a bad value stops every process at start-up like any other setting.
"""

from __future__ import annotations

import re
from typing import Tuple
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
# one address: no spaces, commas or angle brackets (a header could otherwise carry a second recipient), one @
_ADDRESS = re.compile(r"^[^\s@,<>;:\"]+@[^\s@,<>;:\"]+$")
_HOST = re.compile(r"^[A-Za-z0-9.\-:\[\]]+$")


def email_address(raw: str) -> str:
    if not _ADDRESS.match(raw):
        raise ValueError("expected an email address such as alerts@insurer.example")
    return raw


def email_addresses(raw: str) -> Tuple[str, ...]:
    """Comma or space separated addresses, each once, in order."""
    return tuple(dict.fromkeys(email_address(part) for part in re.split(r"[,\s]+", raw) if part))


def webhook_urls(raw: str) -> Tuple[str, ...]:
    """Comma or space separated http(s) URLs (Slack-compatible incoming webhooks), each once, in order."""
    return tuple(dict.fromkeys(webhook_url(part) for part in re.split(r"[,\s]+", raw) if part))


def webhook_url(raw: str) -> str:
    """Kept exactly as given (a webhook's path is its token); only the scheme and host are checked."""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected http(s) URLs with a host, such as https://hooks.slack.com/services/…")
    return raw


def host_name(raw: str) -> str:
    if not _HOST.match(raw):
        raise ValueError("expected a host name or address such as smtp.insurer.example")
    return raw
