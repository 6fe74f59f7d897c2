"""Which conversations a filter covers (channel, product line, intent), and the categories a conversation
falls in when a chart is broken down by one of them.

A conversation can touch several intents and name several products, so breakdowns by intent or product
count it once under each (as Chatwoot's label reports do): those series do not add up to the total.

The product line is not a column: it is the `product` entity (auto, home, renters, travel, life after
Rasa's synonym mapper) the customer named in a message sent since a day before the period
(PRODUCT_LOOKBACK), read from the JSON the interaction log keeps.
SQLite and PostgreSQL unnest JSON arrays differently, so that one query is written twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, List, Tuple

from sqlalchemy import DateTime, String, bindparam, column, exists, select, text
from sqlalchemy.sql.elements import ColumnElement

from analytics.filters import MetricFilter
from analytics.sql import SQLITE
from storage.models import Message

# How long before a chart's period a product the customer named still labels the conversation.
PRODUCT_LOOKBACK = timedelta(days=1)
CUSTOMER = "customer"
BOT = "bot"
AGENT = "agent"

# Only the customer messages whose JSON mentions "product" are parsed: the partial index
# ix_messages_product_mentions (storage/models.py, migration 0014) holds exactly those rows, so the JSON of
# the other customer messages is never read. The text test is a pre-filter; the JSON test decides.
PRODUCT_MENTION = """m.author = 'customer' AND CAST(m.entities AS TEXT) LIKE '%"product"%'"""
_PRODUCTS_SQLITE = f"""
SELECT {{distinct}} m.conversation_id AS conversation_id, json_extract(e.value, '$.value') AS product
FROM messages AS m, json_each(CASE WHEN json_type(m.entities) = 'array' THEN m.entities ELSE '[]' END) AS e
WHERE {PRODUCT_MENTION} AND m.sent_at >= :since AND json_extract(e.value, '$.entity') = 'product' {{named}}
"""
_PRODUCTS_POSTGRESQL = f"""
SELECT {{distinct}} m.conversation_id AS conversation_id, e.value ->> 'value' AS product
FROM messages AS m CROSS JOIN LATERAL json_array_elements(
    CASE WHEN json_typeof(m.entities) = 'array' THEN m.entities ELSE '[]'::json END
) AS e(value)
WHERE {PRODUCT_MENTION} AND m.sent_at >= :since AND e.value ->> 'entity' = 'product' {{named}}
"""


def conversation_products(dialect: str, window: Tuple[datetime, datetime]) -> Any:
    """(conversation_id, product) for every product line a customer named in a conversation, in a message
    sent since PRODUCT_LOOKBACK before the window: reading every message ever logged would cost a scan of
    the whole log per chart."""
    sql = _PRODUCTS_SQLITE if dialect == SQLITE else _PRODUCTS_POSTGRESQL
    query = text(sql.format(distinct="DISTINCT", named="")).bindparams(
        bindparam("since", window[0] - PRODUCT_LOOKBACK, type_=DateTime())
    )
    return query.columns(column("conversation_id", String), column("product", String)).subquery("products")


def _naming(dialect: str, window: Tuple[datetime, datetime], product: str) -> Any:
    """The conversations naming `product`: no DISTINCT (IN does not need one, and sorting for it cost more
    than the rest), and only the messages whose text holds the quoted name are parsed (a pre-filter: `_`
    in a name matches any character, which only lets more rows through to the JSON test)."""
    sql = _PRODUCTS_SQLITE if dialect == SQLITE else _PRODUCTS_POSTGRESQL
    named = "AND CAST(m.entities AS TEXT) LIKE :quoted"
    query = text(sql.format(distinct="", named=named)).bindparams(
        bindparam("since", window[0] - PRODUCT_LOOKBACK, type_=DateTime()),
        bindparam("quoted", f'%"{product}"%', type_=String()),
    )
    return query.columns(column("conversation_id", String), column("product", String)).subquery("naming")


def conversation_intents() -> Any:
    """(conversation_id, intent) for every intent the model gave a customer message in a conversation."""
    return (
        select(Message.conversation_id.label("conversation_id"), Message.intent.label("intent"))
        .where(Message.author == CUSTOMER, Message.intent.isnot(None))
        .distinct()
        .subquery("intents")
    )


def names_product(conversation_id: Any, product: str, dialect: str, window: Tuple[datetime, datetime]) -> ColumnElement:
    products = _naming(dialect, window, product)
    return conversation_id.in_(select(products.c.conversation_id).where(products.c.product == product))


def has_intent(conversation_id: Any, intent: str) -> ColumnElement:
    return exists().where(
        Message.conversation_id == conversation_id, Message.author == CUSTOMER, Message.intent == intent
    )


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
