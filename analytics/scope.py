"""Which conversations a filter covers (channel, product line, intent), and the categories a conversation
falls in when a chart is broken down by one of them.

A conversation can touch several intents and name several products, so breakdowns by intent or product
count it once under each (as Chatwoot's label reports do): those series do not add up to the total.

The product line is the `product` entity (auto, home, renters, travel, life after Rasa's synonym mapper) the
customer named in a message sent since a day before the period (PRODUCT_LOOKBACK); the summary keeps, per
conversation and product, when it was first and last named (storage/summary.py, `ConversationProduct`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, List, Tuple

from sqlalchemy import select
from sqlalchemy.sql.elements import ColumnElement

from analytics.filters import MetricFilter
from storage.models import ConversationIntent, ConversationProduct

# How long before a chart's period a product the customer named still labels the conversation.
PRODUCT_LOOKBACK = timedelta(days=1)
CUSTOMER = "customer"
BOT = "bot"
AGENT = "agent"


def conversation_products(dialect: str, window: Tuple[datetime, datetime]) -> Any:
    """(conversation_id, product) for every product line a customer named in a conversation in a message
    sent since PRODUCT_LOOKBACK before the window: the summary's conversation_products rows (storage/summary.py)
    last named since then, read from their index on last_named_at, no message JSON parsed."""
    since = window[0] - PRODUCT_LOOKBACK
    return (
        select(
            ConversationProduct.conversation_id.label("conversation_id"), ConversationProduct.product.label("product")
        )
        .where(ConversationProduct.last_named_at >= since)
        .subquery("products")
    )


def conversation_intents() -> Any:
    """(conversation_id, intent) for every intent the model gave a customer message in a conversation: the
    summary's conversation_intents rows (storage/summary.py)."""
    seen = ConversationIntent
    return select(seen.conversation_id.label("conversation_id"), seen.intent.label("intent")).subquery("intents")


def names_product(conversation_id: Any, product: str, dialect: str, window: Tuple[datetime, datetime]) -> ColumnElement:
    since = window[0] - PRODUCT_LOOKBACK
    naming = select(ConversationProduct.conversation_id).where(
        ConversationProduct.product == product, ConversationProduct.last_named_at >= since
    )
    return conversation_id.in_(naming)


def has_intent(conversation_id: Any, intent: str) -> ColumnElement:
    """The conversation has a customer message of `intent`: one index range of conversation_intents."""
    return conversation_id.in_(select(ConversationIntent.conversation_id).where(ConversationIntent.intent == intent))


def conversation_scope(
    conversation_id: Any,
    channel: Any,
    filt: MetricFilter,
    dialect: str,
    window: Tuple[datetime, datetime],
    intent_here: bool = True,
) -> List[ColumnElement]:
    """WHERE clauses that keep the rows of the conversations `filt` covers. `channel` is the row's own
    channel column (messages carry one, so no join is needed). With `intent_here` False the caller
    applies the intent filter to its own rows (a customer message's intent) instead."""
    clauses: List[ColumnElement] = []
    if filt.channel:
        clauses.append(channel == filt.channel)
    if filt.product:
        clauses.append(names_product(conversation_id, filt.product, dialect, window))
    if filt.intent and intent_here:
        clauses.append(has_intent(conversation_id, filt.intent))
    return clauses
