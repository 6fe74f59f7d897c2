"""Personal data in free text: payment card numbers, US social security numbers, email addresses, phones.

One place finds them, so that what the inbox masks, what its search ignores and what storage may redact
agree. Customers type these into chats ("my card 4111 1111 1111 1111 was charged twice"); the inbox shows
`[card ending 1111]` unless an admin or the assigned agent reveals the message (audited).

What counts:
- card: 13-19 digits, optionally in groups split by spaces, hyphens or dots, passing the Luhn check (a run
  of groups is searched for one, so a CVV or expiry typed after the number does not hide it);
- ssn: `AAA-GG-SSSS` or `AAA GG SSSS` with the SSA's never-issued values excluded (area 000, 666, 9xx;
  group 00; serial 0000), or 9 bare digits right after "SSN" / "social security";
- email: local@domain.tld;
- phone: 10-15 digits (E.164 allows 15) that are not a card, written bare, with a leading `+`, with
  parentheses or with separators. Shorter local numbers are left alone: they cannot be told from amounts,
  years and reference numbers.

Every pattern is linear in the text's length (no nested quantifiers, starts anchored by look-behinds): a
customer controls the text, and a web chat message can be large.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Collection, List, Optional, Sequence, Tuple

KINDS = ("card", "ssn", "email", "phone")
# keys in a message payload that hold identifiers and links, not words: masking would break them
UNMASKED_PAYLOAD_KEYS = frozenset({"media_id", "url"})

# a number as people type one: digits with single separators, maybe a leading "+" or "("
_NUMBER = re.compile(r"(?<![\w+(])\+?\(?\d(?:[\d .()-]*\d)?(?![\w])")
_SEPARATORS = re.compile(r"[ .()-]+")
_SSN_SHAPE = re.compile(r"(\d{3})([- ])(\d{2})\2(\d{4})")
_SSN_CONTEXT = re.compile(r"\bssn\b|\bsocial\s+security\b", re.IGNORECASE)  # in the 40 characters before
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*")


@dataclass(frozen=True)
class Finding:
    kind: str  # one of KINDS
    start: int
    end: int
    value: str

    def masked(self) -> str:
        if self.kind == "card":
            return f"[card ending {re.sub(r'[^0-9]', '', self.value)[-4:]}]"
        return {"ssn": "[SSN]", "email": "[email]", "phone": "[phone]"}[self.kind]


def luhn_valid(digits: str) -> bool:
    """The check digit every payment card number carries (ISO/IEC 7812): double every second digit from
    the right, subtract 9 from two-digit results, and the sum is a multiple of 10."""
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _valid_ssn(area: str, group: str, serial: str) -> bool:
    return area not in ("000", "666") and not area.startswith("9") and group != "00" and serial != "0000"


def _groups(span: str, offset: int) -> List[Tuple[str, int, int]]:
    """The digit groups of a typed number with where each sits in the text."""
    return [(m.group(), offset + m.start(), offset + m.end()) for m in re.finditer(r"\d+", span)]


def _cards_in_groups(groups: Sequence[Tuple[str, int, int]]) -> List[Tuple[int, int]]:
    """Runs of whole groups with 13-19 digits that pass Luhn, as (first, last) group indexes. Cards are
    printed in groups of 3 or more (4-4-4-4, 4-6-5, 4-4-4-4-3), so a run never includes a shorter group:
    that also keeps "1 2 3 4 …" from costing a Luhn check per digit."""
    runs: List[Tuple[int, int]] = []
    first = 0
    while first < len(groups):
        digits, found = "", None
        for last in range(first, len(groups)):
            group = groups[last][0]
            if len(group) < 3:
                break
            digits += group
            if len(digits) > 19:
                break
            if len(digits) >= 13 and luhn_valid(digits):
                found = last
                break
        if found is None:
            first += 1
        else:
            runs.append((first, found))
            first = found + 1
    return runs


def _numbers(text: str) -> List[Finding]:
    found: List[Finding] = []
    for match in _NUMBER.finditer(text):
        span, start = match.group(), match.start()
        digits = re.sub(r"\D", "", span)
        if _SSN_SHAPE.fullmatch(span) and _valid_ssn(*_SSN_SHAPE.fullmatch(span).group(1, 3, 4)):  # type: ignore[union-attr]
            found.append(Finding("ssn", start, match.end(), span))
            continue
        if (
            span.isdigit()
            and len(span) == 9
            and _SSN_CONTEXT.search(text[max(0, start - 40) : start])
            and _valid_ssn(span[:3], span[3:5], span[5:])
        ):
            found.append(Finding("ssn", start, match.end(), span))
            continue
        if "+" not in span and "(" not in span:
            groups = _groups(span, start)
            cards = _cards_in_groups(groups)
            for first, last in cards:
                card_start, card_end = groups[first][1], groups[last][2]
                found.append(Finding("card", card_start, card_end, text[card_start:card_end]))
            if cards:
                continue
        if 10 <= len(digits) <= 15:
            found.append(Finding("phone", start, match.end(), span))
    return found


def _emails(text: str) -> List[Finding]:
    found = []
    for match in _EMAIL.finditer(text):
        local, _, domain = match.group().partition("@")
        local = local.strip(".")
        domain = domain.rstrip(".-")
        valid = _DOMAIN.fullmatch(domain) and "." in domain and re.search(r"\.[A-Za-z]{2,}$", domain)
        if not local or not valid:
            continue
        start = match.start() + match.group().index(local)
        end = match.start() + match.group().index("@") + 1 + len(domain)
        found.append(Finding("email", start, end, text[start:end]))
    return found


def find(text: Optional[str]) -> List[Finding]:
    """Every finding in `text`, in order and without overlaps (an email's digits are not a phone too)."""
    if not text or not any(char.isdigit() or char == "@" for char in text):
        return []
    emails = _emails(text) if "@" in text else []
    taken = [(f.start, f.end) for f in emails]
    numbers = [f for f in _numbers(text) if not any(f.start < end and start < f.end for start, end in taken)]
    return sorted(emails + numbers, key=lambda f: f.start)


def mask(text: Optional[str], only: Optional[Collection[str]] = None) -> Optional[str]:
    """The text with each finding (of the kinds in `only`, default all) replaced by its mask
    (`[card ending 1111]`, `[SSN]`, `[email]`, `[phone]`)."""
    findings = [f for f in find(text) if only is None or f.kind in only]
    if not findings or text is None:
        return text
    pieces, position = [], 0
    for finding in findings:
        pieces.append(text[position : finding.start])
        pieces.append(finding.masked())
        position = finding.end
    pieces.append(text[position:])
    return "".join(pieces)


def kinds(text: Optional[str]) -> List[str]:
    """Which kinds of personal data `text` holds, in KINDS order."""
    present = {f.kind for f in find(text)}
    return [kind for kind in KINDS if kind in present]


def mask_value(value: Any, only: Optional[Collection[str]] = None) -> Any:
    """`mask` over every string in a JSON value (a message payload), keys and ids/links left as they are."""
    if isinstance(value, str):
        return mask(value, only)
    if isinstance(value, list):
        return [mask_value(item, only) for item in value]
    if isinstance(value, dict):
        return {k: v if k in UNMASKED_PAYLOAD_KEYS else mask_value(v, only) for k, v in value.items()}
    return value


def value_kinds(value: Any) -> List[str]:
    """`kinds` over every maskable string in a JSON value."""
    present: set = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            present.update(kinds(item))
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(v for k, v in item.items() if k not in UNMASKED_PAYLOAD_KEYS)
    return [kind for kind in KINDS if kind in present]
