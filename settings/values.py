"""Reading one environment: every value parsed and checked, every problem named.

A parser takes the variable's text and returns the value or raises ValueError with what it expected;
`Reader` puts the variable's name in front and collects the problems, so one start-up reports every
bad value at once instead of one per restart. A blank variable is the same as an unset one.
"""

from __future__ import annotations

import math
import re
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

T = TypeVar("T")
Parse = Callable[[str], T]

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})
# What SQLAlchemy's make_url accepts as the start of a URL: dialect[+driver]://
_DATABASE_URL = re.compile(r"^[\w+]+://")
_SHOWN_CHARS = 80


class Reader:
    """The variables of one environment, read with defaults; problems are collected, not raised."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self.problems: List[str] = []

    def raw(self, name: str) -> Optional[str]:
        """The variable's text without surrounding whitespace; None when it is unset or blank."""
        value = self.exact(name)
        return None if value is None else value.strip()

    def value(self, name: str, default: T, parse: Parse[T]) -> T:
        """The parsed variable, or `default` when unset; a bad value is recorded (and the default returned
        so the other variables are still checked)."""
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            return parse(raw)
        except ValueError as error:
            self.problems.append(f"{name}={_shown(raw)}: {error}")
            return default

    def exact(self, name: str) -> Optional[str]:
        """The variable as set, whitespace included (a key shared with another server must match it byte
        for byte); None when it is unset or blank."""
        value = self._environ.get(name)
        return value if value is not None and value.strip() else None

    def is_set(self, name: str) -> bool:
        """Present in the environment, even blank."""
        return name in self._environ

    def text(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def problem(self, message: str) -> None:
        """A problem a parser cannot see alone (two variables that disagree, a secret that must not be shown)."""
        self.problems.append(message)


def _shown(raw: str) -> str:
    return repr(raw if len(raw) <= _SHOWN_CHARS else raw[:_SHOWN_CHARS] + "…")


def whole_number(minimum: int, maximum: Optional[int] = None) -> Parse[int]:
    expected = f"expected a whole number from {minimum}" + (f" to {maximum}" if maximum is not None else " up")

    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(expected) from None
        if value < minimum or (maximum is not None and value > maximum):
            raise ValueError(expected)
        return value

    return parse


def port(raw: str) -> int:
    return whole_number(1, 65535)(raw)


def positive_number(maximum: Optional[float] = None) -> Parse[float]:
    expected = "expected a number more than 0" + (f" and at most {maximum:g}" if maximum is not None else "")

    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(expected) from None
        if not math.isfinite(value) or value <= 0 or (maximum is not None and value > maximum):
            raise ValueError(expected)
        return value

    return parse


def probability(raw: str) -> float:
    """A probability in [0, 1]."""
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise ValueError("expected a probability from 0 to 1 (such as 0.6)")
    return value


def probability_or_off(raw: str) -> float:
    """A calibrated probability in (0, 1], or 'off': never reached (infinity)."""
    if raw.lower() == "off":
        return math.inf
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0.0 < value <= 1.0:
        raise ValueError("expected a probability more than 0 and at most 1 (such as 0.75), or 'off'")
    return value


def flag(raw: str) -> bool:
    word = raw.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"expected one of {', '.join(sorted(TRUE_WORDS | FALSE_WORDS))}")


def choice(options: Sequence[str]) -> Parse[str]:
    def parse(raw: str) -> str:
        if raw.lower() not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return raw.lower()

    return parse


def database_url(raw: str) -> str:
    if not _DATABASE_URL.match(raw):
        raise ValueError(
            "expected a SQLAlchemy URL such as postgresql://user@host:5432/coverline or sqlite:////path/coverline.db"
        )
    return raw


def http_url(raw: str) -> str:
    """An absolute http(s) URL with a host, without a trailing slash (paths are appended to it)."""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL with a host, such as http://127.0.0.1:5005")
    return raw.rstrip("/")


def socket_url(raw: str) -> str:
    """What a browser's socket.io client connects to: an absolute http(s)/ws(s) URL, or a path on the
    page's own server (behind a proxy that serves both)."""
    parts = urlsplit(raw)
    if raw.startswith("/") or (parts.scheme in ("http", "https", "ws", "wss") and parts.hostname):
        return raw
    raise ValueError("expected an http(s):// or ws(s):// URL with a host, or a path starting with /")


def plain_origin(origin: str) -> str:
    """`scheme://host[:port]`, lower-cased, or ValueError: sanic-cors reads an entry holding `*`, `?`, `]`
    or a backslash as a regular expression matched at the start only, so a pattern could let
    `https://harbor.example.evil.test` in."""
    candidate = origin.strip().rstrip("/")
    try:
        parts = urlsplit(candidate)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError as error:
        raise ValueError(f"CORS origin {origin!r} is not an origin: {error}") from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
        or any(character in candidate for character in "*?]\\ ")
    ):
        raise ValueError(f"CORS origin {origin!r} must be a plain scheme://host[:port], such as https://harbor.example")
    return candidate.lower()


def origins(raw: str) -> Tuple[str, ...]:
    """Comma or space separated plain origins, each once, in order."""
    return tuple(dict.fromkeys(plain_origin(entry) for entry in re.split(r"[,\s]+", raw) if entry))


def sla_minutes(raw: str) -> Dict[int, int]:
    """`"1:5,2:15,3:60"` → {1: 5, 2: 15, 3: 60}: escalation priority → minutes to a person's first reply."""
    result: Dict[int, int] = {}
    for part in raw.split(","):
        if not part.strip():
            continue
        try:
            priority, minutes = (int(x) for x in part.split(":"))
        except ValueError:
            raise ValueError(f"{part.strip()!r} is not priority:minutes (e.g. 1:5,2:15,3:60)") from None
        if minutes <= 0:
            raise ValueError(f"minutes must be positive in {part.strip()!r}")
        result[priority] = minutes
    if not result:
        raise ValueError("expected priority:minutes pairs (e.g. 1:5,2:15,3:60)")
    return result


def pgvector_table(raw: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,50}", raw):
        raise ValueError("expected a lower-case SQL table name (letters, digits and _, at most 51 characters)")
    return raw


def time_zone(raw: str) -> str:
    """An IANA time zone name the system's zone database knows (`America/New_York`, `UTC`)."""
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("expected an IANA time zone name such as America/New_York or UTC") from None
    return raw
