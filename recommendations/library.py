"""The content library: load and check the insurer's items (YAML or CSV), import them into `content_items`, and
find the ones valid today for a product line, claim stage or incident type.

Files are written by people, so every problem is reported at once, each naming the file, the item and the field.
Importing is idempotent (upsert by the item's id, an unchanged item is not written) and never deletes: an item
that has left the files it came from is retired, because impressions and events keep pointing at it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import yaml
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from recommendations.vocabulary import (
    CATEGORIES,
    CLAIM_STAGES,
    INCIDENT_TYPES,
    LIFE_EVENTS,
    OFFERABLE,
    PRODUCT_LINES,
)
from storage.models import ContentItem, utcnow
from storage.settings import PROJECT_ROOT

DEMO_LIBRARY = PROJECT_ROOT / "demo_data" / "content"
IMAGE_FOLDERS = ("webchat/content/", "inbox/web/static/")
SUFFIXES = (".yml", ".yaml", ".csv")

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LOCALE = re.compile(r"^[a-z]{2}(?:-[A-Z]{2})?$")
LIST_FIELDS: Dict[str, Tuple[str, ...]] = {
    "product_lines": PRODUCT_LINES,
    "life_events": LIFE_EVENTS,
    "claim_stages": CLAIM_STAGES,
    "incident_types": INCIDENT_TYPES,
}
FIELDS = {
    "id",
    "category",
    "title",
    "summary",
    "body",
    "link",
    "image",
    "months",
    "marketing",
    "offers_product",
    "valid_from",
    "valid_to",
    "locale",
} | set(LIST_FIELDS)
LIMITS = {"id": 120, "title": 200, "summary": 500, "body": 20_000, "link": 500, "image": 300}
# `source` of the items an admin created or edited in the inbox (inbox/services/content.py): the inbox owns them
# from then on, so an import (`make run` imports demo_data/content on every start) neither overwrites an admin's
# edit nor brings back an item an admin retired
INBOX_SOURCE = "inbox"


@dataclass(frozen=True)
class ContentSpec:
    """One item as the library file states it, already checked."""

    slug: str
    category: str
    title: str
    summary: str
    body: Optional[str] = None
    link: Optional[str] = None
    image: Optional[str] = None
    product_lines: Tuple[str, ...] = ()
    life_events: Tuple[str, ...] = ()
    claim_stages: Tuple[str, ...] = ()
    incident_types: Tuple[str, ...] = ()
    months: Tuple[int, ...] = ()
    marketing: bool = False
    offers_product: Optional[str] = None
    valid_from: Optional[date] = None
    valid_to: Optional[date] = None
    locale: str = "en-US"
    source: Optional[str] = field(default=None, compare=False)

    def content_hash(self) -> str:
        data = {k: v for k, v in asdict(self).items() if k != "source"}
        return hashlib.sha256(json.dumps(data, default=str, sort_keys=True).encode()).hexdigest()


class LibraryError(ValueError):
    """Everything wrong with the library files, one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("content library rejected:\n  " + "\n  ".join(self.problems))


@dataclass
class ImportResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    restored: int = 0
    retired: int = 0
    kept: int = 0  # in the files, but since changed in the inbox: left as the admin made it

    def summary(self) -> str:
        text = (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.restored} restored, {self.retired} retired"
        )
        return text + (f", {self.kept} kept as edited in the inbox" if self.kept else "")


class _ItemProblems:
    """Collects one item's problems, each prefixed with where it is."""

    def __init__(self, where: str, problems: List[str]) -> None:
        self.where, self.problems = where, problems

    def add(self, name: str, problem: str) -> None:
        self.problems.append(f"{self.where}: field {name}: {problem}")


def display_path(path: Path) -> str:
    """Paths inside the checkout are stored relative to it, so a database moves between machines."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return resolved.as_posix()


def _text(raw: Dict[str, Any], name: str, report: _ItemProblems, required: bool = False) -> Optional[str]:
    value = raw.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            report.add(name, "is required")
        return None
    if not isinstance(value, str):
        report.add(name, f"must be text, not {type(value).__name__}")
        return None
    value = value.strip()
    if name in LIMITS and len(value) > LIMITS[name]:
        report.add(name, f"is {len(value)} characters; at most {LIMITS[name]}")
    return value


def _words(raw: Dict[str, Any], name: str, allowed: Tuple[str, ...], report: _ItemProblems) -> Tuple[str, ...]:
    value = raw.get(name)
    if value is None or value == "":
        return ()
    if isinstance(value, str):  # CSV cells: "auto; home"
        value = [part.strip() for part in re.split(r"[;|]", value) if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        report.add(name, "must be a list of words")
        return ()
    unknown = [v for v in value if v not in allowed]
    if unknown:
        report.add(name, f"unknown {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}")
    return tuple(dict.fromkeys(v for v in value if v in allowed))


def _months(raw: Dict[str, Any], report: _ItemProblems) -> Tuple[int, ...]:
    value = raw.get("months")
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = [part.strip() for part in re.split(r"[;|]", value) if part.strip()]
    try:
        months = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        report.add("months", "must be a list of month numbers 1-12")
        return ()
    if any(not 1 <= m <= 12 for m in months) or any(isinstance(v, bool) for v in value):
        report.add("months", "must be a list of month numbers 1-12")
        return ()
    return tuple(dict.fromkeys(months))


def _flag(raw: Dict[str, Any], report: _ItemProblems) -> bool:
    value = raw.get("marketing", False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "false", "no", "0", ""):
        return value.strip().lower() in ("true", "yes", "1")
    report.add("marketing", f"must be true or false, not {value!r}")
    return False


def _date(raw: Dict[str, Any], name: str, report: _ItemProblems) -> Optional[date]:
    value = raw.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        report.add(name, f"must be a date like 2027-01-31, not {value!r}")
        return None


def _image(value: Optional[str], report: _ItemProblems) -> Optional[str]:
    """Images are files in the checkout that a channel can serve, never a path out of it."""
    if value is None:
        return None
    if ".." in Path(value).parts or not value.startswith(IMAGE_FOLDERS):
        report.add("image", f"must be a path under {' or '.join(IMAGE_FOLDERS)}, not {value!r}")
        return None
    if not (PROJECT_ROOT / value).is_file():
        report.add("image", f"{value} does not exist")
    return value


def parse_item(raw: Any, where: str, problems: List[str], source: Optional[str] = None) -> Optional[ContentSpec]:
    """One item from a file, or None with its problems added (all of them, not just the first)."""
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping of fields, not {type(raw).__name__}")
        return None
    slug = raw.get("id")
    if isinstance(slug, str) and slug.strip():
        where = f"{where.rsplit(': ', 1)[0]}: item {slug.strip()}"
    report = _ItemProblems(where, problems)
    before = len(problems)
    for unknown in sorted(set(raw) - FIELDS):
        report.add(unknown, f"unknown field; allowed: {', '.join(sorted(FIELDS))}")
    slug = _text(raw, "id", report, required=True)
    if slug is not None and not SLUG.match(slug):
        report.add("id", f"{slug!r} must be lower-case words joined by hyphens, e.g. checklist-auto-glass")
    category = _text(raw, "category", report, required=True)
    if category is not None and category not in CATEGORIES:
        report.add("category", f"unknown {category!r}; allowed: {', '.join(CATEGORIES)}")
    body, link = _text(raw, "body", report), _text(raw, "link", report)
    if body is None and link is None:
        report.add("body", "an item needs a body or a link")
    if link is not None and not link.startswith("https://"):
        report.add("link", f"must be an https:// address, not {link!r}")
    lists = {name: _words(raw, name, allowed, report) for name, allowed in LIST_FIELDS.items()}
    marketing = _flag(raw, report)
    offers = _text(raw, "offers_product", report)
    if marketing and offers is None:
        report.add("offers_product", "a marketing item must name the product it sells")
    if offers is not None and not marketing:
        report.add("offers_product", "only marketing items sell a product (set marketing: true)")
    if offers is not None and offers not in OFFERABLE:
        report.add("offers_product", f"unknown {offers!r}; allowed: {', '.join(OFFERABLE)}")
    if (category == "offer") != marketing and category in CATEGORIES:
        report.add("marketing", "offers are marketing and marketing items are offers")
    if category == "claim_checklist" and not lists["incident_types"]:
        report.add("incident_types", "a claim checklist must name the incident types it is for")
    if category == "claim_guide" and not lists["claim_stages"]:
        report.add("claim_stages", "a claim guide must name the claim stages it is for")
    valid_from, valid_to = _date(raw, "valid_from", report), _date(raw, "valid_to", report)
    if valid_from and valid_to and valid_to < valid_from:
        report.add("valid_to", f"{valid_to} is before valid_from {valid_from}")
    locale = _text(raw, "locale", report) or "en-US"
    if not LOCALE.match(locale):
        report.add("locale", f"must look like en-US, not {locale!r}")
    title, summary = _text(raw, "title", report, required=True), _text(raw, "summary", report, required=True)
    image, months = _image(_text(raw, "image", report), report), _months(raw, report)
    if len(problems) > before:
        return None
    return ContentSpec(
        slug=slug,
        category=category,
        title=title,
        summary=summary,
        body=body,
        link=link,
        image=image,
        months=months,
        marketing=marketing,
        offers_product=offers,
        valid_from=valid_from,
        valid_to=valid_to,
        locale=locale,
        source=source,
        **lists,
    )


def _raw_items(path: Path, problems: List[str]) -> List[Any]:
    name = display_path(path)
    try:
        if path.suffix == ".csv":
            with path.open(newline="", encoding="utf-8") as handle:
                return [{k: v for k, v in row.items() if k is not None} for row in csv.DictReader(handle)]
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, csv.Error) as error:
        problems.append(f"{name}: cannot be read: {error}")
        return []
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        problems.append(f"{name}: must hold a list under `items:`")
        return []
    return data["items"]


def library_files(paths: Iterable[Path]) -> List[Path]:
    """The files to load: files as given, folders searched (recursively) for .yml, .yaml and .csv."""
    found: List[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file()))
        else:
            found.append(path)
    return found


def load_library(paths: Iterable[Path]) -> List[ContentSpec]:
    """Every item in the files, checked; raises LibraryError listing every problem, with file, item and field."""
    problems: List[str] = []
    specs: List[ContentSpec] = []
    seen: Dict[str, str] = {}
    files = library_files(paths)
    if not files:
        raise LibraryError(["no library files (.yml, .yaml, .csv) found"])
    for path in files:
        name = display_path(path)
        if path.suffix not in SUFFIXES or not path.is_file():
            problems.append(f"{name}: not a .yml, .yaml or .csv file")
            continue
        for index, raw in enumerate(_raw_items(path, problems), start=1):
            spec = parse_item(raw, f"{name}: item #{index}", problems, source=name)
            if spec is None:
                continue
            if spec.slug in seen:
                problems.append(f"{name}: item {spec.slug}: field id: already used in {seen[spec.slug]}")
                continue
            seen[spec.slug] = name
            specs.append(spec)
    if problems:
        raise LibraryError(problems)
    return specs


def check_item(raw: Dict[str, Any]) -> ContentSpec:
    """One item as the inbox's form sends it, checked by the very rules a file's items are; LibraryError lists
    every problem as `field <name>: <what is wrong>` (there is no file or item number to name)."""
    problems: List[str] = []
    spec = parse_item(raw, "inbox: item #1", problems, source=INBOX_SOURCE)
    if spec is None:
        slug = raw.get("id") if isinstance(raw, dict) else None
        prefixes = ["inbox: item #1: "] + ([f"inbox: item {slug.strip()}: "] if isinstance(slug, str) else [])
        raise LibraryError([_without_prefix(problem, prefixes) for problem in problems])
    return spec


def _without_prefix(text: str, prefixes: Sequence[str]) -> str:
    for prefix in prefixes:
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


def apply_spec(row: ContentItem, spec: ContentSpec) -> None:
    row.category, row.title, row.summary = spec.category, spec.title, spec.summary
    row.body, row.link, row.image = spec.body, spec.link, spec.image
    row.product_lines, row.life_events = list(spec.product_lines), list(spec.life_events)
    row.claim_stages, row.incident_types, row.months = (
        list(spec.claim_stages),
        list(spec.incident_types),
        list(spec.months),
    )
    row.marketing, row.offers_product = spec.marketing, spec.offers_product
    row.valid_from, row.valid_to, row.locale = spec.valid_from, spec.valid_to, spec.locale
    row.source, row.content_hash = spec.source, spec.content_hash()


def _in_scope(source: Optional[str], scopes: Sequence[str]) -> bool:
    return source is not None and any(source == s or source.startswith(s.rstrip("/") + "/") for s in scopes)


def import_library(
    session: Session, paths: Iterable[Path], now: Optional[datetime] = None, retire_missing: bool = True
) -> ImportResult:
    """Upsert every item of the files by id; retire the items that came from these files or folders and are no
    longer in them. Nothing is written when any file has a problem (LibraryError)."""
    paths = [Path(p) for p in paths]
    specs = load_library(paths)
    now = now or utcnow()
    result = ImportResult()
    existing = {row.slug: row for row in session.scalars(select(ContentItem))}
    for spec in specs:
        row = existing.get(spec.slug)
        if row is not None and row.source == INBOX_SOURCE:
            result.kept += 1
            continue
        if row is None:
            row = ContentItem(slug=spec.slug, created_at=now, updated_at=now)
            apply_spec(row, spec)
            session.add(row)
            result.added += 1
            continue
        changed = row.content_hash != spec.content_hash() or row.source != spec.source
        restored = row.retired_at is not None
        if restored:
            row.retired_at = None
            result.restored += 1
        elif changed:
            result.updated += 1
        else:
            result.unchanged += 1
        if changed:
            apply_spec(row, spec)
        if changed or restored:
            row.updated_at = now
    if retire_missing:
        scopes = [display_path(p) for p in paths]
        kept = {spec.slug for spec in specs}
        for slug, row in existing.items():
            owned_by_files = row.source != INBOX_SOURCE and _in_scope(row.source, scopes)
            if slug not in kept and row.retired_at is None and owned_by_files:
                row.retired_at = now
                result.retired += 1
    session.flush()
    return result


def valid_items(session: Session, on: Optional[date] = None, locale: Optional[str] = None) -> List[ContentItem]:
    """The items that may be shown on a day: not retired and inside their validity dates (both inclusive)."""
    on = on or utcnow().date()
    query = select(ContentItem).where(
        ContentItem.retired_at.is_(None),
        or_(ContentItem.valid_from.is_(None), ContentItem.valid_from <= on),
        or_(ContentItem.valid_to.is_(None), ContentItem.valid_to >= on),
    )
    if locale is not None:
        query = query.where(ContentItem.locale == locale)
    return list(session.scalars(query.order_by(ContentItem.slug)))


def matching(
    items: Iterable[ContentItem],
    product_line: Optional[str] = None,
    claim_stage: Optional[str] = None,
    incident_type: Optional[str] = None,
    category: Optional[str] = None,
) -> List[ContentItem]:
    """Items tagged with each given value. An item with no product lines is for every product line; for stages
    and incident types an empty list means the item is not about claims, so it never matches one.

    Filtered in Python: the tag lists are JSON arrays, whose SQL operators differ between SQLite and PostgreSQL,
    and the valid library is small enough (thousands) to scan."""
    found = []
    for item in items:
        if product_line and item.product_lines and product_line not in item.product_lines:
            continue
        if claim_stage and claim_stage not in (item.claim_stages or ()):
            continue
        if incident_type and incident_type not in (item.incident_types or ()):
            continue
        if category and item.category != category:
            continue
        found.append(item)
    return found


def items_for_product_line(session: Session, product_line: str, on: Optional[date] = None) -> List[ContentItem]:
    return matching(valid_items(session, on), product_line=product_line)


def items_for_claim_stage(session: Session, claim_stage: str, on: Optional[date] = None) -> List[ContentItem]:
    return matching(valid_items(session, on), claim_stage=claim_stage)


def items_for_incident_type(session: Session, incident_type: str, on: Optional[date] = None) -> List[ContentItem]:
    return matching(valid_items(session, on), incident_type=incident_type)


def item_by_slug(session: Session, slug: str) -> Optional[ContentItem]:
    return session.scalars(select(ContentItem).where(ContentItem.slug == slug)).first()
