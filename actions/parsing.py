"""Pure helpers that turn what customers type into clean values; no I/O, easy to test."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Dict, Optional

from dateutil import parser as date_parser

from retrieval.keywords import PLURAL_AND_VERB, compile_table, first_match
from retrieval.products import detect_product

POLICY_RE = re.compile(r"\bP\s*X\s*[-–_ ]?\s*(\d{5})\b", re.IGNORECASE)
CLAIM_RE = re.compile(r"\bC\s*L\s*[-–_ ]?\s*(\d{6})\b", re.IGNORECASE)
EMAIL_RE = re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


INCIDENT_WORDS: Dict[str, tuple] = {
    "collision": (
        "collision",
        "crash",
        "accident",
        "rear-ended",
        "rear ended",
        "hit",
        "hitting",
        "fender",
        "bumped",
        "t-boned",
        "collided",
        "wreck",
    ),
    "theft": (
        "theft",
        "stolen",
        "stole",
        "burglar",
        "break-in",
        "broke in",
        "broke into",
        "broken into",
        "robbed",
        "robbery",
        "missing",
    ),
    "water_damage": ("water", "leak", "flood", "pipe", "burst", "overflow", "sewer"),
    "storm": ("storm", "hail", "hailstorm", "wind", "tornado", "hurricane", "lightning", "tree fell", "snow"),
    "fire": ("fire", "smoke", "burn", "burned", "burnt", "flames"),
    "vandalism": ("vandal", "graffiti", "keyed", "smashed", "slashed"),
    "glass": ("glass", "windshield", "windscreen", "window crack", "chip", "chipped"),
    "injury": ("injury", "injuries", "injured", "hurt", "hospital", "hospitalized", "hospitalised", "medical"),
    "lost_baggage": ("baggage", "luggage", "suitcase", "bag lost", "lost bag"),
    "trip_cancellation": (
        "cancelled trip",
        "canceled trip",
        "trip cancel",
        "trip cancelled",
        "cancellation",
        "missed flight",
        "cancelled flight",
        "canceled flight",
    ),
    "other": ("other", "something else"),
}

INFO_FIELD_WORDS: Dict[str, tuple] = {
    "address": ("address", "moved", "move", "street", "zip", "zipcode", "postcode"),
    "phone": ("phone", "telephone", "cellphone", "cell", "mobile", "number", "tel"),
    "email": ("email", "e-mail", "mail"),
    "name": ("name", "married", "surname"),
}


# whole words with plural, possessive, -ed and -ing (retrieval/keywords.py): "tell me" is not the phone field, a
# chipmunk is not a glass claim, a window is not wind; the stems below are meant as stems
_INCIDENT_PATTERNS = compile_table(INCIDENT_WORDS, PLURAL_AND_VERB, stems={"vandal", "burglar"})
_INFO_FIELD_PATTERNS = compile_table(INFO_FIELD_WORDS, PLURAL_AND_VERB, exact={"tel"})


def policy_number(text: Optional[str]) -> Optional[str]:
    match = POLICY_RE.search(text or "")
    return f"PX-{match.group(1)}" if match else None


def claim_number(text: Optional[str]) -> Optional[str]:
    match = CLAIM_RE.search(text or "")
    return f"CL-{match.group(1)}" if match else None


def product(text: Optional[str]) -> Optional[str]:
    return detect_product(text)


def incident_type(text: Optional[str]) -> Optional[str]:
    lowered = (text or "").strip().lower().replace(" ", "_")
    if lowered in INCIDENT_WORDS:
        return lowered
    return first_match(text, _INCIDENT_PATTERNS)


def info_field(text: Optional[str]) -> Optional[str]:
    return first_match(text, _INFO_FIELD_PATTERNS)


def _relative_date(text: str, today: date, short_weekdays: bool = True) -> Optional[date]:
    if re.search(r"\btoday\b|\bthis morning\b|\btonight\b|\bjust now\b", text):
        return today
    if re.search(r"\byesterday\b|\blast night\b", text):
        return today - timedelta(days=1)
    ago = re.search(r"\b(\d+|a|an|one|two|three)\s+(day|week|month)s?\s+ago\b", text)
    if ago:
        words = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3}
        n = int(words.get(ago.group(1), ago.group(1)) if not ago.group(1).isdigit() else ago.group(1))
        days = {"day": 1, "week": 7, "month": 30}[ago.group(2)]
        return today - timedelta(days=n * days)
    for index, name in enumerate(WEEKDAYS):
        if re.search(rf"\b{name[:3]}(?:{name[3:]})?\b" if short_weekdays else rf"\b{name}\b", text):
            back = (today.weekday() - index) % 7 or 7
            return today - timedelta(days=back)
    return None


def incident_date(text: Optional[str], today: Optional[date] = None) -> Optional[date]:
    """A past date from free text: ISO, US m/d[/y], month names, or relative phrases.

    A date without a year that would lie in the future is read as last year's (customers report
    past incidents; "Dec 28" typed on Jan 3 means the December just gone).
    """
    today = today or date.today()
    lowered = (text or "").strip().lower()
    if not lowered:
        return None
    relative = _relative_date(lowered, today)
    if relative:
        return relative
    has_year = bool(re.search(r"\b(19|20)\d{2}\b|\d{1,2}/\d{1,2}/\d{2,4}", lowered))
    try:
        parsed = date_parser.parse(lowered, fuzzy=True, default=date_parser.parse(today.isoformat())).date()
    except (ValueError, OverflowError):
        return None
    if not re.search(r"\d", lowered) and not any(m in lowered for m in _MONTHS):
        return None
    if not has_year and parsed > today:
        parsed = parsed.replace(year=parsed.year - 1)
    return parsed


def date_in_passing(text: Optional[str], today: Optional[date] = None) -> Optional[str]:
    """The day an account of events names in passing ("yesterday a deer hit my car", "on Saturday night"), as
    ISO, or None. Only words that say a day: no numbers ("hit 2 cars" is not the 2nd) and no short weekday
    names ("I sat in the car", "sun damage"), which `incident_date` accepts as the answer to "when?"."""
    found = _relative_date((text or "").lower(), today or date.today(), short_weekdays=False)
    return found.isoformat() if found else None


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def amount(text: Optional[str]) -> Optional[float]:
    """Money as customers type it: $25,000 / 25k / 1.2m / 350 000 / 25 thousand."""
    lowered = (text or "").lower().replace(",", "")
    match = re.search(r"(\d+(?:[ .]\d+)*)\s*(k|m|thousand|million|grand)?\b", lowered)
    if not match:
        return None
    number_text = match.group(1)
    if " " in number_text:
        number_text = number_text.replace(" ", "")
    try:
        value = float(number_text)
    except ValueError:
        return None
    multiplier = {"k": 1e3, "thousand": 1e3, "grand": 1e3, "m": 1e6, "million": 1e6}.get(match.group(2) or "", 1)
    return value * multiplier


def whole_number(text: Optional[str]) -> Optional[int]:
    match = re.search(r"\b(\d{1,3})\b", text or "")
    return int(match.group(1)) if match else None


def trip_days(text: Optional[str]) -> Optional[int]:
    lowered = (text or "").lower()
    weeks = re.search(r"\b(\d+|a|one|two|three|four)[\s-]*weeks?\b", lowered)
    if weeks:
        n = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4}.get(weeks.group(1))
        return (n if n is not None else int(weeks.group(1))) * 7
    return whole_number(lowered)


def email(text: Optional[str]) -> Optional[str]:
    candidate = (text or "").strip().strip(".").lower()
    for token in candidate.split():
        if EMAIL_RE.match(token):
            return token
    return None


def contact_value(field: Optional[str], text: Optional[str]) -> Optional[str]:
    """`text` when the whole message is an email address (field "email") or a phone number (field "phone"):
    a shape no other answer has. None for anything else, and for free-text fields (address, name)."""
    stripped = (text or "").strip().rstrip(".")
    if field == "email" and EMAIL_RE.match(stripped):
        return stripped
    if field == "phone" and re.fullmatch(r"[+\d\s().-]{10,20}", stripped) and phone(stripped):
        return stripped
    return None


def phone(text: Optional[str]) -> Optional[str]:
    digits = re.sub(r"\D", "", text or "")
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        return None
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
