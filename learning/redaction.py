"""Personal data out of anything the learning loop reuses: NLU examples, test stories, past replies.

A logged chat is reused in three ways (issue 15): a customer message becomes an NLU example, a good
conversation becomes a test story, an agent's reply becomes a past reply that the bot will say to other
customers. Each copy leaves the interaction log, so each goes through `redact` first. The log itself is
never edited.

What is found, and how (patterns with validators; docs/redaction.md has the reasoning and the figures):
- card, ssn, email, phone: `storage.pii.find` (Luhn-checked cards; SSNs without never-issued values;
  10-15 digit phones), the same rules the inbox masks with; plus emails spelt out ("jane at gmail dot com");
- iban: 2 letters, 2 check digits, 11-30 letters/digits, spaced or not, passing ISO 13616's mod-97 check;
- bank account: a 9-digit ABA routing number (Federal Reserve prefix and the ABA checksum), or a run of
  6-17 digits with "account", "acct", "routing", "checking", "savings"… in the 30 characters before;
- address: house number + street name + suffix (St, Ave, Rd…) with an optional unit and ", City, ST
  12345"; a "City ST 12345" tail alone; "PO Box 12"; "zip 12345"; and a street without a number when
  the customer says they live there ("I live on Main St"). A street named as the place of a loss ("hit
  on Main St") is kept: it says where a car was, not who the customer is;
- date of birth: a date right after (or right before) "born", "DOB", "date of birth", "birthday"… in
  the same sentence. Other dates (of a loss, of a payment) are kept;
- name: the customer's own name parts (`names_from_identity`) anywhere, case-insensitively, and the
  capitalised words after "my name is", "this is", "I'm" (at most 3);
- policy and claim numbers (PX-88123, CL-204117): replaced by a synthetic number of the same shape, so
  an exported NLU example keeps a realistic entity. Synthetic numbers start with 0, which no Coverline
  reference does (`storage.references.new_reference`), so redacting redacted text changes nothing.

Overlapping findings: the longer span wins, then the more specific kind (a Luhn-valid card over a
bank account number over a phone). Placeholders already in the text are never matched or used as context.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from storage import pii

PLACEHOLDERS: Dict[str, str] = {
    "card": "[card]",
    "iban": "[iban]",
    "bank_account": "[bank account]",
    "email": "[email]",
    "phone": "[phone]",
    "ssn": "[ssn]",
    "address": "[address]",
    "date_of_birth": "[date of birth]",
    "name": "[name]",
}
SYNTHETIC_KINDS = ("policy_number", "claim_number")
KINDS = tuple(PLACEHOLDERS) + SYNTHETIC_KINDS
# equal lengths: the earlier kind is the more specific one (validated beats context beats shape)
_PRIORITY = {
    kind: rank
    for rank, kind in enumerate(
        (
            "card",
            "iban",
            "ssn",
            "email",
            "policy_number",
            "claim_number",
            "date_of_birth",
            "bank_account",
            "phone",
            "address",
            "name",
        )
    )
}


@dataclass(frozen=True)
class Finding:
    kind: str  # one of KINDS
    start: int  # in the original text
    end: int


@dataclass(frozen=True)
class Redaction:
    text: str
    findings: Tuple[Finding, ...]
    entities: Tuple[Dict[str, Any], ...]  # {"entity", "value", "start", "end"}, offsets in `text`


@dataclass(frozen=True)
class _Candidate:
    kind: str
    start: int
    end: int
    replacement: str


_PLACEHOLDER_RE = re.compile("|".join(re.escape(p) for p in sorted(set(PLACEHOLDERS.values()), key=len, reverse=True)))

# --- IBAN -------------------------------------------------------------------------------------------

_IBAN_SHAPE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ -]?[A-Za-z0-9]){11,30}(?![A-Za-z0-9])")


def iban_valid(candidate: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters become 10..35, and the number is
    1 modulo 97. A typo in any one character, or two swapped, always fails."""
    compact = re.sub(r"[ -]", "", candidate).upper()
    if not 15 <= len(compact) <= 34 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    if not compact.isalnum() or not compact.isascii():
        return False
    rearranged = compact[4:] + compact[:4]
    remainder = 0
    for char in rearranged:
        remainder = (remainder * (100 if char.isalpha() else 10) + int(char, 36)) % 97
    return remainder == 1


def _ibans(text: str) -> Iterator[_Candidate]:
    """The longest prefix of each IBAN-shaped run that passes mod-97, so words or numbers typed right
    after it ("…3000 thanks", "…3000 1250") do not hide it."""
    position = 0
    while True:
        match = _IBAN_SHAPE.search(text, position)
        if match is None:
            return
        span, position = match.group(), match.start() + 1
        for end in range(len(span), 14, -1):
            if span[end - 1] in " -" or (end < len(span) and span[end].isalnum() and span[end - 1].isalnum()):
                continue  # cut only between groups, never inside one
            if iban_valid(span[:end]):
                yield _Candidate("iban", match.start(), match.start() + end, PLACEHOLDERS["iban"])
                position = match.start() + end
                break


# --- bank accounts -----------------------------------------------------------------------------------

_NINE_DIGITS = re.compile(r"(?<![\w$.,/-])\d{9}(?![\w]|[.,/-]\d)")
# Federal Reserve routing symbols: 00-12 banks, 21-32 thrifts, 61-72 electronic, 80 traveller's cheques
_ROUTING_PREFIXES = {f"{n:02d}" for n in (*range(0, 13), *range(21, 33), *range(61, 73), 80)}
_ACCOUNT_DIGITS = re.compile(r"(?<![\w$.,/#-])(?:\d{6,17}|\d{3,}(?:[ -]\d{3,}){1,4})(?![\w]|[.,/-]\d)")
_ACCOUNT_CONTEXT = re.compile(r"\b(?:account|acct|acc|a/c|routing|aba|checking|chequing|savings|bank)\b", re.IGNORECASE)


def aba_valid(digits: str) -> bool:
    """The ABA routing number checksum: 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) is a multiple of 10,
    and the first two digits are a Federal Reserve routing symbol."""
    if len(digits) != 9 or not digits.isdigit() or digits[:2] not in _ROUTING_PREFIXES:
        return False
    d = [int(c) for c in digits]
    return (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + d[2] + d[5] + d[8]) % 10 == 0


def _bank_accounts(text: str) -> Iterator[_Candidate]:
    for match in _NINE_DIGITS.finditer(text):
        if aba_valid(match.group()):
            yield _Candidate("bank_account", match.start(), match.end(), PLACEHOLDERS["bank_account"])
    for match in _ACCOUNT_DIGITS.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 6 <= len(digits) <= 17 and _ACCOUNT_CONTEXT.search(text[max(0, match.start() - 30) : match.start()]):
            yield _Candidate("bank_account", match.start(), match.end(), PLACEHOLDERS["bank_account"])


# --- SSNs storage.pii does not see -------------------------------------------------------------------

# storage.pii takes 9 bare digits as an SSN only after "SSN" / "social security"; chats also say "ss number"
_SSN_CONTEXT = re.compile(r"\b(?:ss|soc\s*sec|social)\s*(?:#|no\b\.?|num\b|number\b)\s*(?:is\s*|:\s*)?$", re.I)
_SSN_DIGITS = re.compile(r"(?<![\w$.,/-])\d{3}([- ]?)\d{2}\1\d{4}(?![\w]|[.,/-]\d)")


def _ssns(text: str) -> Iterator[_Candidate]:
    for match in _SSN_DIGITS.finditer(text):
        if _SSN_CONTEXT.search(text[max(0, match.start() - 30) : match.start()]):
            yield _Candidate("ssn", match.start(), match.end(), PLACEHOLDERS["ssn"])


# --- emails spelt out --------------------------------------------------------------------------------

_SPOKEN_EMAIL = re.compile(
    r"(?<![\w.])(?:[A-Za-z0-9._%+-]+\s+dot\s+)?[A-Za-z0-9._%+-]+\s*(?:\(at\)|\[at\]|\s+at\s+)\s*[A-Za-z0-9-]+"
    r"(?:\s*(?:\(dot\)|\[dot\]|\s+dot\s+|\.)\s*[A-Za-z0-9-]+)*?"
    r"\s*(?:\(dot\)|\[dot\]|\s+dot\s+)\s*(?:com|net|org|edu|gov|io|co|us|uk|ca|de|fr|info|me)\b",
    re.IGNORECASE,
)


# 7-digit local numbers, which storage.pii leaves alone (they look like amounts), after a phone word
_LOCAL_PHONE = re.compile(r"(?<![\w$.,/-])\d{3}[-. ]\d{4}(?![\w]|[.,/-]\d)")
_PHONE_CONTEXT = re.compile(r"\b(?:phone|cell|mobile|call|text|tel|number|reach|whatsapp|fax|landline)\b|#", re.I)


def _local_phones(text: str) -> Iterator[_Candidate]:
    for match in _LOCAL_PHONE.finditer(text):
        if _PHONE_CONTEXT.search(text[max(0, match.start() - 25) : match.start()]):
            yield _Candidate("phone", match.start(), match.end(), PLACEHOLDERS["phone"])


def _emails(text: str) -> Iterator[_Candidate]:
    for match in _SPOKEN_EMAIL.finditer(text):
        yield _Candidate("email", match.start(), match.end(), PLACEHOLDERS["email"])


# --- addresses ---------------------------------------------------------------------------------------

_SUFFIXES = (
    r"st|street|ave|av|avenue|rd|road|blvd|boulevard|ln|lane|dr|drive|ct|court|way|pl|place|ter|terr|"
    r"terrace|cir|circle|hwy|highway|pkwy|parkway|sq|square|trl|trail|loop|row"
)
# words that are never part of a street name: they make "500 deductible on the Main St" two things
_NOT_STREET = (
    r"the|a|an|on|in|at|of|to|for|from|and|or|but|my|your|our|their|his|her|its|is|was|are|were|be|been|"
    r"i|me|we|you|it|us|this|that|with|by|per|about|after|before|since|ago|than|then|last|next|each|every|"
    r"more|less|over|under|only|just|near|off|into|onto|around|down|up|"
    r"days?|weeks?|months?|years?|yrs?|hours?|hrs?|minutes?|mins?|seconds?|miles?|mi|km|kms|cars?|vehicles?|"
    r"dollars?|bucks|usd|people|times|am|pm|percent|k|x|deductible|claims?|policy|policies|payments?|"
    r"installments?|stars?|points?|kids|items|bags|pics|photos"
)
_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|"
    "ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR"
)
_STATE_NAMES = (
    "new hampshire|new jersey|new mexico|new york|north carolina|north dakota|south carolina|south dakota|"
    "west virginia|rhode island|district of columbia|puerto rico|alabama|alaska|arizona|arkansas|california|"
    "colorado|connecticut|delaware|florida|georgia|hawaii|idaho|illinois|indiana|iowa|kansas|kentucky|"
    "louisiana|maine|maryland|massachusetts|michigan|minnesota|mississippi|missouri|montana|nebraska|nevada|"
    "ohio|oklahoma|oregon|pennsylvania|tennessee|texas|utah|vermont|virginia|washington|wisconsin|wyoming"
)
# state codes that are also everyday words: only in capitals ("in 12345" is not Indiana)
_WORD_STATES = {"IN", "OR", "ME", "HI", "OK", "OH"}
_UNIT = (
    r"(?:,?\s*(?:apt|apartment|unit|suite|ste|fl|floor|rm|room|bldg)\.?\s*#?\s*[A-Za-z0-9-]{1,6}\b"
    r"|,?\s*#\s*[A-Za-z0-9-]{1,6}\b)"
)
_STREET_NAME_WORD = rf"(?!(?:{_NOT_STREET})\b)[A-Za-z0-9][A-Za-z0-9'.]*"
# suffixes that are everyday words too: in lower case after a year they are not a street ("2019 civic, right lane")
_WORD_SUFFIXES = frozenset("way place drive court lane loop row square trail circle highway terrace".split())
_STREET = re.compile(
    rf"(?<![\w$#.,/:-])(?P<number>\d{{1,6}}(?:-\d{{1,4}})?[A-Za-z]?)"  # 123, 123B, 71-14 (Queens)
    rf"(?:\s+(?:n|s|e|w|north|south|east|west)\.?)?"
    rf"(?:\s+{_STREET_NAME_WORD}){{1,3}}?"
    rf"\s+(?P<suffix>{_SUFFIXES})\b\.?"
    rf"(?:\s+(?:n|s|e|w|ne|nw|se|sw)\b\.?)?"
    rf"{_UNIT}?",
    re.IGNORECASE,
)
_LIVES_ON = re.compile(
    rf"\b(?:live|living|lives|reside|residing|moved|moving|staying|address\s+is|address:)\s+(?:on|at|to|off|in)?\s*"
    rf"(?:the\s+)?(?P<street>(?:{_STREET_NAME_WORD}\s+){{1,3}}?(?:{_SUFFIXES})\b\.?{_UNIT}?)",
    re.IGNORECASE,
)
_STATE_ZIP = re.compile(
    rf"(?<![\w])(?P<state>{_STATE_NAMES}|{_STATES})\.?,?\s+(?P<zip>\d{{5}}(?:-\d{{4}})?)(?![\w]|[.,]\d)", re.IGNORECASE
)
_CITY_WORD = re.compile(r"([A-Za-z][A-Za-z'.-]*)\s*,?\s*$")
_NOT_CITY = re.compile(
    rf"(?:{_NOT_STREET}|live|lives|living|moved|send|sent|mail|address|zip|code|ship|to|{_SUFFIXES})", re.IGNORECASE
)
_CITY_STATE_AFTER_STREET = re.compile(
    rf",?\s*(?:[A-Za-z][A-Za-z'.-]*\s+){{0,2}}[A-Za-z][A-Za-z'.-]*,?\s+(?:{_STATES}|(?i:{_STATE_NAMES}))\b\.?(?:\s+\d{{5}}(?:-\d{{4}})?\b)?"
)
_UNIT_BEFORE = re.compile(r"\b(?:apt|apartment|suite|ste)\.?\s*#?\s*[A-Za-z0-9-]{1,6}\b", re.IGNORECASE)
_PO_BOX = re.compile(r"\b(?:p\.?\s?o\.?|post\s+office)\s*box\s*#?\s*\d{1,6}\b", re.IGNORECASE)
_ZIP_CONTEXT = re.compile(
    r"\b(?:zip|zipcode|postal\s+code|post\s+code)(?:\s+code)?\s*(?:is|:|#)?\s*(\d{5}(?:-\d{4})?)\b", re.IGNORECASE
)


def _city_start(text: str, state_start: int) -> Optional[int]:
    """Where the city before a state code begins: up to 3 words back, stopping at a word that cannot be
    part of a city ("live in Springfield IL" starts at Springfield). None without a city."""
    start, found = state_start, None
    for _ in range(3):
        match = _CITY_WORD.search(text[max(0, start - 40) : start])
        if not match:
            break
        word = match.group(1)
        if _NOT_CITY.fullmatch(word):
            break
        start = max(0, start - 40) + match.start(1)
        found = start
        if text[start:state_start].count(",") > 1:
            break
    return found


def _addresses(text: str) -> Iterator[_Candidate]:
    spans: List[Tuple[int, int]] = []
    for match in _STREET.finditer(text):
        suffix, number = match.group("suffix"), match.group("number")
        if suffix in _WORD_SUFFIXES and re.fullmatch(r"(?:19|20)\d\d", number):
            continue
        end = match.end()
        tail = _CITY_STATE_AFTER_STREET.match(text, end)
        state = re.search(rf"\b(?:{_STATE_NAMES}|{_STATES})\b", tail.group(), re.IGNORECASE) if tail else None
        if tail and _state_allowed(state):
            end = tail.end()
        spans.append((match.start(), end))
    for match in _LIVES_ON.finditer(text):
        spans.append((match.start("street"), match.end("street")))
    for match in _STATE_ZIP.finditer(text):
        if not _state_allowed(match):
            continue
        start = _city_start(text, match.start())
        if start is not None:
            spans.append((start, match.end()))
    for match in _PO_BOX.finditer(text):
        spans.append((match.start(), match.end()))
    for match in _ZIP_CONTEXT.finditer(text):
        spans.append((match.start(1), match.end(1)))
    units = [(match.start(), match.end()) for match in _UNIT_BEFORE.finditer(text)]
    for start, end in _merge_adjacent(spans, units, text):
        yield _Candidate("address", start, end, PLACEHOLDERS["address"])


def _state_allowed(match: Optional[re.Match]) -> bool:
    if match is None:
        return False
    state = match.group("state") if "state" in match.re.groupindex else match.group()
    if len(state) > 2:
        return True  # a state's name
    return state.upper() not in _WORD_STATES or state.isupper()


def _merge_adjacent(spans: List[Tuple[int, int]], units: List[Tuple[int, int]], text: str) -> List[Tuple[int, int]]:
    """One address, one placeholder: "12 Oak Ln" and "Austin, TX 78701" after it become one span, and
    "Apt 5, " before it joins too. A unit alone ("apt 5 is flooded") is not an address."""
    merged: List[Tuple[int, int, bool]] = []  # start, end, holds more than a unit
    for start, end, real in sorted([(s, e, True) for s, e in spans] + [(s, e, False) for s, e in units]):
        if merged and (start <= merged[-1][1] or re.fullmatch(r"[\s,]*", text[merged[-1][1] : start])):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]), merged[-1][2] or real)
        else:
            merged.append((start, end, real))
    return [(start, end) for start, end, real in merged if real]


# --- dates of birth ----------------------------------------------------------------------------------

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_ORDINAL = r"(?:st|nd|rd|th)?"
_DATE = (
    r"(?:\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})"
    r"|\d{4}[/.-]\d{1,2}[/.-]\d{1,2}"
    rf"|{_MONTH}\s+\d{{1,2}}{_ORDINAL},?\s+'?\d{{2,4}}"
    rf"|\d{{1,2}}{_ORDINAL}\s+(?:of\s+)?{_MONTH},?\s+'?\d{{2,4}}"
    rf"|{_MONTH},?\s+(?:19|20)\d{{2}}"
    rf"|{_MONTH}\s+\d{{1,2}}{_ORDINAL}"
    rf"|\d{{1,2}}{_ORDINAL}\s+(?:of\s+)?{_MONTH}"
    r"|\d{1,2}/\d{1,2})(?![\w/])"
)
_DOB_CONTEXT = r"(?:\bborn\b|\bdob\b|\bd\.o\.b\b\.?|\bdate\s+of\s+birth\b|\bbirth\s*date\b|\bbirthday\b|\bb-?day\b)"
# between the context and the date: only these (no sentence end), so "born in Ohio, crashed 6/1/24" keeps 6/1/24
_DOB_GAP = (
    r"(?:[\s:=,\-–—(]|['’]s\b|\b(?:is|was|on|in|of|my|it['’]?s|the|be|as|would|will|to|from|policy|"
    r"file|record|listed|shows|says|reads|should|now|actually|correct|changed|updated|corrected)\b){0,20}"
)
_DOB_AFTER = re.compile(
    rf"{_DOB_CONTEXT}{_DOB_GAP}(?P<date>{_DATE}|(?:(?<=in )|(?<=born ))(?:19|20)\d{{2}}\b)", re.IGNORECASE
)
_DOB_BEFORE = re.compile(
    rf"(?<![\w/])(?P<date>{_DATE})\s*[(\[]?\s*(?:(?:is|was|=|-)\s+)?(?:my\s+|the\s+)?{_DOB_CONTEXT}", re.IGNORECASE
)
_YEAR_OF_BIRTH = re.compile(r"\byear\s+of\s+birth\b\s*(?:is|was|:|-)?\s*(?P<date>(?:19|20)\d{2})\b", re.IGNORECASE)


def _dates_of_birth(text: str) -> Iterator[_Candidate]:
    for pattern in (_DOB_AFTER, _DOB_BEFORE, _YEAR_OF_BIRTH):
        for match in pattern.finditer(text):
            yield _Candidate("date_of_birth", match.start("date"), match.end("date"), PLACEHOLDERS["date_of_birth"])


# --- names -------------------------------------------------------------------------------------------

_INTRO = re.compile(
    r"(?i:\bmy\s+name\s+is|\bmy\s+name['’]s|\bname['’]s|\bname\s*:|\bthis\s+is|\bi\s+am|\bi['’]m|\bim|\bit['’]s)\s+"
    r"(?P<name>[A-Z][A-Za-z'’-]+(?:\s+[A-Z][A-Za-z'’-]+){0,2})"
)
# capitalised words after "I'm" / "this is" that are not names ("I'm Not sure", "this is Coverline")
_NOT_NAMES = frozenset(
    """not so very just sorry calling trying here still also the a an in at on from with about back really
    writing having getting looking going good fine ok okay sure confused happy upset frustrated coverline it
    that what your my regarding re urgent ready done interested wondering following sending contacting
    reaching hoping messaging texting new insured covered unable able glad afraid ridiculous unacceptable
    monday tuesday wednesday thursday friday saturday sunday today tomorrow yesterday i im me we you he she
    they there this how why when where who which whatever hello hi hey thanks thank please yes no""".split()
)


def _intro_names(text: str) -> Iterator[_Candidate]:
    for match in _INTRO.finditer(text):
        words = match.group("name").split()
        kept: List[str] = []
        for word in words:
            if word.lower().strip("'’") in _NOT_NAMES or word.upper() == word:
                break
            kept.append(word)
        if kept:
            start = match.start("name")
            end = start + _joined_length(text, start, kept)
            yield _Candidate("name", start, end, PLACEHOLDERS["name"])


def _joined_length(text: str, start: int, words: List[str]) -> int:
    """The length of `words` as written from `start` (the spaces between them may be several)."""
    position = start
    for word in words:
        position = text.index(word, position) + len(word)
    return position - start


def _known_names(text: str, names: Sequence[str]) -> Iterator[_Candidate]:
    parts = sorted({part for name in names for part in _name_parts(name)}, key=len, reverse=True)
    if not parts:
        return
    one = "|".join(re.escape(part) for part in parts)
    pattern = re.compile(rf"(?<![\w@])(?:{one})(?:\s+(?:{one}))*(?![\w])", re.IGNORECASE)
    for match in pattern.finditer(text):
        yield _Candidate("name", match.start(), match.end(), PLACEHOLDERS["name"])


# in a display name but not a name: matched everywhere they would blank "the" or "Dr" in "12 Oak Dr"
_NOT_NAME_PARTS = _NOT_NAMES | frozenset(
    "mr mrs ms miss mx dr prof sir madam jr sr ii iii iv and of official real".split()
)


def _name_parts(name: str) -> List[str]:
    """Words of a display name worth matching: letters (any script), at least 2 of them, not a title or
    an everyday word ("Dr. Amy Lee" gives Amy and Lee; "The Real Bob" gives Bob)."""
    parts = []
    for word in re.split(r"[\s,/|]+", name or ""):
        word = re.sub(r"^[^\w]+|[^\w]+$", "", word)
        if len(word) >= 2 and any(char.isalpha() for char in word) and word.lower() not in _NOT_NAME_PARTS:
            parts.append(word)
    return parts


def names_from_identity(identity: Optional[str]) -> List[str]:
    """The display name parts in a conversation's `customer_identity` (conversations/identity.py):
    ``Jane Doe (@jane, +15551234567) telegram:12345`` gives ["Jane", "Doe"]; an identity with the
    channel key alone gives []. A name cut with "…" loses its cut word: a prefix would match other words."""
    if not identity or not identity.strip():
        return []
    readable = identity.strip().rsplit(" ", 1)
    if len(readable) < 2:
        return []
    name = re.sub(r"\s*\([^()]*\)?\s*$", "", readable[0]).strip()
    if name.endswith("…"):
        name = name[:-1].rsplit(" ", 1)[0] if " " in name else ""
    return _name_parts(name)


# --- policy and claim numbers ------------------------------------------------------------------------

_REFERENCES = (
    (
        "policy_number",
        re.compile(r"(?<![\w-])(?P<prefix>P\s*X\s*[-–_ ]?\s*)(?P<digits>\d{5})(?![\w]|[.,]\d)", re.IGNORECASE),
    ),
    (
        "claim_number",
        re.compile(r"(?<![\w-])(?P<prefix>C\s*L\s*[-–_ ]?\s*)(?P<digits>\d{6})(?![\w]|[.,]\d)", re.IGNORECASE),
    ),
)


def synthetic_digits(kind: str, digits: str) -> str:
    """Deterministic stand-in digits for a real reference: a leading 0 (never issued, so the value is
    recognisably synthetic and left alone next time), the rest from a hash. About 9 real numbers share
    each stand-in, so the stand-in does not name one policy."""
    if digits.startswith("0"):
        return digits
    seed = hashlib.sha256(f"coverline-redaction:{kind}:{digits}".encode()).digest()
    rest = int.from_bytes(seed[:8], "big") % 10 ** (len(digits) - 1)
    return "0" + str(rest).zfill(len(digits) - 1)


# the digits alone after "policy number" / "claim no." (no PX-/CL-): replaced the same way, digits only
_BARE_REFERENCES = (
    (
        "policy_number",
        re.compile(r"(?i:\bpolicy\s*(?:number|num|no\.?|#))\s*(?:is\s*|:\s*|#\s*)?(?P<digits>\d{5})(?![\w]|[.,]\d)"),
    ),
    (
        "claim_number",
        re.compile(r"(?i:\bclaim\s*(?:number|num|no\.?|#))\s*(?:is\s*|:\s*|#\s*)?(?P<digits>\d{6})(?![\w]|[.,]\d)"),
    ),
)


def _references(text: str) -> Iterator[_Candidate]:
    for kind, pattern in _REFERENCES:
        for match in pattern.finditer(text):
            value = match.group("prefix") + synthetic_digits(kind, match.group("digits"))
            yield _Candidate(kind, match.start(), match.end(), value)
    for kind, pattern in _BARE_REFERENCES:
        for match in pattern.finditer(text):
            value = synthetic_digits(kind, match.group("digits"))
            yield _Candidate(kind, match.start("digits"), match.end("digits"), value)


# --- putting it together -----------------------------------------------------------------------------


def _without_placeholders(text: str) -> Tuple[str, List[Tuple[int, int]]]:
    """`text` with each placeholder blanked (same length), and where they are: a placeholder such as
    "[date of birth]" or "[bank account]" must not serve as context for the next redaction."""
    spans = [(m.start(), m.end()) for m in _PLACEHOLDER_RE.finditer(text)]
    blanked = _PLACEHOLDER_RE.sub(lambda m: "\x00" * len(m.group()), text)
    return blanked, spans


def _end_of(finding: pii.Finding) -> int:
    """Where a finding of storage.pii ends, a phone cut at a sentence end: pii reads "+15551230000. 120
    mile tow" as one 14-digit number, and the 120 is worth keeping."""
    if finding.kind != "phone":
        return finding.end
    first = re.split(r"[.,]\s", finding.value, maxsplit=1)[0]
    return finding.start + len(first) if 10 <= sum(c.isdigit() for c in first) <= 15 else finding.end


def _candidates(text: str, names: Sequence[str]) -> List[_Candidate]:
    blanked, placeholders = _without_placeholders(text)
    found: List[_Candidate] = [_Candidate(f.kind, f.start, _end_of(f), PLACEHOLDERS[f.kind]) for f in pii.find(blanked)]
    for finder in (
        _ibans,
        _bank_accounts,
        _ssns,
        _emails,
        _local_phones,
        _addresses,
        _dates_of_birth,
        _intro_names,
        _references,
    ):
        found.extend(finder(blanked))
    found.extend(_known_names(blanked, names))
    return [c for c in found if not any(c.start < end and start < c.end for start, end in placeholders)]


def _resolve(candidates: List[_Candidate]) -> List[_Candidate]:
    """Non-overlapping findings: longest first, then the more specific kind."""
    starts: List[int] = []  # the chosen spans, kept sorted and disjoint, so each check is a bisection
    chosen: List[_Candidate] = []
    for candidate in sorted(candidates, key=lambda c: (c.start - c.end, _PRIORITY[c.kind], c.start)):
        at = bisect.bisect_right(starts, candidate.start)
        before_overlaps = at > 0 and chosen[at - 1].end > candidate.start
        after_overlaps = at < len(chosen) and chosen[at].start < candidate.end
        if not before_overlaps and not after_overlaps:
            starts.insert(at, candidate.start)
            chosen.insert(at, candidate)
    return chosen


def redact(text: str, names: Sequence[str] = ()) -> Redaction:
    """`text` with personal data replaced by placeholders ("[card]", "[address]"…) and policy/claim
    numbers by synthetic ones, reported as entities at their place in the redacted text. `names` are
    the customer's name parts (`names_from_identity`)."""
    if not text:
        return Redaction(text or "", (), ())
    if isinstance(names, str):
        names = [names]  # one name given as a string, not its letters
    chosen = _resolve(_candidates(text, names))
    pieces: List[str] = []
    entities: List[Dict[str, Any]] = []
    position = length = 0
    for candidate in chosen:
        kept = text[position : candidate.start]
        pieces.append(kept)
        length += len(kept)
        if candidate.kind in SYNTHETIC_KINDS:
            entities.append(
                {
                    "entity": candidate.kind,
                    "value": candidate.replacement,
                    "start": length,
                    "end": length + len(candidate.replacement),
                }
            )
        pieces.append(candidate.replacement)
        length += len(candidate.replacement)
        position = candidate.end
    pieces.append(text[position:])
    findings = tuple(Finding(c.kind, c.start, c.end) for c in chosen if text[c.start : c.end] != c.replacement)
    return Redaction("".join(pieces), findings, tuple(entities))
