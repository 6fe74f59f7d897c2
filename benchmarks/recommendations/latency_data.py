"""The latency benchmark's synthetic book: customers, policies, claims, quotes, conversations with messages,
escalations, a 10,000-item library and its impressions and events, written to a migrated database in one
transaction with batched multi-row inserts (executemany through SQLAlchemy Core, never row by row), so the
100,000-customer book fills in about a minute rather than an hour.

The shapes follow what the recommender's profile reads: most conversations are verified (a customer's policies,
claims and quotes then count), a fifth are anonymous; customers hold 1-3 products, some lapsed; a quarter have a
claim at some stage; some conversations are escalated; impressions fall over the last 60 days, some today (the
daily cap), and a fifth of them were opened or dismissed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Dict, Iterable, Iterator, List, Sequence

from sqlalchemy.engine import Connection

from recommendations.library import DEMO_LIBRARY, ContentSpec, load_library
from recommendations.vocabulary import MOMENTS, PRODUCT_LINES
from storage.engine import get_engine
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
)

CHANNELS = ("whatsapp", "telegram", "messenger", "webchat", "instagram")
CLAIM_STATUSES = ("received", "under_review", "waiting_for_documents", "approved", "denied", "closed")
INCIDENTS = ("collision", "glass", "theft", "storm", "water_damage", "fire", "vandalism", "injury")
QUESTIONS = (
    "someone hit my car in the parking lot",
    "when is my renewal and why did the price go up?",
    "how do I pay my bill?",
    "any tips for winter driving?",
    "do you cover flood damage in the basement?",
    "my bike was stolen from the garage",
    "what happens after I file a claim?",
    "a pipe burst in the kitchen and the floor is soaked",
    "is my laptop covered when I travel?",
    "I want to add my daughter to my car insurance",
    "hi",
)
BOT_REPLY = "Thanks, I can help with that."
ANONYMOUS_EVERY = 5  # every fifth conversation never verified
BATCH = 5_000


@dataclass(frozen=True)
class Sizes:
    """How big the book is; the defaults are issue 16's acceptance sizes."""

    customers: int = 100_000
    items: int = 10_000
    claims_per_customer: float = 0.25
    quotes_per_customer: float = 0.3
    escalated_per_customer: float = 0.05
    consent_share: float = 0.3
    customer_messages: int = 3  # per conversation, plus as many bot replies
    impressions_per_customer: int = 3
    events_per_impression: float = 0.2


@dataclass
class Book:
    """What `fill` wrote: row counts per table and the conversation ids (verified and anonymous)."""

    counts: Dict[str, int] = field(default_factory=dict)
    conversations: List[str] = field(default_factory=list)
    verified: int = 0


def conversation_id(n: int) -> str:
    """Rasa sender ids as the channels make them (whatsapp:1555..., telegram:777...)."""
    channel = CHANNELS[n % len(CHANNELS)]
    if channel in ("whatsapp", "webchat"):
        return f"{channel}:1555{n:07d}"
    return f"{channel}:{777000000 + n}"


def is_verified(n: int) -> bool:
    return n % ANONYMOUS_EVERY != 0


def _batches(rows: Iterable[Dict[str, Any]], size: int = BATCH) -> Iterator[List[Dict[str, Any]]]:
    batch: List[Dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _insert(connection: Connection, model: type, rows: Iterable[Dict[str, Any]], book: Book) -> None:
    """Batched executemany of Core inserts: one statement, thousands of parameter sets per round (every row of a
    table must carry the same keys)."""
    table = model.__table__  # type: ignore[attr-defined]
    for batch in _batches(rows):
        connection.execute(table.insert(), batch)
        book.counts[table.name] = book.counts.get(table.name, 0) + len(batch)


def _customers(sizes: Sizes, rng: random.Random, now: datetime) -> Iterator[Dict[str, Any]]:
    for c in range(1, sizes.customers + 1):
        consented = rng.random() < sizes.consent_share
        yield {
            "id": c,
            "full_name": f"Customer {c}",
            "marketing_consent_at": now - timedelta(days=30) if consented else None,
            "marketing_consent_source": "signup_form" if consented else None,
            "created_at": now,
        }


def _policies(sizes: Sizes, rng: random.Random, today: date) -> List[Dict[str, Any]]:
    policies: List[Dict[str, Any]] = []
    for customer in range(1, sizes.customers + 1):
        for product in rng.sample(PRODUCT_LINES, rng.randint(1, 3)):
            start = today - timedelta(days=rng.randint(1, 3000))
            end = start + timedelta(days=365 * ((today - start).days // 365 + 1))
            policies.append(
                {
                    "id": len(policies) + 1,
                    "number": f"PX-{len(policies) + 1:07d}",
                    "customer_id": customer,
                    "product": product,
                    "status": "lapsed" if rng.random() < 0.1 else "active",
                    "start_date": start,
                    "end_date": end,
                    "annual_premium": 1000,
                    "deductible": 500,
                    "amount_due": rng.choice((0, 0, 0, 95)),
                    "next_due_date": today + timedelta(days=rng.randint(-10, 30)),
                }
            )
    return policies


def _claims(count: int, policies: int, rng: random.Random, today: date, now: datetime) -> Iterator[Dict[str, Any]]:
    for n in range(count):
        yield {
            "reference": f"CL-{n:07d}",
            "policy_id": rng.randint(1, policies),
            "incident_type": rng.choice(INCIDENTS),
            "incident_date": today - timedelta(days=rng.randint(0, 200)),
            "description": "synthetic",
            "status": rng.choice(CLAIM_STATUSES),
            "created_at": now - timedelta(days=rng.randint(0, 200)),
            "updated_at": now - timedelta(days=rng.randint(0, 30)),
        }


def _messages(sizes: Sizes, conversations: Sequence[str], rng: random.Random, now: datetime) -> Iterator[Dict]:
    for n, c in enumerate(conversations):
        channel = c.split(":")[0]
        for m in range(sizes.customer_messages):
            sent = now - timedelta(minutes=2 * (sizes.customer_messages - m))
            yield {
                "conversation_id": c,
                "event_key": f"{n}:{m}:in",
                "direction": "inbound",
                "author": "customer",
                "channel": channel,
                "text": rng.choice(QUESTIONS),
                "intent": rng.choice(("ask_coverage", "file_claim", "greet", "ask_billing", "complaint")),
                "confidence": 0.9,
                "sentiment": {"label": rng.choice(("neutral", "neutral", "positive", "negative")), "confidence": 0.9},
                "answer_source": None,
                "sent_at": sent,
                "created_at": sent,
            }
            yield {
                "conversation_id": c,
                "event_key": f"{n}:{m}:out",
                "direction": "outbound",
                "author": "bot",
                "channel": channel,
                "text": BOT_REPLY,
                "intent": None,
                "confidence": None,
                "sentiment": None,
                "answer_source": "template",
                "sent_at": sent + timedelta(seconds=1),
                "created_at": sent + timedelta(seconds=1),
            }


def _items(sizes: Sizes, specs: Sequence[ContentSpec], now: datetime) -> Iterator[Dict[str, Any]]:
    """The demo library's items repeated with new ids and slugs (their texts repeat: see latency.py)."""
    for n in range(sizes.items):
        spec = specs[n % len(specs)]
        yield {
            "id": n + 1,
            "slug": f"{spec.slug}-{n:05d}",
            "category": spec.category,
            "title": spec.title,
            "summary": spec.summary,
            "body": spec.body or "",
            "link": spec.link,
            "product_lines": list(spec.product_lines),
            "life_events": list(spec.life_events),
            "claim_stages": list(spec.claim_stages),
            "incident_types": list(spec.incident_types),
            "months": list(spec.months),
            "marketing": spec.marketing,
            "offers_product": spec.offers_product,
            "valid_from": spec.valid_from,
            "valid_to": spec.valid_to,
            "locale": "en-US",
            "content_hash": f"{n:064d}",
            "created_at": now,
            "updated_at": now,
        }


def _impressions(sizes: Sizes, conversations: Sequence[str], rng: random.Random, now: datetime) -> List[Dict]:
    impressions = []
    for n in range(sizes.customers * sizes.impressions_per_customer):
        number = rng.randint(1, sizes.customers)
        impressions.append(
            {
                "id": n + 1,
                "content_item_id": rng.randint(1, sizes.items),
                "customer_id": number if is_verified(number) else None,
                "conversation_id": conversations[number - 1],
                "channel": conversations[number - 1].split(":")[0],
                "moment": rng.choice(MOMENTS),
                "position": rng.randint(0, 2),
                "shown_at": now - timedelta(minutes=rng.randint(1, 60 * 24 * 60)),
            }
        )
    return impressions


def _events(impressions: Sequence[Dict], count: int, rng: random.Random) -> Iterator[Dict[str, Any]]:
    for impression in rng.sample(list(impressions), count):
        yield {
            "kind": rng.choice(("open", "open", "dismiss")),
            "content_item_id": impression["content_item_id"],
            "impression_id": impression["id"],
            "customer_id": impression["customer_id"],
            "conversation_id": impression["conversation_id"],
            "channel": impression["channel"],
            "at": impression["shown_at"] + timedelta(minutes=1),
        }


def fill(url: str, now: datetime, sizes: Sizes = Sizes(), seed: int = 7) -> Book:
    """Write the book into the migrated, empty database at `url`, in one transaction."""
    rng = random.Random(seed)
    today = now.date()
    book = Book()
    specs = load_library([DEMO_LIBRARY])
    book.conversations = [conversation_id(n) for n in range(1, sizes.customers + 1)]
    escalated = set(rng.sample(book.conversations, int(sizes.customers * sizes.escalated_per_customer)))
    with get_engine(url).begin() as connection:
        _insert(connection, Customer, _customers(sizes, rng, now), book)
        policies = _policies(sizes, rng, today)
        _insert(connection, Policy, policies, book)
        claims = int(sizes.customers * sizes.claims_per_customer)
        _insert(connection, Claim, _claims(claims, len(policies), rng, today, now), book)
        conversation_rows = (
            {
                "id": c,
                "channel": c.split(":")[0],
                "customer_identity": c.split(":")[1],
                "status": "escalated" if c in escalated else "pending",
                "created_at": now - timedelta(minutes=30),
                "last_message_at": now,
            }
            for c in book.conversations
        )
        _insert(connection, Conversation, conversation_rows, book)
        verifications = (
            {
                "conversation_id": c,
                "customer_id": n,
                "method": "policy_dob",
                "verified_at": now - timedelta(minutes=20),
                "expires_at": now + timedelta(days=1),
            }
            for n, c in enumerate(book.conversations, start=1)
            if is_verified(n)
        )
        _insert(connection, CustomerVerification, verifications, book)
        book.verified = book.counts.get("customer_verifications", 0)
        _insert(connection, Message, _messages(sizes, book.conversations, rng, now), book)
        quotes = (
            {
                "reference": f"QT-{n:07d}",
                "conversation_id": rng.choice(book.conversations),
                "product": rng.choice(PRODUCT_LINES),
                "inputs": {},
                "annual_premium": 900,
                "created_at": now - timedelta(days=rng.randint(0, 120)),
            }
            for n in range(int(sizes.customers * sizes.quotes_per_customer))
        )
        _insert(connection, Quote, quotes, book)
        escalations = (
            {"conversation_id": c, "reason": "complaint", "open": True, "created_at": now - timedelta(minutes=5)}
            for c in sorted(escalated)
        )
        _insert(connection, Escalation, escalations, book)
        _insert(connection, ContentItem, _items(sizes, specs, now), book)
        impressions = _impressions(sizes, book.conversations, rng, now)
        _insert(connection, ContentImpression, impressions, book)
        events = int(len(impressions) * sizes.events_per_impression)
        _insert(connection, ContentEvent, _events(impressions, events, rng), book)
    return book
