"""Annotations: an agent's label for a logged customer message, an admin's undo and bulk accept.

Each write is checked against the domain and the message's own text before it is stored, so the export
never meets a label the model cannot be trained on or an entity span that is not in the words. The
interaction log (`messages`) is only read. One active annotation per message: checked first for a clear
answer, and held by the partial unique index `uq_annotations_active_message` when two writers race (the
loser's insert fails and becomes AlreadyAnnotated). The caller commits (with its audit entry).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from learning.review_queue import (
    Domain,
    MessageNotFound,
    NotACustomerMessage,
    ReviewError,
    annotators,
    load_domain,
    reviewable_message,
)
from storage.models import Annotation, Message, utcnow

SENTIMENTS = ("negative", "neutral", "positive")
VERDICTS = ("good", "wrong", "should_have_handed_over")
MAX_BULK = 500

__all__ = [
    "MAX_BULK",
    "SENTIMENTS",
    "VERDICTS",
    "AlreadyAnnotated",
    "AlreadyUndone",
    "AnnotationNotFound",
    "BulkResult",
    "InvalidAnnotation",
    "MessageNotFound",
    "NotACustomerMessage",
    "active_annotation",
    "annotate",
    "annotation_view",
    "bulk_accept",
    "list_annotations",
    "undo",
    "views",
]


class InvalidAnnotation(ReviewError):
    pass


class AlreadyAnnotated(ReviewError):
    pass


class AnnotationNotFound(ReviewError):
    pass


class AlreadyUndone(ReviewError):
    pass


# -- validation ---------------------------------------------------------------------------------------


def _check_intent(intent: Any, domain: Domain) -> str:
    if not isinstance(intent, str) or intent not in domain.intents:
        raise InvalidAnnotation(f"Intent {intent!r} is not in the domain (bot/domain/*.yml).")
    return intent


def _check_entities(entities: Any, text: str, domain: Domain) -> List[Dict[str, Any]]:
    """Each entity names a domain entity and a span of the message that holds exactly its value."""
    if not isinstance(entities, list):
        raise InvalidAnnotation("entities must be a list of {entity, value, start, end}.")
    checked = []
    for n, entity in enumerate(entities, start=1):
        if not isinstance(entity, Mapping):
            raise InvalidAnnotation(f"Entity {n} must be an object with entity, value, start and end.")
        name, value, start, end = (entity.get(k) for k in ("entity", "value", "start", "end"))
        if name not in domain.entities:
            raise InvalidAnnotation(f"Entity {n}: {name!r} is not an entity of the domain.")
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in (start, end)):
            raise InvalidAnnotation(f"Entity {n} ({name}): start and end must be whole numbers.")
        if not 0 <= start < end <= len(text):
            raise InvalidAnnotation(
                f"Entity {n} ({name}): the span {start}-{end} lies outside the message ({len(text)} characters)."
            )
        if text[start:end] != value:
            raise InvalidAnnotation(
                f"Entity {n} ({name}): the message has {text[start:end]!r} at {start}-{end}, not {value!r}."
            )
        checked.append({"entity": name, "value": value, "start": start, "end": end})
    return checked


def _check_choice(value: Optional[str], allowed: Sequence[str], what: str) -> Optional[str]:
    if value is not None and value not in allowed:
        raise InvalidAnnotation(f"{what} must be one of {', '.join(allowed)} (or null), not {value!r}.")
    return value


# -- writes -------------------------------------------------------------------------------------------


def _active(session: Session, message_id: int) -> Optional[Annotation]:
    return session.scalars(
        select(Annotation).where(Annotation.message_id == message_id, Annotation.status == "active")
    ).first()


def _refuse_if_annotated(session: Session, message_id: int) -> None:
    existing = _active(session, message_id)
    if existing is not None:
        who = annotators(session, [existing.annotator_id]).get(existing.annotator_id, "someone")
        raise AlreadyAnnotated(
            f"Message {message_id} is already annotated (by {who}, annotation {existing.id}); an admin can undo it."
        )


def _insert(session: Session, annotation: Annotation) -> Annotation:
    try:
        with session.begin_nested():
            session.add(annotation)
            session.flush()
    except IntegrityError as error:
        raise AlreadyAnnotated(
            f"Message {annotation.message_id} was annotated by someone else just now; reload it."
        ) from error
    return annotation


def annotate(
    session: Session,
    message_id: int,
    annotator_id: int,
    intent: str,
    entities: Optional[List[Mapping[str, Any]]] = None,
    sentiment: Optional[str] = None,
    reply_verdict: Optional[str] = None,
    domain: Optional[Domain] = None,
) -> Annotation:
    """An agent's label for one customer message, beside the model's label as logged."""
    domain = domain or load_domain()
    message = reviewable_message(session, message_id)
    annotation = Annotation(
        message_id=message.id,
        annotator_id=annotator_id,
        created_at=utcnow(),
        original_intent=message.intent,
        original_confidence=message.confidence,
        original_sentiment=message.sentiment,
        intent=_check_intent(intent, domain),
        entities=_check_entities(entities or [], message.text or "", domain),
        sentiment=_check_choice(sentiment, SENTIMENTS, "sentiment"),
        reply_verdict=_check_choice(reply_verdict, VERDICTS, "reply_verdict"),
        status="active",
        bulk=False,
    )
    _refuse_if_annotated(session, message.id)
    return _insert(session, annotation)


def undo(session: Session, annotation_id: int, admin_id: int) -> Annotation:
    """An admin takes an annotation back; the message returns to the queue. Guarded: of two undos at once,
    one wins and the other is told it was already undone."""
    annotation = session.get(Annotation, annotation_id)
    if annotation is None:
        raise AnnotationNotFound(f"There is no annotation {annotation_id}.")
    result = session.execute(
        update(Annotation)
        .where(Annotation.id == annotation_id, Annotation.status == "active")
        .values(status="undone", undone_by_id=admin_id, undone_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    if result.rowcount != 1:
        raise AlreadyUndone(f"Annotation {annotation_id} was already undone.")
    session.refresh(annotation)
    return annotation


@dataclass
class BulkResult:
    accepted: List[Annotation] = field(default_factory=list)
    skipped: List[Dict[str, Any]] = field(default_factory=list)


def _logged_sentiment(message: Message) -> Optional[str]:
    label = message.sentiment.get("label") if isinstance(message.sentiment, dict) else None
    return label if label in SENTIMENTS else None


def _logged_entities(message: Message, domain: Domain) -> List[Dict[str, Any]]:
    """The model's entities that are spans of the text; extracted values that are not (a normalised date,
    a regex's canonical form) are left out rather than stored as a span they are not."""
    kept = []
    for entity in message.entities or []:
        try:
            kept += _check_entities([entity], message.text or "", domain)
        except InvalidAnnotation:
            continue
    return kept


def bulk_accept(
    session: Session, message_ids: Sequence[int], admin_id: int, domain: Optional[Domain] = None
) -> BulkResult:
    """An admin accepts the model's own logged labels for these messages. Messages already annotated, not
    customers' words, or labelled with something the model cannot learn (nlu_fallback) are skipped, each
    with its reason."""
    domain = domain or load_domain()
    if len(message_ids) > MAX_BULK:
        raise InvalidAnnotation(f"Accept at most {MAX_BULK} messages at a time.")
    result = BulkResult()
    for message_id in dict.fromkeys(message_ids):
        try:
            message = reviewable_message(session, message_id)
            if message.intent not in domain.intents:
                raise InvalidAnnotation(f"its logged intent {message.intent!r} is not an intent of the domain")
            _refuse_if_annotated(session, message.id)
            annotation = Annotation(
                message_id=message.id,
                annotator_id=admin_id,
                created_at=utcnow(),
                original_intent=message.intent,
                original_confidence=message.confidence,
                original_sentiment=message.sentiment,
                intent=message.intent,
                entities=_logged_entities(message, domain),
                sentiment=_logged_sentiment(message),
                reply_verdict=None,
                status="active",
                bulk=True,
            )
            result.accepted.append(_insert(session, annotation))
        except ReviewError as error:
            result.skipped.append({"message_id": message_id, "reason": str(error)})
    return result


# -- reads --------------------------------------------------------------------------------------------


def annotation_view(annotation: Annotation, names: Mapping[int, str]) -> Dict[str, Any]:
    return {
        "id": annotation.id,
        "message_id": annotation.message_id,
        "annotator": {"id": annotation.annotator_id, "name": names.get(annotation.annotator_id)},
        "created_at": annotation.created_at,
        "original": {
            "intent": annotation.original_intent,
            "confidence": annotation.original_confidence,
            "sentiment": annotation.original_sentiment,
        },
        "intent": annotation.intent,
        "entities": annotation.entities or [],
        "sentiment": annotation.sentiment,
        "reply_verdict": annotation.reply_verdict,
        "status": annotation.status,
        "bulk": annotation.bulk,
        "undone_by": (
            {"id": annotation.undone_by_id, "name": names.get(annotation.undone_by_id)}
            if annotation.undone_by_id is not None
            else None
        ),
        "undone_at": annotation.undone_at,
    }


def views(session: Session, rows: Sequence[Annotation]) -> List[Dict[str, Any]]:
    names = annotators(session, [a.annotator_id for a in rows] + [a.undone_by_id for a in rows])
    return [annotation_view(a, names) for a in rows]


def list_annotations(
    session: Session,
    status: Optional[str] = "active",
    message_id: Optional[int] = None,
    annotator_id: Optional[int] = None,
    limit: int = 100,
    before_id: Optional[int] = None,
) -> List[Dict[str, Any]]:
    """Newest first; `status` None lists undone ones too."""
    if status is not None and status not in ("active", "undone"):
        raise InvalidAnnotation("status must be active or undone.")
    query = select(Annotation)
    if status is not None:
        query = query.where(Annotation.status == status)
    if message_id is not None:
        query = query.where(Annotation.message_id == message_id)
    if annotator_id is not None:
        query = query.where(Annotation.annotator_id == annotator_id)
    if before_id is not None:
        query = query.where(Annotation.id < before_id)
    rows = session.scalars(query.order_by(Annotation.id.desc()).limit(limit)).all()
    return views(session, rows)


def active_annotation(session: Session, message_id: int) -> Optional[Dict[str, Any]]:
    annotation = _active(session, message_id)
    return views(session, [annotation])[0] if annotation is not None else None
