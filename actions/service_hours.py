"""When people on the service team are at work, read from the insurer's fact sheet.

demo_data/insurer.yml states the hours once, for people ("Mon-Fri 8am-8pm ET, Sat 9am-2pm ET; claims
and roadside 24/7"); parsing that text, rather than copying it into code, keeps the handoff message in
step when the insurer changes its hours. Text that does not parse gives no schedule, and the handoff
message then quotes the hours instead of promising a wait.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Dict, List, Optional, Tuple
from zoneinfo import ZoneInfo

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# the fact sheet's hours are US Eastern; ZoneInfo handles daylight saving time
EASTERN = ZoneInfo("America/New_York")
_SPAN = re.compile(
    r"(?P<first>mon|tue|wed|thu|fri|sat|sun)[a-z]*(?:\s*-\s*(?P<last>mon|tue|wed|thu|fri|sat|sun)[a-z]*)?\s+"
    r"(?P<open>\d{1,2})(?::(?P<open_min>\d{2}))?\s*(?P<open_ampm>am|pm)\s*-\s*"
    r"(?P<close>\d{1,2})(?::(?P<close_min>\d{2}))?\s*(?P<close_ampm>am|pm)",
    re.IGNORECASE,
)


def _minutes(hour: str, minute: Optional[str], ampm: str) -> int:
    value = int(hour) % 12 + (12 if ampm.lower() == "pm" else 0)
    return value * 60 + int(minute or 0)


@dataclass(frozen=True)
class ServiceHours:
    """Opening times per weekday (0 = Monday) as (open, close) minutes after midnight, Eastern time."""

    by_weekday: Dict[int, Tuple[int, int]]

    @classmethod
    def parse(cls, text: str) -> "ServiceHours":
        """Read "Mon-Fri 8am-8pm ET, Sat 9am-2pm ET; claims 24/7": only the part before ';' is the team's."""
        team_part = text.split(";", 1)[0]
        by_weekday: Dict[int, Tuple[int, int]] = {}
        for match in _SPAN.finditer(team_part):
            first = DAYS.index(match["first"].lower()[:3])
            last = DAYS.index(match["last"].lower()[:3]) if match["last"] else first
            opens = _minutes(match["open"], match["open_min"], match["open_ampm"])
            closes = _minutes(match["close"], match["close_min"], match["close_ampm"])
            for day in range(first, last + 1):
                by_weekday[day] = (opens, closes)
        return cls(by_weekday)

    @property
    def known(self) -> bool:
        return bool(self.by_weekday)

    def is_open(self, now: datetime) -> bool:
        """`now` must be timezone-aware (the action server's clock is UTC)."""
        local = now.astimezone(EASTERN)
        span = self.by_weekday.get(local.weekday())
        minute = local.hour * 60 + local.minute
        return span is not None and span[0] <= minute < span[1]

    def next_opening(self, now: datetime) -> Optional[datetime]:
        """The next time the team starts work after `now` (Eastern time), within a week."""
        local = now.astimezone(EASTERN)
        candidates: List[datetime] = []
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            span = self.by_weekday.get(day.weekday())
            if span is None:
                continue
            opening = datetime(day.year, day.month, day.day, span[0] // 60, span[0] % 60, tzinfo=EASTERN)
            if opening > local:
                candidates.append(opening)
        return min(candidates) if candidates else None


def describe_opening(opening: datetime, now: datetime) -> str:
    """'at 8am ET today', 'tomorrow at 9am ET' or 'on Monday at 8am ET', as a customer would say it."""
    local_now = now.astimezone(EASTERN)
    clock = opening.strftime("%I:%M%p").lstrip("0").lower().replace(":00", "")
    days_ahead = (opening.date() - local_now.date()).days
    if days_ahead == 0:
        return f"today at {clock} ET"
    if days_ahead == 1:
        return f"tomorrow at {clock} ET"
    return f"on {opening.strftime('%A')} at {clock} ET"
