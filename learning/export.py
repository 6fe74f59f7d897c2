"""Annotated messages out of the log, the Rasa way: NLU examples to train on and a held-back set to judge.

Every active annotation becomes one example: the customer's words redacted first (learning/redaction.py,
with the customer's own name from the conversation's identity), the annotator's intent and entities (entity
spans moved to where they are in the redacted text; an entity the redaction removed is dropped, a policy or
claim number keeps its synthetic stand-in), the sentiment the annotator set (or the model's, kept), and
in the example's metadata where it came from (message id, annotator, when). Rasa reads example-level
metadata, and bot/nlu reads `sentiment` there.

A fixed share of annotations (by a hash of the message id, so a message never moves between the two) is
held back in the held-out file the gate scores candidates on ("annotated messages it did not train on"):
nlu_data/learned/annotated.yml is trained on, tests/fixtures/learned_heldout.yml is not. Both are written
whole each time, sorted, so a re-export of the same annotations is the same file (a team can review and
commit them).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from learning.redaction import PLACEHOLDERS, Redaction, names_from_identity, redact
from storage.models import Agent, Annotation, Conversation, Message
from storage.settings import PROJECT_ROOT

LEARNED_NLU = PROJECT_ROOT / "nlu_data" / "learned" / "annotated.yml"
LEARNED_HELDOUT = PROJECT_ROOT / "tests" / "fixtures" / "learned_heldout.yml"
HELD_BACK_PERCENT = 20


@dataclass(frozen=True)
class Example:
    message_id: int
    text: str  # redacted
    intent: str
    entities: Tuple[Dict[str, Any], ...]  # offsets in `text`
    sentiment: Optional[str]
    annotator: str
    annotated_at: str
    redacted: Tuple[str, ...]  # kinds of personal data removed
    dropped_entities: int  # annotated entities that were personal data


@dataclass(frozen=True)
class ExportResult:
    trained: int
    held_back: int
    redactions: Dict[str, int]
    dropped_entities: int
    nlu_path: Path
    heldout_path: Path


def held_back(message_id: int, percent: int = HELD_BACK_PERCENT) -> bool:
    digest = hashlib.sha256(f"coverline-heldback:{message_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < percent


def _replacement_length(redaction: Redaction, finding_index: int) -> int:
    finding = redaction.findings[finding_index]
    if finding.kind in PLACEHOLDERS:
        return len(PLACEHOLDERS[finding.kind])
    return finding.end - finding.start  # synthetic policy/claim numbers keep their shape


def move_entities(entities: Sequence[Dict[str, Any]], redaction: Redaction) -> Tuple[List[Dict[str, Any]], int]:
    """The annotator's entity spans, moved onto the redacted text; those the redaction removed are dropped
    (a reference number's synthetic stand-in is used instead). Returns the entities and how many dropped."""
    moved: List[Dict[str, Any]] = []
    dropped = 0
    for entity in sorted(entities, key=lambda e: int(e["start"])):
        start, end = int(entity["start"]), int(entity["end"])
        overlapping = [i for i, f in enumerate(redaction.findings) if f.start < end and start < f.end]
        if overlapping:
            dropped += 1
            continue
        shift = sum(
            _replacement_length(redaction, i) - (f.end - f.start)
            for i, f in enumerate(redaction.findings)
            if f.end <= start
        )
        value = redaction.text[start + shift : end + shift]
        moved.append({"entity": entity["entity"], "value": value, "start": start + shift, "end": end + shift})
    spans = {(e["start"], e["end"]) for e in moved}
    for synthetic in redaction.entities:  # reference numbers: realistic, never real
        if not any(synthetic["start"] < e and s < synthetic["end"] for s, e in spans):
            moved.append(dict(synthetic))
    return sorted(moved, key=lambda e: e["start"]), dropped


def _sentiment(annotation: Annotation) -> Optional[str]:
    if annotation.sentiment:
        return annotation.sentiment
    original = annotation.original_sentiment if isinstance(annotation.original_sentiment, dict) else {}
    label = original.get("label")
    return str(label) if label in ("negative", "neutral", "positive") else None


def examples(session: Session) -> List[Example]:
    rows = session.execute(
        select(Annotation, Message, Conversation, Agent)
        .join(Message, Message.id == Annotation.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Agent, Agent.id == Annotation.annotator_id)
        .where(Annotation.status == "active")
        .order_by(Annotation.message_id)
    ).all()
    found = []
    for annotation, message, conversation, agent in rows:
        redaction = redact(message.text or "", names_from_identity(conversation.customer_identity))
        entities, dropped = move_entities(annotation.entities or [], redaction)
        found.append(
            Example(
                message_id=message.id,
                text=redaction.text,
                intent=annotation.intent,
                entities=tuple(entities),
                sentiment=_sentiment(annotation),
                annotator=agent.email,
                annotated_at=annotation.created_at.isoformat(timespec="seconds"),
                redacted=tuple(f.kind for f in redaction.findings),
                dropped_entities=dropped,
            )
        )
    return found


def _plain(text: str) -> str:
    """Words Rasa must read as words: its YAML has no escape for `[x](entity)` markup, so a customer who
    typed "[click](https://…)" would otherwise plant an entity in the training data, and a placeholder
    followed by a bracket ("[card](visa)") would become one. Square brackets become round ones."""
    return text.replace("[", "(").replace("]", ")")


def markup(text: str, entities: Sequence[Dict[str, Any]]) -> str:
    """Rasa's inline entity markup around words that cannot be read as markup: `[words](entity)`, or
    `[words]{"entity": ..., "value": ...}` when the value is not the words (a synonym the model mapped,
    "car" read as product auto; test stories compare values). Entities in order, offsets in `text`."""
    pieces, position = [], 0
    for entity in entities:
        words = text[entity["start"] : entity["end"]]
        pieces.append(_plain(text[position : entity["start"]]))
        if str(entity["value"]) == words:
            pieces.append(f"[{_plain(words)}]({entity['entity']})")
        else:
            label = json.dumps({"entity": entity["entity"], "value": _plain(str(entity["value"]))}, ensure_ascii=False)
            pieces.append(f"[{_plain(words)}]{label}")
        position = entity["end"]
    pieces.append(_plain(text[position:]))
    return "".join(pieces)


def marked_up(example: Example) -> str:
    """An example's words with its entities marked up (`markup`)."""
    return markup(example.text, example.entities)


def nlu_yaml(trained: Sequence[Example]) -> str:
    by_intent: Dict[str, List[Dict[str, Any]]] = {}
    for example in trained:
        metadata: Dict[str, Any] = {"source_message_id": example.message_id, "annotator": example.annotator}
        metadata["annotated_at"] = example.annotated_at
        if example.sentiment:
            metadata["sentiment"] = example.sentiment
        by_intent.setdefault(example.intent, []).append({"text": marked_up(example), "metadata": metadata})
    document = {
        "version": "3.1",
        "nlu": [{"intent": intent, "examples": by_intent[intent]} for intent in sorted(by_intent)],
    }
    header = (
        "# Written by `python -m learning export` from annotations in the inbox's review queue: redacted\n"
        "# customer messages with the annotator's labels. Regenerated whole; review before committing.\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1000)


def heldout_yaml(held: Sequence[Example]) -> str:
    rows = [
        {k: v for k, v in (("text", e.text), ("intent", e.intent), ("sentiment", e.sentiment)) if v is not None}
        for e in held
    ]
    header = (
        "# Annotated messages held back from training (learning/export.py): the retraining gate scores\n"
        "# candidates on them. Same format as nlu_heldout.yml.\n"
    )
    return header + yaml.safe_dump({"examples": rows}, sort_keys=False, allow_unicode=True, width=1000)


def export(session: Session, nlu_path: Path = LEARNED_NLU, heldout_path: Path = LEARNED_HELDOUT) -> ExportResult:
    found = examples(session)
    trained = [e for e in found if not held_back(e.message_id)]
    held = [e for e in found if held_back(e.message_id)]
    for path, text in ((nlu_path, nlu_yaml(trained)), (heldout_path, heldout_yaml(held))):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    redactions: Dict[str, int] = {}
    for example in found:
        for kind in example.redacted:
            redactions[kind] = redactions.get(kind, 0) + 1
    dropped = sum(e.dropped_entities for e in found)
    return ExportResult(len(trained), len(held), redactions, dropped, nlu_path, heldout_path)
