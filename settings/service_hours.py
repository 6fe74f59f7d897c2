"""SERVICE_HOURS: when people on the service team are at work, in the words of the insurer's fact sheet.

"Mon-Fri 8am-8pm ET, Sat 9am-2pm ET; claims and roadside 24/7" is how demo_data/insurer.yml states the
hours, and how actions/service_hours.py reads them for the handoff message; this is that reading (same
spans, same rule that only the part before ';' is the team's), plus the zone the text names, so analytics
counts "business hours" by the very schedule the bot promises customers. A value that names no span or
no zone stops start-up instead of silently counting every hour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# The fact sheet's hours; the same text as demo_data/insurer.yml's `hours`.
DEFAULT_SERVICE_HOURS = "Mon-Fri 8am-8pm ET, Sat 9am-2pm ET"
# US abbreviations a fact sheet uses, as IANA zones (which know daylight saving time)
ZONE_ABBREVIATIONS = {
    "ET": "America/New_York",
    "CT": "America/Chicago",
    "MT": "America/Denver",
    "PT": "America/Los_Angeles",
    "UTC": "UTC",
    "GMT": "UTC",
}
_SPAN = re.compile(
    r"(?P<first>mon|tue|wed|thu|fri|sat|sun)[a-z]*(?:\s*-\s*(?P<last>mon|tue|wed|thu|fri|sat|sun)[a-z]*)?\s+"
    r"(?P<open>\d{1,2})(?::(?P<open_min>\d{2}))?\s*(?P<open_ampm>am|pm)\s*-\s*"
    r"(?P<close>\d{1,2})(?::(?P<close_min>\d{2}))?\s*(?P<close_ampm>am|pm)",
    re.IGNORECASE,
)
_ZONE = re.compile(r"\b(ET|CT|MT|PT|UTC|GMT)\b|\b([A-Z][A-Za-z_]+/[A-Za-z_/+-]+)\b")


def _minutes(hour: str, minute: str | None, ampm: str) -> int:
    """12am is midnight, 12pm noon; "8pm" closing at 20:00."""
    value = int(hour) % 12 + (12 if ampm.lower() == "pm" else 0)
    return value * 60 + int(minute or 0)


@dataclass(frozen=True)
class ServiceHours:
    """Opening spans per weekday (0 = Monday) as (open, close) minutes after local midnight, in `timezone`."""

    timezone: str
    by_weekday: Dict[int, Tuple[int, int]]


def _zone(text: str) -> str:
    named = {ZONE_ABBREVIATIONS.get(m[1] or "", m[2]) for m in _ZONE.finditer(text)}
    if len(named) != 1:
        raise ValueError("name one time zone (ET, CT, MT, PT, UTC or an IANA name such as America/New_York)")
    zone = named.pop()
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{zone!r} is not a time zone the system knows") from None
    return zone


def service_hours(raw: str) -> ServiceHours:
    """SERVICE_HOURS's parser (settings/values.py's contract): the spans before ';' and their zone."""
    team_part = raw.split(";", 1)[0]
    by_weekday: Dict[int, Tuple[int, int]] = {}
    for match in _SPAN.finditer(team_part):
        first = DAYS.index(match["first"].lower()[:3])
        last = DAYS.index(match["last"].lower()[:3]) if match["last"] else first
        opens = _minutes(match["open"], match["open_min"], match["open_ampm"])
        closes = _minutes(match["close"], match["close_min"], match["close_ampm"])
        if not opens < closes:
            raise ValueError(f"{match[0]!r} closes before it opens (a night shift is not supported)")
        for day in range(first, last + 1):
            by_weekday[day] = (opens, closes)
    if not by_weekday:
        raise ValueError("expected opening hours such as 'Mon-Fri 8am-8pm ET, Sat 9am-2pm ET'")
    return ServiceHours(_zone(team_part), by_weekday)
