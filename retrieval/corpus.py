"""Past replies in and out of the database: import a company's export (CSV or JSON), read them back as records.

A real service team exports its ticket or chat history as CSV or JSON; the importer takes either, with
the columns `question` and `reply` required and the rest optional (`external_id`, `product_line`,
`channel`, `agent`, `created_at`, `source`). Rows are matched on external_id, so re-importing an
updated export changes rows in place instead of duplicating them.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from retrieval.index import ReplyRecord
from storage.engine import session_scope
from storage.models import PastReply, utcnow
from storage.settings import PROJECT_ROOT

DEMO_CORPUS_DIR = PROJECT_ROOT / "demo_data" / "past_replies"

REQUIRED = ("question", "reply")
PRODUCT_LINES = {"auto", "home", "renters", "travel", "life", "general"}
MAX_QUESTION, MAX_REPLY = 2_000, 8_000


class CorpusError(ValueError):
    """An export we cannot import as a whole (wrong format, missing columns)."""


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: List[str] = field(default_factory=list)  # "file:row: reason"

    def summary(self) -> str:
        text = f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, {len(self.rejected)} rejected"
        return text + "".join(f"\n  rejected {reason}" for reason in self.rejected[:20])


def read_rows(path: Path) -> Iterator[Dict[str, Any]]:
    """Rows of a CSV file, a JSON array, or JSON Lines; keys lower-cased and stripped."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in REQUIRED if c not in {(h or "").strip().lower() for h in reader.fieldnames or []}]
            if missing:
                raise CorpusError(f"{path.name}: missing column(s) {', '.join(missing)}")
            for row in reader:
                yield {(k or "").strip().lower(): v for k, v in row.items()}
    elif suffix in (".json", ".jsonl"):
        text = path.read_text(encoding="utf-8")
        try:
            if suffix == ".jsonl":
                data = [json.loads(line) for line in text.splitlines() if line.strip()]
            else:
                data = json.loads(text)
        except json.JSONDecodeError as error:
            raise CorpusError(f"{path.name}: not valid JSON ({error})") from None
        if not isinstance(data, list):
            raise CorpusError(f"{path.name}: expected a JSON array of objects")
        for row in data:
            yield {str(k).strip().lower(): v for k, v in row.items()} if isinstance(row, dict) else {}
    else:
        raise CorpusError(f"{path.name}: unsupported file type {suffix or '(none)'}; use .csv, .json or .jsonl")


def _text(row: Dict[str, Any], key: str) -> str:
    value = row.get(key)
    return " ".join(str(value).split()) if value is not None else ""


def _created_at(value: Any) -> Optional[datetime]:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=None)


def _external_id(row: Dict[str, Any], question: str, reply: str) -> str:
    """The export's own id when it has one; otherwise a content hash so re-imports still match."""
    given = _text(row, "external_id") or _text(row, "id")
    if given:
        return given[:120]
    return "sha1:" + hashlib.sha1(f"{question}\n{reply}".encode()).hexdigest()


def _validate(row: Dict[str, Any]) -> Optional[str]:
    question, reply = _text(row, "question"), _text(row, "reply")
    if not question or not reply:
        return "empty question or reply"
    if len(question) > MAX_QUESTION or len(reply) > MAX_REPLY:
        return "question or reply too long"
    product = _text(row, "product_line").lower()
    if product and product not in PRODUCT_LINES:
        return f"unknown product_line {product!r} (one of {', '.join(sorted(PRODUCT_LINES))})"
    return None


def import_rows(session: Session, rows: Iterable[Dict[str, Any]], origin: str = "import") -> ImportReport:
    """Upsert rows into past_replies; bad rows are reported, not fatal."""
    report = ImportReport()
    seen: set = set()
    for number, row in enumerate(rows, start=2):  # CSV line numbers: the header is line 1
        problem = _validate(row)
        if problem:
            report.rejected.append(f"{origin}:{number}: {problem}")
            continue
        question, reply = _text(row, "question"), _text(row, "reply")
        external_id = _external_id(row, question, reply)
        if external_id in seen:
            report.rejected.append(f"{origin}:{number}: duplicate external_id {external_id}")
            continue
        seen.add(external_id)
        values = {
            "question": question,
            "reply": reply,
            "product_line": _text(row, "product_line").lower() or None,
            "channel": _text(row, "channel") or None,
            "agent": _text(row, "agent") or None,
            "source": _text(row, "source") or "import",
        }
        existing = session.scalar(select(PastReply).where(PastReply.external_id == external_id))
        if existing is None:
            created = _created_at(row.get("created_at")) or utcnow()
            session.add(PastReply(external_id=external_id, created_at=created, **values))
            report.added += 1
        elif any(getattr(existing, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(existing, key, value)
            existing.embedding_model = None  # the text changed: its vector must be recomputed
            report.updated += 1
        else:
            report.unchanged += 1
    session.flush()
    return report


def demo_corpus_files() -> List[Path]:
    return sorted(DEMO_CORPUS_DIR.glob("*.csv"))


def import_files(session: Session, paths: Iterable[Path]) -> ImportReport:
    total = ImportReport()
    for path in paths:
        report = import_rows(session, read_rows(path), origin=path.name)
        total.added += report.added
        total.updated += report.updated
        total.unchanged += report.unchanged
        total.rejected.extend(report.rejected)
    return total


def record(reply: PastReply) -> ReplyRecord:
    """Index records are keyed by external_id: stable across databases and re-imports."""
    return ReplyRecord(
        question=reply.question,
        reply=reply.reply,
        reply_id=reply.external_id,
        product=reply.product_line,
        source=reply.source,
        extra={"channel": reply.channel, "created_at": reply.created_at.date().isoformat()},
    )


def active_records(session: Session) -> List[ReplyRecord]:
    query = select(PastReply).where(PastReply.active.is_(True)).order_by(PastReply.id)
    return [record(reply) for reply in session.scalars(query)]


def pending_records(session: Session) -> List[ReplyRecord]:
    """Active replies not yet embedded with the current text (new, or edited since)."""
    query = select(PastReply).where(PastReply.active.is_(True), PastReply.embedding_model.is_(None))
    return [record(reply) for reply in session.scalars(query.order_by(PastReply.id))]


def mark_indexed(session: Session, external_ids: Iterable[str], model_version: str) -> None:
    ids = list(external_ids)
    for start in range(0, len(ids), 500):
        for reply in session.scalars(select(PastReply).where(PastReply.external_id.in_(ids[start : start + 500]))):
            reply.embedding_model = model_version


def past_reply_id(hit: ReplyRecord, url: Optional[str] = None) -> int:
    """The database id of an indexed reply, for the answer that quotes it: read without the write lock
    (the row nearly always exists), created through `ensure_past_reply` only when it does not."""
    with session_scope(url, read_only=True) as session:
        found = session.scalar(select(PastReply.id).where(PastReply.external_id == hit.reply_id))
    if found is not None:
        return int(found)
    with session_scope(url) as session:
        return int(ensure_past_reply(session, hit).id)


def ensure_past_reply(session: Session, hit: ReplyRecord) -> PastReply:
    """The database row for an indexed reply, created from the index if this database lacks it.

    The index may have been built from another database (a replica, the demo corpus); the interaction
    log still needs a row to point at.
    """
    row = session.scalar(select(PastReply).where(PastReply.external_id == hit.reply_id))
    if row is None:
        created = _created_at((hit.extra or {}).get("created_at")) or utcnow()
        row = PastReply(
            external_id=hit.reply_id,
            question=hit.question,
            reply=hit.reply,
            product_line=hit.product,
            source=hit.source,
            channel=(hit.extra or {}).get("channel"),
            created_at=created,
        )
        session.add(row)
        session.flush()
    return row


def read_heldout(paths: Iterable[Path]) -> List[tuple]:
    """Labelled held-out questions (question, expected external_id or None) for calibration."""
    labelled = []
    for path in paths:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            for row in csv.DictReader(handle):
                question = " ".join((row.get("question") or "").split())
                if question:
                    labelled.append((question, (row.get("expected_external_id") or "").strip() or None))
    return labelled
