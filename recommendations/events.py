"""What happened to a recommendation, written to `content_impressions` and `content_events` exactly once.

- an impression: one row per item shown per conversation and channel. Showing the same item again in that
  conversation (or Rasa retrying the action that showed it) reuses the row, so its tracked link, its "not for me"
  button and the daily cap all keep counting one showing. Its `impression` event is written with the row.
- an open (the tracking redirect), a dismissal ("not for me") and a conversion (a quote that became a policy):
  at most one event per (impression, kind), however often the link is opened, the button tapped or the
  webhook retried.

Exactly once without a unique index: the writer first locks the impression's row (`SELECT … FOR UPDATE` on
PostgreSQL; on SQLite every write transaction of ours begins IMMEDIATE, storage/engine.py, which serialises
writers anyway), then looks for the event and adds it only if missing. Two racing writers of the same event
therefore queue on the impression, and the second finds the first's row. Rasa's lock store already runs one
conversation's actions one at a time, which is what keeps impressions of one conversation from racing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from storage.models import ContentEvent, ContentImpression, ContentItem, Quote, utcnow

IMPRESSION, OPEN, DISMISS, CONVERSION = "impression", "open", "dismiss", "conversion"

# The button payload that dismisses one impression. It names the impression, not the item: that is exact (the
# showing it answers), short enough for Telegram's 64-byte callback_data whatever the slug's length, and checked
# against the conversation the tap comes from, so no one dismisses someone else's impression by guessing ids.
DISMISS_INTENT = "dismiss_content"
DISMISS_ENTITY = "content_impression"


@dataclass(frozen=True)
class Showing:
    """One item about to be shown, and where it stands in the carousel or list."""

    item_id: int
    position: int
    score: Optional[float] = None


def dismiss_payload(impression_id: int) -> str:
    """`/dismiss_content{"content_impression":"<id>"}`: what a "not for me" button sends back."""
    return f"/{DISMISS_INTENT}" + json.dumps({DISMISS_ENTITY: str(impression_id)}, separators=(",", ":"))


def dismissed_impression(entities: Optional[List[Dict[str, Any]]]) -> Optional[str]:
    """The impression id a "not for me" payload names, from the message's entities (Rasa turns the payload's
    `{"content_impression": "<id>"}` into one, once the entity is in the domain); None if it names none."""
    for entity in entities or []:
        if isinstance(entity, dict) and entity.get("entity") == DISMISS_ENTITY and entity.get("value") is not None:
            return str(entity["value"])
    return None


def record_impressions(
    session: Session,
    showings: List[Showing],
    *,
    conversation_id: str,
    channel: str,
    moment: str,
    customer_id: Optional[int] = None,
    now: Optional[datetime] = None,
) -> List[ContentImpression]:
    """The impression of each showing, in order: an item already shown in this conversation on this channel keeps
    its row (position and score are the first showing's); a new one gets a row and its `impression` event."""
    now = now or utcnow()
    item_ids = [showing.item_id for showing in showings]
    existing = {
        row.content_item_id: row
        for row in session.scalars(
            select(ContentImpression).where(
                ContentImpression.conversation_id == conversation_id,
                ContentImpression.channel == channel,
                ContentImpression.content_item_id.in_(item_ids),
            )
        )
    }
    impressions: List[ContentImpression] = []
    for showing in showings:
        row = existing.get(showing.item_id)
        if row is None:
            row = ContentImpression(
                content_item_id=showing.item_id,
                customer_id=customer_id,
                conversation_id=conversation_id,
                channel=channel,
                moment=moment,
                position=showing.position,
                score=showing.score,
                shown_at=now,
            )
            session.add(row)
            session.flush()  # its id goes into the tracked link and the dismiss payload
            session.add(_event(row, IMPRESSION, now))
            existing[showing.item_id] = row
        impressions.append(row)
    session.flush()
    return impressions


def record_open(
    session: Session, impression: ContentImpression, now: Optional[datetime] = None
) -> Tuple[ContentEvent, bool]:
    """The open of a tracked link: (event, True) the first time, (the first event, False) after."""
    return _record_once(session, impression, OPEN, now=now)


def record_dismissal(
    session: Session, conversation_id: str, impression_id: Any, now: Optional[datetime] = None
) -> Optional[ContentEvent]:
    """ "Not for me" on an impression shown in this conversation; None when the id is not one of its impressions
    (a forged or stale payload changes nothing). Tapping again returns the first dismissal."""
    try:
        wanted = int(str(impression_id).strip())
    except (TypeError, ValueError):
        return None
    impression = session.get(ContentImpression, wanted)
    if impression is None or impression.conversation_id != conversation_id:
        return None
    event, _ = _record_once(session, impression, DISMISS, now=now)
    return event


def record_conversion(
    session: Session, quote_reference: str, policy_number: str, now: Optional[datetime] = None
) -> List[ContentEvent]:
    """A quote became a policy: one conversion per impression in the quote's conversation of an item that sells
    or explains the quote's product (an offer for it, or an explainer or offer about that product line). Calling
    again (a retried action, the policy system's webhook twice) adds nothing."""
    quote = session.scalar(select(Quote).where(Quote.reference == quote_reference))
    if quote is None or not quote.conversation_id:
        return []
    impressions = session.scalars(
        select(ContentImpression)
        .join(ContentItem, ContentItem.id == ContentImpression.content_item_id)
        .where(ContentImpression.conversation_id == quote.conversation_id)
        .where(
            or_(
                ContentItem.offers_product == quote.product,
                ContentItem.category.in_(("offer", "product_explainer")),
            )
        )
        .order_by(ContentImpression.id)
    ).all()
    detail = {"quote": quote.reference, "policy": policy_number, "product": quote.product}
    events: List[ContentEvent] = []
    for impression in impressions:
        item = session.get(ContentItem, impression.content_item_id)
        if item is None or not _sells(item, quote.product):
            continue
        event, _ = _record_once(session, impression, CONVERSION, detail=detail, now=now)
        events.append(event)
    return events


def _sells(item: ContentItem, product: str) -> bool:
    if item.offers_product:
        return item.offers_product == product
    return product in (item.product_lines or [])


def _record_once(
    session: Session,
    impression: ContentImpression,
    kind: str,
    detail: Optional[Dict[str, Any]] = None,
    now: Optional[datetime] = None,
) -> Tuple[ContentEvent, bool]:
    """The (impression, kind) event, added only if none exists; the impression's row is locked first."""
    session.execute(select(ContentImpression.id).where(ContentImpression.id == impression.id).with_for_update())
    found = session.scalar(
        select(ContentEvent)
        .where(ContentEvent.impression_id == impression.id, ContentEvent.kind == kind)
        .order_by(ContentEvent.id)
        .limit(1)
    )
    if found is not None:
        return found, False
    event = _event(impression, kind, now or utcnow(), detail)
    session.add(event)
    session.flush()
    return event, True


def _event(
    impression: ContentImpression, kind: str, at: datetime, detail: Optional[Dict[str, Any]] = None
) -> ContentEvent:
    return ContentEvent(
        kind=kind,
        content_item_id=impression.content_item_id,
        impression_id=impression.id,
        customer_id=impression.customer_id,
        conversation_id=impression.conversation_id,
        channel=impression.channel,
        detail=detail,
        at=at,
    )
