"""The review queue in the inbox: learning/'s queue and annotations, with the audit entry beside every write
and the learning layer's refusals turned into the inbox's 4xx errors."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Any, Dict, Iterator, List, Optional, Sequence

from sqlalchemy.orm import Session

from inbox.errors import Conflict, InvalidInput, NotFound, RasaUnavailable
from inbox.rasa_client import RasaClient
from inbox.services import audit
from inbox.services.common import aware
from learning import annotations, review_queue
from learning.annotations import AlreadyAnnotated, AlreadyUndone, AnnotationNotFound
from learning.review_queue import MessageNotFound, ReviewError
from storage.models import Agent, Message


@contextmanager
def _refusals_as_http(db: Session) -> Iterator[None]:
    """A refusal from learning/ is the client's mistake: 404 for what does not exist, 409 for what someone
    else did first, 422 for the rest; the transaction is rolled back either way."""
    try:
        yield
    except (MessageNotFound, AnnotationNotFound) as error:
        db.rollback()
        raise NotFound(str(error)) from error
    except (AlreadyAnnotated, AlreadyUndone) as error:
        db.rollback()
        raise Conflict(str(error)) from error
    except ReviewError as error:
        db.rollback()
        raise InvalidInput(str(error)) from error


def _aware(value: Any) -> Any:
    """Stored datetimes are naive UTC; the API says so (`+00:00`), in nested views too."""
    if isinstance(value, datetime):
        return aware(value)
    if isinstance(value, dict):
        return {key: _aware(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_aware(item) for item in value]
    return value


def queue(db: Session, floor: float, limit: int, offset: int, reason: Optional[str]) -> Dict[str, Any]:
    with _refusals_as_http(db):
        items, total = review_queue.queue(db, floor, limit, offset, reason)
    return _aware(
        {
            "total": total,
            "items": [
                {**review_queue.message_view(item.message), "score": item.score, "reasons": item.reasons}
                for item in items
            ],
        }
    )


def _ranking(rasa: RasaClient, text: str) -> Optional[List[Dict[str, Any]]]:
    """The running model's intent ranking for the text, or None when Rasa does not answer (the page then
    offers the logged intent: reviewing must not depend on Rasa being up)."""
    try:
        ranking = rasa.parse(text).get("intent_ranking")
    except RasaUnavailable:
        return None
    return ranking if isinstance(ranking, list) else None


def message_detail(db: Session, rasa: RasaClient, message_id: int, floor: float) -> Dict[str, Any]:
    with _refusals_as_http(db):
        message = review_queue.reviewable_message(db, message_id)
    domain = review_queue.load_domain()
    ranking = _ranking(rasa, message.text or "")
    return _aware(
        {
            "message": review_queue.message_view(message),
            "reasons": review_queue.reasons_for(db, message, floor),
            "replies": review_queue.bot_replies(db, message),
            "context": review_queue.context(db, message),
            "offered_intents": review_queue.offered_intents(ranking, message.intent, domain),
            "all_intents": sorted(domain.intents),
            "all_entities": sorted(domain.entities),
            "annotation": annotations.active_annotation(db, message.id),
        }
    )


def annotate(db: Session, agent: Agent, message_id: int, body: Dict[str, Any], ip: Optional[str]) -> Dict[str, Any]:
    with _refusals_as_http(db):
        annotation = annotations.annotate(
            db,
            message_id,
            agent.id,
            body["intent"],
            body.get("entities") or [],
            body.get("sentiment"),
            body.get("reply_verdict"),
        )
    conversation_id = db.get(Message, message_id).conversation_id
    detail = {"annotation_id": annotation.id, "message_id": message_id, "intent": annotation.intent}
    detail["original_intent"] = annotation.original_intent
    audit.record(db, "annotate", agent_id=agent.id, conversation_id=conversation_id, detail=detail, ip=ip)
    db.commit()
    return _aware(annotations.views(db, [annotation])[0])


def undo(db: Session, admin: Agent, annotation_id: int, ip: Optional[str]) -> Dict[str, Any]:
    with _refusals_as_http(db):
        annotation = annotations.undo(db, annotation_id, admin.id)
    message = db.get(Message, annotation.message_id)
    detail = {"annotation_id": annotation.id, "message_id": annotation.message_id}
    audit.record(
        db,
        "annotation_undone",
        agent_id=admin.id,
        conversation_id=message.conversation_id,
        target_agent_id=annotation.annotator_id,
        detail=detail,
        ip=ip,
    )
    db.commit()
    return _aware(annotations.views(db, [annotation])[0])


def bulk_accept(db: Session, admin: Agent, message_ids: Sequence[int], ip: Optional[str]) -> Dict[str, Any]:
    with _refusals_as_http(db):
        result = annotations.bulk_accept(db, message_ids, admin.id)
    accepted = [a.message_id for a in result.accepted]
    detail = {"message_ids": accepted, "skipped": [s["message_id"] for s in result.skipped]}
    audit.record(db, "bulk_accept", agent_id=admin.id, detail=detail, ip=ip)
    db.commit()
    return _aware({"accepted": annotations.views(db, result.accepted), "skipped": result.skipped})


def list_annotations(
    db: Session, status: Optional[str], message_id: Optional[int], annotator_id: Optional[int], limit: int
) -> List[Dict[str, Any]]:
    with _refusals_as_http(db):
        return _aware(annotations.list_annotations(db, status, message_id, annotator_id, limit))
