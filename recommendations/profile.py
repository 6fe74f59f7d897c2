"""Who the customer is at this moment, as the recommender sees it, read from SQL.

A conversation is linked to a customer only once they proved who they are (storage/verification.py): then the
profile has their policies, claims and quotes. Before that, or when they never do, the profile is built from the
conversation alone (channel, recent questions and intents, sentiment, what was shown or dismissed in it).

Marketing consent is the verified customer's `customers.marketing_consent_at` (migration 0015): an anonymous
customer, or one who never gave it (or withdrew it: NULL again), is offered nothing for sale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Dict, List, Optional, Sequence, Set, Tuple

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from recommendations.vocabulary import claim_stage_for_status
from storage.models import (
    Claim,
    ContentEvent,
    ContentImpression,
    ContentItem,
    Conversation,
    Customer,
    CustomerVerification,
    Escalation,
    Message,
    Policy,
    Quote,
    utcnow,
)
from storage.verification import verified_customer_id

RECENT_MESSAGES = 5  # the customer's last few messages say what they are asking about now
UPSET_WINDOW = 3  # a negative message among the last three still counts: a mood outlasts one message
QUOTE_WINDOW_DAYS = 90  # an older quote is no longer a live interest
REPEAT_DAYS = 7  # an item shown this recently is not pushed again (recommendations/constraints.py)
CLOSED_STAGES = ("closed",)


@dataclass(frozen=True)
class HeldPolicy:
    product: str
    tenure_years: float
    renewal_in_days: int


@dataclass(frozen=True)
class ClaimState:
    product: str
    incident_type: str
    stage: str


@dataclass(frozen=True)
class QuoteGiven:
    product: str
    days_ago: int


@dataclass(frozen=True)
class CustomerProfile:
    """The judged set's profile fields (benchmarks/recommendations/judged.py), plus what the daily cap needs."""

    anonymous: bool
    policies: Tuple[HeldPolicy, ...] = ()
    claims: Tuple[ClaimState, ...] = ()
    quotes: Tuple[QuoteGiven, ...] = ()
    recent_intents: Tuple[str, ...] = ()
    recent_questions: Tuple[str, ...] = ()
    sentiment: str = "neutral"
    channel: str = "webchat"
    marketing_consent: bool = False
    open_complaint: bool = False  # an open escalation or complaint on this conversation or the customer's others
    dismissed: Tuple[str, ...] = ()  # item slugs, never shown again
    payment_overdue_days: int = 0
    shown_today: int = 0  # different items shown today, for the daily cap
    opened: Tuple[str, ...] = field(default=(), compare=False)
    recently_shown: Tuple[str, ...] = field(default=(), compare=False)  # slugs shown in the last REPEAT_DAYS
    shown_today_items: Tuple[str, ...] = field(default=(), compare=False)  # slugs of today's impressions
    customer_id: Optional[int] = None
    conversation_id: Optional[str] = None

    @property
    def held_products(self) -> Tuple[str, ...]:
        return tuple(dict.fromkeys(p.product for p in self.policies))

    @property
    def marketing_allowed(self) -> bool:
        """No marketing to an anonymous, non-consenting, upset or complaining customer."""
        return (
            not self.anonymous and self.marketing_consent and not self.open_complaint and self.sentiment != "negative"
        )


def channel_of(conversation_id: str, conversation: Optional[Conversation]) -> str:
    """The conversation's channel; Rasa sender ids of social channels carry it as a prefix (whatsapp:1555...)."""
    if conversation is not None and conversation.channel not in (None, "", "unknown"):
        return conversation.channel
    prefix, sep, _ = conversation_id.partition(":")
    return prefix if sep and prefix else "webchat"


def _policies(session: Session, customer_id: int, today: date) -> Tuple[Tuple[HeldPolicy, ...], int]:
    """Active policies as (product, tenure, days to renewal), and how many days the oldest unpaid bill is late."""
    rows = session.scalars(select(Policy).where(Policy.customer_id == customer_id).order_by(Policy.start_date)).all()
    first_start: Dict[str, date] = {}
    for row in rows:  # tenure counts from the first policy of that product, lapsed renewals included
        first_start.setdefault(row.product, row.start_date)
    held: List[HeldPolicy] = []
    overdue = 0
    for row in rows:
        if not row.is_active_on(today):
            continue
        tenure = round((today - first_start[row.product]).days / 365.25, 1)
        held.append(HeldPolicy(row.product, tenure, (row.end_date - today).days))
        if row.amount_due and row.amount_due > 0 and row.next_due_date and row.next_due_date < today:
            overdue = max(overdue, (today - row.next_due_date).days)
    return tuple(held), overdue


def _consented(session: Session, customer_id: Optional[int]) -> bool:
    if customer_id is None:
        return False
    return session.scalar(select(Customer.marketing_consent_at).where(Customer.id == customer_id)) is not None


def _claims(session: Session, customer_id: int) -> Tuple[ClaimState, ...]:
    rows = session.execute(
        select(Policy.product, Claim.incident_type, Claim.status)
        .join(Policy, Claim.policy_id == Policy.id)
        .where(Policy.customer_id == customer_id)
        .order_by(Claim.updated_at.desc(), Claim.id.desc())
    ).all()
    claims = []
    for product, incident_type, status in rows:
        stage = claim_stage_for_status(status)
        if stage is not None and stage not in CLOSED_STAGES:
            claims.append(ClaimState(product, incident_type, stage))
    return tuple(claims)


def _customer_conversations(session: Session, customer_id: Optional[int], conversation_id: str) -> List[str]:
    """This conversation and, for a verified customer, every other conversation they verified in."""
    ids = {conversation_id}
    if customer_id is not None:
        ids.update(
            session.scalars(
                select(CustomerVerification.conversation_id).where(CustomerVerification.customer_id == customer_id)
            )
        )
    return sorted(ids)


def _quotes(session: Session, conversations: Sequence[str], now: datetime) -> Tuple[QuoteGiven, ...]:
    rows = session.execute(
        select(Quote.product, Quote.created_at)
        .where(Quote.conversation_id.in_(conversations))
        .order_by(Quote.created_at.desc())
    ).all()
    quotes: Dict[str, QuoteGiven] = {}
    for product, created_at in rows:
        days_ago = max((now - created_at).days, 0)
        if days_ago <= QUOTE_WINDOW_DAYS and product not in quotes:
            quotes[product] = QuoteGiven(product, days_ago)
    return tuple(quotes.values())


@dataclass(frozen=True)
class Said:
    """One customer message as the profile reads it."""

    text: Optional[str]
    intent: Optional[str]
    sentiment: Optional[str]


def _recent_messages(session: Session, conversation_id: str) -> List[Said]:
    """The customer's last messages, newest first (three columns, not ORM rows: this runs in every recommendation)."""
    # `author || ''`: the same test, which no index serves. SQLite has no statistics (nothing runs ANALYZE) and
    # otherwise walks ix_messages_author_sent_at back through every customer message of every conversation until it
    # has five of this one (all of them when the conversation has fewer): 100 ms and more at 300,000 messages
    # (benchmarks/results/recommendations_latency.md). So it reads this conversation's rows by its own index.
    rows = session.execute(
        select(Message.text, Message.intent, Message.sentiment)
        .where(Message.conversation_id == conversation_id, (Message.author + "") == "customer")
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(RECENT_MESSAGES)
    ).all()
    return [
        Said(text, intent, (sentiment or {}).get("label") if isinstance(sentiment, dict) else None)
        for text, intent, sentiment in rows
    ]


def _sentiment(messages: Sequence[Said]) -> str:
    labels = [m.sentiment for m in messages if m.sentiment in ("positive", "neutral", "negative")]
    if "negative" in labels[:UPSET_WINDOW]:
        return "negative"
    return labels[0] if labels else "neutral"


def _open_complaint(session: Session, conversations: Sequence[str]) -> bool:
    """An open escalation on any of these conversations, or one of them in the `escalated` status: both tests in
    one SELECT of two EXISTS (the profile runs in every recommendation; a round trip each cost more than the
    look-ups)."""
    escalated = select(Escalation.id).where(Escalation.conversation_id.in_(conversations), Escalation.open.is_(True))
    status = select(Conversation.id).where(Conversation.id.in_(conversations), Conversation.status == "escalated")
    return bool(session.scalar(select(or_(escalated.exists(), status.exists()))))


def _whose(model: type, customer_id: Optional[int], conversation_id: str):  # type: ignore[no-untyped-def]
    """A customer's events follow them across conversations; an anonymous one's stay in the conversation."""
    if customer_id is None:
        return model.conversation_id == conversation_id
    return or_(model.customer_id == customer_id, model.conversation_id == conversation_id)


def _event_slugs(
    session: Session, kinds: Sequence[str], customer_id: Optional[int], conversation_id: str
) -> Dict[str, Tuple[str, ...]]:
    """The items of each kind of event (dismissed, opened) as sorted slugs, every kind from one query.

    `kind || ''`: the same test, which no index serves. Without statistics SQLite otherwise answered it through
    migration 0022's (kind, at) index, reading every open and dismissal of every customer (45 ms a profile at
    60,000 events, benchmarks/results/recommendations_latency.md), instead of this customer's and conversation's
    rows by their own indexes."""
    rows = session.execute(
        select(ContentEvent.kind, ContentItem.slug)
        .join(ContentEvent, ContentEvent.content_item_id == ContentItem.id)
        .where((ContentEvent.kind + "").in_(kinds), _whose(ContentEvent, customer_id, conversation_id))
        .distinct()
    )
    found: Dict[str, Set[str]] = {kind: set() for kind in kinds}
    for kind, slug in rows:
        found[kind].add(slug)
    return {kind: tuple(sorted(slugs)) for kind, slugs in found.items()}


@dataclass(frozen=True)
class Shown:
    """What the customer (or the anonymous conversation) was shown lately."""

    today: Tuple[str, ...]  # the different items shown since midnight (slugs), for the daily cap
    recently: Tuple[str, ...]  # the slugs of the last REPEAT_DAYS


def _shown_recently(session: Session, customer_id: Optional[int], conversation_id: str, now: datetime) -> Shown:
    """One read of at most REPEAT_DAYS × DAILY_CAP rows by the impressions' (customer, shown_at) and
    (conversation, shown_at) indexes."""
    midnight = datetime.combine(now.date(), time.min)
    since = now - timedelta(days=REPEAT_DAYS)  # before midnight: today's rows are among these
    rows = session.execute(
        select(ContentItem.slug, ContentImpression.shown_at)
        .join(ContentItem, ContentItem.id == ContentImpression.content_item_id)
        .where(_whose(ContentImpression, customer_id, conversation_id), ContentImpression.shown_at >= since)
    ).all()
    # an item shown again in another of the customer's conversations (asked for again on Messenger) is a new
    # impression row but not a new item of their day
    today = sorted({slug for slug, shown_at in rows if shown_at >= midnight})
    return Shown(tuple(today), tuple(sorted({slug for slug, _ in rows})))


def with_latest(messages: List[Said], latest: Optional[Said]) -> List[Said]:
    """The message being answered, newest first. Rasa publishes a turn's events to the interaction log when the
    turn ends, so while an action runs its own message is not in the table yet: without it "any tips for
    driving in snow?" is matched against the message before, and an angry one does not count as upset."""
    if latest is None or not (latest.text or "").strip():
        return messages
    if messages and messages[0].text == latest.text:  # already logged (a later read, a re-run)
        return messages
    return [latest, *messages][:RECENT_MESSAGES]


def load_profile(
    session: Session, conversation_id: str, now: Optional[datetime] = None, latest: Optional[Said] = None
) -> CustomerProfile:
    """The profile of the customer in this conversation now (UTC, naive like the stored timestamps).
    `latest`: the customer's message the caller is answering, from the tracker."""
    now = now or utcnow()
    today = now.date()
    conversation = session.get(Conversation, conversation_id)
    customer_id = verified_customer_id(session, conversation_id, now)
    conversations = _customer_conversations(session, customer_id, conversation_id)
    messages = with_latest(_recent_messages(session, conversation_id), latest)
    policies: Tuple[HeldPolicy, ...] = ()
    claims: Tuple[ClaimState, ...] = ()
    overdue = 0
    if customer_id is not None:
        policies, overdue = _policies(session, customer_id, today)
        claims = _claims(session, customer_id)
    events = _event_slugs(session, ("dismiss", "open"), customer_id, conversation_id)
    shown = _shown_recently(session, customer_id, conversation_id, now)
    return CustomerProfile(
        anonymous=customer_id is None,
        policies=policies,
        claims=claims,
        quotes=_quotes(session, conversations, now),
        recent_intents=tuple(m.intent for m in messages if m.intent),
        recent_questions=tuple(m.text for m in messages if m.text and m.text.strip()),
        sentiment=_sentiment(messages),
        channel=channel_of(conversation_id, conversation),
        marketing_consent=_consented(session, customer_id),
        open_complaint=_open_complaint(session, conversations),
        dismissed=events["dismiss"],
        payment_overdue_days=overdue,
        shown_today=len(shown.today),
        opened=events["open"],
        recently_shown=shown.recently,
        shown_today_items=shown.today,
        customer_id=customer_id,
        conversation_id=conversation_id,
    )
