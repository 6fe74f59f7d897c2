"""Loader for the Harbor judged set (`harbor_judged.yml`): (profile, moment) cases with graded relevant items.

The set is an acceptance test, kept out of any tuning (see the file's header). Loading checks it against the
content library, so a renamed or retired item, a typo in a profile, or a grade that breaks one of the
recommender's constraints (marketing to an upset, complaining, non-consenting or anonymous customer; an offer
of a product they hold; a dismissed item; an item outside its validity dates) is an error here, naming the case
and the field, rather than a silent zero in the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import yaml

from recommendations.library import DEMO_LIBRARY, ContentSpec, load_library
from recommendations.profile import ClaimState, HeldPolicy, QuoteGiven  # the recommender's own parts
from recommendations.vocabulary import CLAIM_STAGES, INCIDENT_TYPES, MOMENTS, PRODUCT_LINES

JUDGED_FILE = Path(__file__).resolve().parent / "harbor_judged.yml"
SENTIMENTS = ("positive", "neutral", "negative")
CHANNELS = ("webchat", "rest", "messenger", "instagram", "whatsapp", "telegram", "twitter", "wechat")
GRADES = (1, 2, 3)
PROFILE_FIELDS = {
    "customer",
    "policies",
    "claims",
    "quotes",
    "recent_intents",
    "recent_questions",
    "sentiment",
    "channel",
    "marketing_consent",
    "open_complaint",
    "dismissed",
    "payment_overdue_days",
}
CASE_FIELDS = {"id", "moment", "day", "profile", "relevant"}


@dataclass(frozen=True)
class Profile:
    """Who the customer is at the moment of the case, as the recommender would see it."""

    anonymous: bool
    policies: Tuple[HeldPolicy, ...] = ()
    claims: Tuple[ClaimState, ...] = ()
    quotes: Tuple[QuoteGiven, ...] = ()
    recent_intents: Tuple[str, ...] = ()
    recent_questions: Tuple[str, ...] = ()
    sentiment: str = "neutral"
    channel: str = "webchat"
    marketing_consent: bool = False
    open_complaint: bool = False
    dismissed: Tuple[str, ...] = ()
    payment_overdue_days: int = 0

    @property
    def held_products(self) -> Tuple[str, ...]:
        return tuple(dict.fromkeys(p.product for p in self.policies))

    @property
    def marketing_allowed(self) -> bool:
        """The issue's rule: no marketing to a customer who is upset, complaining or has not consented."""
        return (
            not self.anonymous and self.marketing_consent and not self.open_complaint and self.sentiment != "negative"
        )


@dataclass(frozen=True)
class JudgedCase:
    id: str
    moment: str
    day: date
    profile: Profile
    relevant: Dict[str, int] = field(hash=False)


class JudgedSetError(ValueError):
    """Everything wrong with the judged set, one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("judged set rejected:\n  " + "\n  ".join(self.problems))


class _Checker:
    def __init__(self, where: str, problems: List[str]) -> None:
        self.where, self.problems = where, problems

    def add(self, name: str, problem: str) -> None:
        self.problems.append(f"{self.where}: {name}: {problem}")

    def records(self, raw: Dict[str, Any], name: str, keys: Dict[str, type]) -> List[Dict[str, Any]]:
        value = raw.get(name) or []
        if not isinstance(value, list):
            self.add(name, "must be a list")
            return []
        good = []
        for index, entry in enumerate(value, start=1):
            if not isinstance(entry, dict) or set(entry) != set(keys):
                self.add(f"{name}[{index}]", f"must have exactly the keys {', '.join(keys)}")
                continue
            if not all(isinstance(entry[k], t) and not isinstance(entry[k], bool) for k, t in keys.items()):
                self.add(f"{name}[{index}]", "has a value of the wrong type")
                continue
            good.append(entry)
        return good

    def words(self, raw: Dict[str, Any], name: str) -> Tuple[str, ...]:
        value = raw.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.add(name, "must be a list of non-empty text")
            return ()
        return tuple(value)

    def choice(self, value: Any, name: str, allowed: Iterable[str]) -> None:
        allowed = tuple(allowed)
        if value not in allowed:
            self.add(name, f"unknown {value!r}; allowed: {', '.join(map(str, allowed))}")


def _profile(raw: Any, check: _Checker) -> Optional[Profile]:
    if not isinstance(raw, dict):
        check.add("profile", "must be a mapping")
        return None
    for unknown in sorted(set(raw) - PROFILE_FIELDS):
        check.add(f"profile.{unknown}", f"unknown field; allowed: {', '.join(sorted(PROFILE_FIELDS))}")
    check.choice(raw.get("customer"), "profile.customer", ("known", "anonymous"))
    anonymous = raw.get("customer") == "anonymous"
    policies = check.records(raw, "policies", {"product": str, "tenure_years": (int, float), "renewal_in_days": int})
    claims = check.records(raw, "claims", {"product": str, "incident_type": str, "stage": str})
    quotes = check.records(raw, "quotes", {"product": str, "days_ago": int})
    for entry in policies + claims + quotes:
        check.choice(entry["product"], "product", PRODUCT_LINES)
    for entry in claims:
        check.choice(entry["incident_type"], "claims.incident_type", INCIDENT_TYPES)
        check.choice(entry["stage"], "claims.stage", CLAIM_STAGES)
    if anonymous and (policies or claims):
        check.add("profile", "an anonymous customer has no known policies or claims (not verified)")
    sentiment, channel = raw.get("sentiment", "neutral"), raw.get("channel", "webchat")
    check.choice(sentiment, "profile.sentiment", SENTIMENTS)
    check.choice(channel, "profile.channel", CHANNELS)
    flags = {}
    for name in ("marketing_consent", "open_complaint"):
        flags[name] = raw.get(name, False)
        if not isinstance(flags[name], bool):
            check.add(f"profile.{name}", "must be true or false")
    overdue = raw.get("payment_overdue_days", 0)
    if not isinstance(overdue, int) or isinstance(overdue, bool) or overdue < 0:
        check.add("profile.payment_overdue_days", "must be a whole number of days, 0 or more")
    return Profile(
        anonymous=anonymous,
        policies=tuple(HeldPolicy(p["product"], float(p["tenure_years"]), p["renewal_in_days"]) for p in policies),
        claims=tuple(ClaimState(c["product"], c["incident_type"], c["stage"]) for c in claims),
        quotes=tuple(QuoteGiven(q["product"], q["days_ago"]) for q in quotes),
        recent_intents=check.words(raw, "recent_intents"),
        recent_questions=check.words(raw, "recent_questions"),
        sentiment=sentiment,
        channel=channel,
        marketing_consent=flags["marketing_consent"] is True,
        open_complaint=flags["open_complaint"] is True,
        dismissed=check.words(raw, "dismissed"),
        payment_overdue_days=overdue if isinstance(overdue, int) else 0,
    )


def _valid_on(item: ContentSpec, day: date) -> bool:
    return (item.valid_from is None or item.valid_from <= day) and (item.valid_to is None or day <= item.valid_to)


def _check_grades(
    relevant: Dict[str, int], profile: Profile, day: date, items: Dict[str, ContentSpec], check: _Checker
) -> None:
    """The grades must be satisfiable by a recommender that obeys every constraint."""
    for slug in profile.dismissed:
        if slug not in items:
            check.add("profile.dismissed", f"no library item {slug!r}")
    for slug, grade in relevant.items():
        item = items.get(slug)
        if item is None:
            check.add(f"relevant.{slug}", "no such item in the content library")
            continue
        if grade not in GRADES:
            check.add(f"relevant.{slug}", f"grade must be 1, 2 or 3, not {grade!r}")
        if slug in profile.dismissed:
            check.add(f"relevant.{slug}", "the customer dismissed it: it may never come back")
        if item.marketing and not profile.marketing_allowed:
            check.add(f"relevant.{slug}", "a marketing item for a customer who must not get marketing")
        if item.marketing and item.offers_product in profile.held_products:
            check.add(f"relevant.{slug}", f"offers {item.offers_product}, which the customer already holds")
        if not _valid_on(item, day):
            check.add(f"relevant.{slug}", f"not valid on {day} ({item.valid_from} to {item.valid_to})")


def parse_cases(data: Any, items: Dict[str, ContentSpec], source: str = "judged set") -> List[JudgedCase]:
    """Every case, checked against the library items; raises JudgedSetError listing every problem."""
    problems: List[str] = []
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise JudgedSetError([f"{source}: must hold a list under `cases:`"])
    default_day = (data.get("defaults") or {}).get("day")
    cases: List[JudgedCase] = []
    seen = set()
    for index, raw in enumerate(data["cases"], start=1):
        where = f"{source}: case #{index}"
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            where = f"{source}: case {raw['id']}"
        check = _Checker(where, problems)
        if not isinstance(raw, dict):
            check.add("case", "must be a mapping")
            continue
        before = len(problems)
        for unknown in sorted(set(raw) - CASE_FIELDS):
            check.add(unknown, f"unknown field; allowed: {', '.join(sorted(CASE_FIELDS))}")
        case_id = raw.get("id")
        if not isinstance(case_id, str) or not case_id.strip():
            check.add("id", "is required")
        elif case_id in seen:
            check.add("id", "is used by an earlier case")
        seen.add(case_id)
        check.choice(raw.get("moment"), "moment", MOMENTS)
        day = raw.get("day", default_day)
        if not isinstance(day, date):
            check.add("day", "needs a date (the case's own `day` or defaults.day)")
        relevant = raw.get("relevant")
        if not isinstance(relevant, dict) or not relevant:
            check.add("relevant", "needs at least one graded item")
            relevant = {}
        profile = _profile(raw.get("profile"), check)
        if profile is not None and isinstance(day, date):
            _check_grades(relevant, profile, day, items, check)
        if len(problems) == before and profile is not None:
            cases.append(JudgedCase(case_id, raw["moment"], day, profile, dict(relevant)))
    if problems:
        raise JudgedSetError(problems)
    return cases


def load_judged(
    path: Path = JUDGED_FILE, library: Optional[Sequence[ContentSpec]] = None
) -> Tuple[List[JudgedCase], Dict[str, ContentSpec]]:
    """The judged cases and the library items they grade (the demo library unless one is given)."""
    specs = list(library) if library is not None else load_library([DEMO_LIBRARY])
    items = {spec.slug: spec for spec in specs}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise JudgedSetError([f"{path.name}: cannot be read: {error}"]) from error
    return parse_cases(data, items, source=path.name), items
