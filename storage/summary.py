"""The summary of the interaction log that analytics reads instead of grouping every message: per conversation
the latest customer and bot message, the first agent message and handoff, whether an answer got a 👍 or a 👎
(`Conversation.last_customer_at` …), the product lines (`ConversationProduct`, with copies of the
conversation's created_at and channel) and intents seen (`ConversationIntent`); per handoff its first agent
reply (`Escalation.first_response_at`); per answered message its first reply and kind
(`Message.first_answer_at` …); per agent message the previous one and the wait it answers
(`Message.previous_agent_at`, `waiting_since`); and per UTC hour the messages, the customer
messages per intent and the answered messages (`MessageHour`, `IntentHour`, `AnswerHour`); per recommendation
shown its first open (`ContentImpression.opened_at`). docs/analytics.md says which metric reads what.

Kept in the flush that writes the message, handoff, rating or open, as ORM mapper events: every writer of the log
(the projection, the lifecycle's handoffs, the action server's ratings, seeds, fixtures) writes through the
ORM, so no writer can forget it, and it commits or rolls back with the row that caused it (savepoints too).
Messages that a SQL script inserts directly need `backfill` (benchmarks/analytics/generate.py does that).

Exactly once, in any order, under concurrent writers: every per-conversation update merges one row's value
into the summary inside the UPDATE itself (the later of two times, the earlier, a flag set), never read in
Python and written back, so a late message (out of order) or one written twice leaves the same summary; the
hourly totals are increments, once per inserted row (a duplicate event fails its INSERT, before the event).
Two transactions writing one conversation cannot lose each other's update: PostgreSQL re-evaluates an UPDATE
on the newest row version once the other's row lock is released, and SQLite has one writer at a time. What is
computed from other rows (a new handoff's first agent reply, an answered message's first reply) is read after
a row lock that every writer of it takes first (READ COMMITTED takes a new snapshot per statement), and all
writers lock in one order (`message_logged`), so none waits for another in a circle.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, List, Set, Tuple

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    bindparam,
    case,
    event,
    exists,
    func,
    inspect,
    or_,
    select,
    text,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from storage.models import (
    AnswerFeedback,
    AnswerHour,
    ContentEvent,
    ContentImpression,
    Conversation,
    ConversationIntent,
    ConversationProduct,
    Escalation,
    IntentHour,
    Message,
    MessageHour,
    sentiment_label_of,
)

CUSTOMER, BOT, AGENT = "customer", "bot", "agent"
PRODUCT_ENTITY = "product"
FALLBACK, PAST_REPLY = "fallback", "retrieval"  # conversations.answers.AnswerSource values
NO_SENTIMENT = "unknown"  # MessageHour.sentiment of a message logged without one (and of every reply)
OPEN = "open"  # recommendations.events.OPEN: a recommendation followed through its tracked link


def later(column: Any, moment: Any) -> ColumnElement:
    """The later of the stored time and `moment` (NULL counts as never)."""
    return case((or_(column.is_(None), column < moment), moment), else_=column)


def earlier(column: Any, moment: Any) -> ColumnElement:
    return case((or_(column.is_(None), column > moment), moment), else_=column)


def named_products(entities: Any) -> Set[str]:
    """The product lines among a customer message's entities (after Rasa's synonym mapper)."""
    found: Set[str] = set()
    for entity in entities if isinstance(entities, list) else []:
        if isinstance(entity, dict) and entity.get("entity") == PRODUCT_ENTITY and isinstance(entity.get("value"), str):
            found.add(entity["value"])
    return found


# -- what one write changes ---------------------------------------------------------------------------------


def _conversation(connection: Connection, conversation_id: str, **values: Any) -> None:
    """UPDATE the conversation's summary; also what locks the row for the rest of the transaction."""
    connection.execute(update(Conversation).where(Conversation.id == conversation_id).values(**values))


def _product_upsert(insert: Any) -> Any:
    """INSERT … SELECT … ON CONFLICT of one product named (parameters `named_in`, `product`, `named_at`): a new
    row copies the conversation's created_at and channel, read in the INSERT after the conversation's row
    lock, so conversations by product read this table alone (`conversation_changed` keeps the copies)."""
    table = ConversationProduct.__table__
    named_at = bindparam("named_at", type_=DateTime)
    row = select(
        Conversation.id,
        bindparam("product", type_=String),
        named_at,
        named_at,
        Conversation.created_at,
        Conversation.channel,
    ).where(Conversation.id == bindparam("named_in", type_=String))
    columns = ["conversation_id", "product", "first_named_at", "last_named_at", "conversation_created_at", "channel"]
    statement = insert(table).from_select(columns, row)
    return statement.on_conflict_do_update(
        index_elements=[table.c.conversation_id, table.c.product],
        set_={
            "first_named_at": earlier(table.c.first_named_at, statement.excluded.first_named_at),
            "last_named_at": later(table.c.last_named_at, statement.excluded.last_named_at),
        },
    )


# Built once per dialect, as the waits' statements below are (their construction cost more than their execution).
_NAME_PRODUCT = {"postgresql": _product_upsert(postgresql.insert), "sqlite": _product_upsert(sqlite.insert)}


def _products_named(connection: Connection, conversation_id: str, products: Iterable[str], sent_at: datetime) -> None:
    statement = _NAME_PRODUCT["postgresql" if connection.dialect.name == "postgresql" else "sqlite"]
    for product in sorted(products):
        connection.execute(statement, {"named_in": conversation_id, "product": product, "named_at": sent_at})


def _intent_seen(connection: Connection, conversation_id: str, intent: str) -> None:
    table = ConversationIntent.__table__
    statement = _dialect_insert(connection)(table).values(conversation_id=conversation_id, intent=intent)
    connection.execute(statement.on_conflict_do_nothing(index_elements=[table.c.conversation_id, table.c.intent]))


def _answers_handoffs(connection: Connection, conversation_id: str, sent_at: datetime) -> None:
    """An agent message is the first response of every handoff of the conversation it falls in (at or
    after the handoff, not after its resolution) that has none earlier."""
    connection.execute(
        update(Escalation)
        .where(
            Escalation.conversation_id == conversation_id,
            Escalation.created_at <= sent_at,
            or_(Escalation.resolved_at.is_(None), Escalation.resolved_at >= sent_at),
        )
        .values(first_response_at=earlier(Escalation.first_response_at, sent_at))
    )


def _order(message: Any) -> ColumnElement:
    """A message's place in its conversation's timeline: (sent_at, id), as reply time orders it."""
    return tuple_(message.sent_at, message.id)


def _wait_measured(which: ColumnElement) -> Any:
    """UPDATE: the agent message `which` selects gets its wait measured from the timeline as it now stands:
    the previous agent message's sent_at, and the first customer message after that one and before it.
    Read inside the UPDATE, after the conversation's row lock that every message writer takes first."""
    before, customer, between = aliased(Message), aliased(Message), aliased(Message)
    previous = select(func.max(before.sent_at)).where(
        before.conversation_id == Message.conversation_id,
        before.author == AGENT,
        _order(before) < _order(Message),
    )
    agent_between = (
        exists()
        .where(
            between.conversation_id == Message.conversation_id,
            between.author == AGENT,
            _order(between) > _order(customer),
            _order(between) < _order(Message),
        )
        .correlate_except(between)
    )
    since = select(func.min(customer.sent_at)).where(
        customer.conversation_id == Message.conversation_id,
        customer.author == CUSTOMER,
        _order(customer) < _order(Message),
        ~agent_between,
    )
    return (
        update(Message)
        .where(Message.id == which)
        .values(previous_agent_at=previous.scalar_subquery(), waiting_since=since.scalar_subquery())
    )


def _next_agent_message() -> Any:
    """The id of the conversation's first agent message after the message given as parameters
    (`in_conversation`, `after_at`, `after_id`) in the timeline: a scalar subquery."""
    following = aliased(Message)
    after = tuple_(bindparam("after_at", type_=DateTime), bindparam("after_id", type_=Integer))
    return (
        select(following.id)
        .where(
            following.conversation_id == bindparam("in_conversation", type_=String),
            following.author == AGENT,
            _order(following) > after,
        )
        .order_by(following.sent_at, following.id)
        .limit(1)
        .scalar_subquery()
    )


# Built once: constructing these correlated statements (and their cache keys) for every message cost ~9 ms
# of Python per agent message, ten times their execution.
_MEASURE_WAIT = _wait_measured(bindparam("message_id", type_=Integer))
_MEASURE_NEXT_WAIT = _wait_measured(_next_agent_message())
_JOIN_WAIT = (
    update(Message)
    .where(Message.id == _next_agent_message())
    .values(waiting_since=earlier(Message.waiting_since, bindparam("after_at", type_=DateTime)))
)


def _timeline_place(message: Message) -> dict:
    return {"in_conversation": message.conversation_id, "after_at": message.sent_at, "after_id": message.id}


def _answers_wait(connection: Connection, message: Message) -> None:
    """An agent message measures its own wait, and the next agent message's (written before it, out of
    order) is measured again: its wait now begins after this one."""
    connection.execute(_MEASURE_WAIT, {"message_id": message.id})
    connection.execute(_MEASURE_NEXT_WAIT, _timeline_place(message))


def _joins_wait(connection: Connection, message: Message) -> None:
    """A customer message is in the wait that the first agent message after it answers: that wait began at
    the earlier of the two (none yet: the agent message measures it when it is written)."""
    connection.execute(_JOIN_WAIT, _timeline_place(message))


def _dialect_insert(connection: Connection) -> Any:
    return postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _intent_counted(connection: Connection, message: Message) -> None:
    """One more customer message of its intent in its hour's total."""
    table = IntentHour.__table__
    statement = _dialect_insert(connection)(table).values(
        hour=_hour(message.sent_at), channel=message.channel, intent=message.intent, messages=1
    )
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.hour, table.c.channel, table.c.intent],
            set_={"messages": table.c.messages + 1},
        )
    )


def _counted(connection: Connection, message: Message) -> None:
    """One more message in its hour's total: an atomic increment (ON CONFLICT … messages + 1)."""
    table = MessageHour.__table__
    label = message.sentiment_label if message.sentiment_label is not None else sentiment_label_of(message.sentiment)
    statement = _dialect_insert(connection)(table).values(
        hour=_hour(message.sent_at),
        channel=message.channel,
        author=message.author,
        sentiment=label or NO_SENTIMENT,
        messages=1,
    )
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.hour, table.c.channel, table.c.author, table.c.sentiment],
            set_={"messages": table.c.messages + 1},
        )
    )


# An answered message leaving (-1) or joining (+1) the AnswerHour total of (hour, channel, (fallback, past reply)).
AnswerMove = Tuple[datetime, str, Tuple[bool, bool], int]


def _count_answer(connection: Connection, hour: datetime, channel: str, kind: Tuple[bool, bool], step: int) -> None:
    table = AnswerHour.__table__
    statement = _dialect_insert(connection)(table).values(
        hour=hour,
        channel=channel,
        fallback=kind[0],
        past_reply=kind[1],
        messages=step,
    )
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.hour, table.c.channel, table.c.fallback, table.c.past_reply],
            set_={"messages": table.c.messages + step},
        )
    )


def _answered(connection: Connection, reply: Message) -> List[AnswerMove]:
    """A bot reply answers the message it names: that message's first reply is the earlier of the two, and a
    fallback or past reply among its replies marks it. The message's row is locked first (SELECT … FOR
    UPDATE; SQLite has one writer), so two replies to one message logged at once are merged one after the
    other (FOR NO KEY UPDATE: the replies' foreign keys hold KEY SHARE locks on it, which FOR UPDATE would
    wait for). When the message changes hour or kind, it moves from one AnswerHour total to the other: the
    moves are returned, for the caller to apply after its other locks."""
    question = connection.execute(
        select(Message.first_answer_at, Message.answered_by_fallback, Message.answered_from_past_reply, Message.channel)
        .where(Message.id == reply.in_reply_to_id)
        .with_for_update(key_share=True)
    ).first()
    if question is None:
        return []
    first, fallback, past_reply, channel = question
    kind = (bool(fallback), bool(past_reply))
    new_first = reply.sent_at if first is None or reply.sent_at < first else first
    new_kind = (kind[0] or reply.answer_source == FALLBACK, kind[1] or reply.answer_source == PAST_REPLY)
    if (new_first, new_kind) == (first, kind):
        return []
    connection.execute(
        update(Message)
        .where(Message.id == reply.in_reply_to_id)
        .values(first_answer_at=new_first, answered_by_fallback=new_kind[0], answered_from_past_reply=new_kind[1])
    )
    moves = [(_hour(new_first), channel, new_kind, 1)]
    return moves if first is None else [(_hour(first), channel, kind, -1), *moves]


def message_logged(connection: Connection, message: Message) -> None:
    """Every writer takes its locks in one order: the conversation's row, the answered message's row, the
    conversation's own rows (handoffs, products, its agent messages' waits), then the per-hour totals shared
    by all conversations (messages, intents, answers sorted). Two transactions therefore never wait for each
    other in a circle, and the shared totals are held only from the end of the flush to the commit."""
    if message.author == CUSTOMER:
        _conversation(
            connection, message.conversation_id, last_customer_at=later(Conversation.last_customer_at, message.sent_at)
        )
        _products_named(connection, message.conversation_id, named_products(message.entities), message.sent_at)
        if message.intent is not None:
            _intent_seen(connection, message.conversation_id, message.intent)
        _joins_wait(connection, message)
    elif message.author == BOT:
        _conversation(connection, message.conversation_id, last_bot_at=later(Conversation.last_bot_at, message.sent_at))
    elif message.author == AGENT:
        _conversation(
            connection, message.conversation_id, first_agent_at=earlier(Conversation.first_agent_at, message.sent_at)
        )
        _answers_handoffs(connection, message.conversation_id, message.sent_at)
        _answers_wait(connection, message)
    moves = _answered(connection, message) if message.author == BOT and message.in_reply_to_id is not None else []
    _counted(connection, message)
    if message.author == CUSTOMER and message.intent is not None:
        _intent_counted(connection, message)
    for hour, channel, kind, step in sorted(moves):
        _count_answer(connection, hour, channel, kind, step)


def first_agent_reply(escalation: Any) -> Any:
    """The first agent message at or after the handoff and not after its resolution: a scalar subquery
    over `escalation` (the ORM class or the table's columns)."""
    return (
        select(func.min(Message.sent_at))
        .where(
            Message.conversation_id == escalation.conversation_id,
            Message.author == AGENT,
            Message.sent_at >= escalation.created_at,
            or_(escalation.resolved_at.is_(None), Message.sent_at <= escalation.resolved_at),
        )
        .scalar_subquery()
    )


def _measure_first_response(connection: Connection, escalation_id: int) -> None:
    connection.execute(
        update(Escalation).where(Escalation.id == escalation_id).values(first_response_at=first_agent_reply(Escalation))
    )


def handoff_opened(connection: Connection, escalation: Escalation) -> None:
    _conversation(
        connection,
        escalation.conversation_id,
        first_handoff_at=earlier(Conversation.first_handoff_at, escalation.created_at),
    )
    _measure_first_response(connection, escalation.id)


def handoff_changed(connection: Connection, escalation: Escalation) -> None:
    """A handoff resolved (or re-dated): its first response is measured again against the new bounds, so an
    agent message after the resolution stops counting."""
    state = inspect(escalation)
    if not (state.attrs.resolved_at.history.has_changes() or state.attrs.created_at.history.has_changes()):
        return
    if state.attrs.created_at.history.has_changes():
        _conversation(
            connection,
            escalation.conversation_id,
            first_handoff_at=earlier(Conversation.first_handoff_at, escalation.created_at),
        )
    _measure_first_response(connection, escalation.id)


def conversation_changed(connection: Connection, conversation: Conversation) -> None:
    """The copies of the conversation's created_at and channel on its product rows follow the conversation:
    its channel is filled in when the row was created without one (conversations/projection.py), and
    created_at, which nothing moves today, would be followed too. Runs in the flush that updates the
    conversation's row, so under its row lock, first in the lock order."""
    state = inspect(conversation)
    if not (state.attrs.channel.history.has_changes() or state.attrs.created_at.history.has_changes()):
        return
    connection.execute(
        update(ConversationProduct)
        .where(ConversationProduct.conversation_id == conversation.id)
        .values(conversation_created_at=conversation.created_at, channel=conversation.channel)
    )


def answer_rated(connection: Connection, feedback: AnswerFeedback) -> None:
    flag = "thumbs_up" if feedback.helpful else "thumbs_down"
    _conversation(connection, feedback.conversation_id, **{flag: true()})


def content_event_logged(connection: Connection, content_event: ContentEvent) -> None:
    """A recommendation's first open kept on its impression (`ContentImpression.opened_at`, the earlier of two
    opens whatever their order), so the open rate reads a period's impressions and never the events."""
    if content_event.kind != OPEN or content_event.impression_id is None:
        return
    connection.execute(
        update(ContentImpression)
        .where(ContentImpression.id == content_event.impression_id)
        .values(opened_at=earlier(ContentImpression.opened_at, content_event.at))
    )


@event.listens_for(Message, "after_insert")
def _on_message(_mapper: Any, connection: Connection, message: Message) -> None:
    message_logged(connection, message)


@event.listens_for(Escalation, "after_insert")
def _on_handoff(_mapper: Any, connection: Connection, escalation: Escalation) -> None:
    handoff_opened(connection, escalation)


@event.listens_for(Escalation, "after_update")
def _on_handoff_change(_mapper: Any, connection: Connection, escalation: Escalation) -> None:
    handoff_changed(connection, escalation)


@event.listens_for(Conversation, "after_update")
def _on_conversation_change(_mapper: Any, connection: Connection, conversation: Conversation) -> None:
    conversation_changed(connection, conversation)


@event.listens_for(AnswerFeedback, "after_insert")
def _on_rating(_mapper: Any, connection: Connection, feedback: AnswerFeedback) -> None:
    answer_rated(connection, feedback)


@event.listens_for(ContentEvent, "after_insert")
def _on_content_event(_mapper: Any, connection: Connection, content_event: ContentEvent) -> None:
    content_event_logged(connection, content_event)


# -- the whole log at once ----------------------------------------------------------------------------------

_PRODUCTS_SQLITE = """
INSERT INTO conversation_products (conversation_id, product, first_named_at, last_named_at, conversation_created_at,
    channel)
SELECT m.conversation_id, json_extract(e.value, '$.value'), min(m.sent_at), max(m.sent_at), c.created_at, c.channel
FROM messages AS m JOIN conversations AS c ON c.id = m.conversation_id,
     json_each(CASE WHEN json_type(m.entities) = 'array' THEN m.entities ELSE '[]' END) AS e
WHERE m.author = 'customer' AND json_extract(e.value, '$.entity') = 'product'
  AND json_type(e.value, '$.value') = 'text'
GROUP BY m.conversation_id, json_extract(e.value, '$.value'), c.created_at, c.channel
"""
_PRODUCTS_POSTGRESQL = """
INSERT INTO conversation_products (conversation_id, product, first_named_at, last_named_at, conversation_created_at,
    channel)
SELECT m.conversation_id, e.value ->> 'value', min(m.sent_at), max(m.sent_at), c.created_at, c.channel
FROM messages AS m JOIN conversations AS c ON c.id = m.conversation_id CROSS JOIN LATERAL json_array_elements(
    CASE WHEN json_typeof(m.entities) = 'array' THEN m.entities ELSE '[]'::json END
) AS e(value)
WHERE m.author = 'customer' AND e.value ->> 'entity' = 'product' AND json_typeof(e.value -> 'value') = 'string'
GROUP BY m.conversation_id, e.value ->> 'value', c.created_at, c.channel
"""
_CONVERSATIONS = """
UPDATE conversations SET
    last_customer_at = s.last_customer_at, last_bot_at = s.last_bot_at, first_agent_at = s.first_agent_at
FROM (
    SELECT conversation_id,
           max(CASE WHEN author = 'customer' THEN sent_at END) AS last_customer_at,
           max(CASE WHEN author = 'bot' THEN sent_at END) AS last_bot_at,
           min(CASE WHEN author = 'agent' THEN sent_at END) AS first_agent_at
    FROM messages GROUP BY conversation_id
) AS s
WHERE conversations.id = s.conversation_id
"""
_HANDOFFS = """
UPDATE conversations SET first_handoff_at = s.first_handoff_at
FROM (SELECT conversation_id, min(created_at) AS first_handoff_at FROM escalations GROUP BY conversation_id) AS s
WHERE conversations.id = s.conversation_id
"""
_RATINGS = """
UPDATE conversations SET thumbs_up = s.up, thumbs_down = s.down
FROM (
    SELECT conversation_id, max(CASE WHEN helpful THEN 1 ELSE 0 END) = 1 AS up,
           max(CASE WHEN helpful THEN 0 ELSE 1 END) = 1 AS down
    FROM answer_feedback GROUP BY conversation_id
) AS s
WHERE conversations.id = s.conversation_id
"""
_FIRST_RESPONSES = """
UPDATE escalations SET first_response_at = (
    SELECT min(m.sent_at) FROM messages AS m
    WHERE m.conversation_id = escalations.conversation_id AND m.author = 'agent'
      AND m.sent_at >= escalations.created_at
      AND (escalations.resolved_at IS NULL OR m.sent_at <= escalations.resolved_at)
)
"""
# Per agent message: the agents before it in the timeline (sent_at, id) give its previous one's sent_at; its
# wait is the first customer message with as many agent messages before it (after that previous one).
_WAITS = """
UPDATE messages SET previous_agent_at = w.previous_agent_at, waiting_since = w.waiting_since
FROM (
    SELECT id, author, previous_agent_at,
           min(CASE WHEN author = 'customer' THEN sent_at END)
               OVER (PARTITION BY conversation_id, agents_before) AS waiting_since
    FROM (
        SELECT id, conversation_id, author, sent_at,
               count(CASE WHEN author = 'agent' THEN 1 END) OVER timeline AS agents_before,
               max(CASE WHEN author = 'agent' THEN sent_at END) OVER timeline AS previous_agent_at
        FROM messages WHERE author IN ('customer', 'agent')
        WINDOW timeline AS (
            PARTITION BY conversation_id ORDER BY sent_at, id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        )
    ) AS t
) AS w
WHERE messages.id = w.id AND w.author = 'agent'
"""
_HOURS_SQLITE = """
INSERT INTO message_hours (hour, channel, author, sentiment, messages)
SELECT strftime('%Y-%m-%d %H:00:00.000000', sent_at), channel, author, coalesce(sentiment_label, 'unknown'), count(*)
FROM messages GROUP BY 1, 2, 3, 4
"""
_HOURS_POSTGRESQL = """
INSERT INTO message_hours (hour, channel, author, sentiment, messages)
SELECT date_trunc('hour', sent_at), channel, author, coalesce(sentiment_label, 'unknown'), count(*)
FROM messages GROUP BY 1, 2, 3, 4
"""
_INTENTS = """
INSERT INTO conversation_intents (conversation_id, intent)
SELECT DISTINCT conversation_id, intent FROM messages WHERE author = 'customer' AND intent IS NOT NULL
"""
_INTENT_HOURS_SQLITE = """
INSERT INTO intent_hours (hour, channel, intent, messages)
SELECT strftime('%Y-%m-%d %H:00:00.000000', sent_at), channel, intent, count(*)
FROM messages WHERE author = 'customer' AND intent IS NOT NULL GROUP BY 1, 2, 3
"""
_INTENT_HOURS_POSTGRESQL = """
INSERT INTO intent_hours (hour, channel, intent, messages)
SELECT date_trunc('hour', sent_at), channel, intent, count(*)
FROM messages WHERE author = 'customer' AND intent IS NOT NULL GROUP BY 1, 2, 3
"""
# migration 0024's backfill, the same statement
_IMPRESSION_OPENS = """
UPDATE content_impressions SET opened_at = (
    SELECT min(e.at) FROM content_events AS e WHERE e.impression_id = content_impressions.id AND e.kind = 'open'
)
WHERE EXISTS (
    SELECT 1 FROM content_events AS e WHERE e.impression_id = content_impressions.id AND e.kind = 'open'
)
"""
_ANSWERS = """
UPDATE messages SET first_answer_at = s.first_answer_at, answered_by_fallback = s.fallback,
    answered_from_past_reply = s.past_reply
FROM (
    SELECT in_reply_to_id AS id, min(sent_at) AS first_answer_at,
           max(CASE WHEN answer_source = 'fallback' THEN 1 ELSE 0 END) = 1 AS fallback,
           max(CASE WHEN answer_source = 'retrieval' THEN 1 ELSE 0 END) = 1 AS past_reply
    FROM messages WHERE author = 'bot' AND in_reply_to_id IS NOT NULL GROUP BY in_reply_to_id
) AS s
WHERE messages.id = s.id
"""
_ANSWER_HOURS_SQLITE = """
INSERT INTO answer_hours (hour, channel, fallback, past_reply, messages)
SELECT strftime('%Y-%m-%d %H:00:00.000000', first_answer_at), channel, answered_by_fallback,
       answered_from_past_reply, count(*)
FROM messages WHERE first_answer_at IS NOT NULL GROUP BY 1, 2, 3, 4
"""
_ANSWER_HOURS_POSTGRESQL = """
INSERT INTO answer_hours (hour, channel, fallback, past_reply, messages)
SELECT date_trunc('hour', first_answer_at), channel, answered_by_fallback, answered_from_past_reply, count(*)
FROM messages WHERE first_answer_at IS NOT NULL GROUP BY 1, 2, 3, 4
"""
_SENTIMENT_SQLITE = "UPDATE messages SET sentiment_label = json_extract(sentiment, '$.label') " + (
    "WHERE json_type(sentiment, '$.label') = 'text'"
)
_SENTIMENT_POSTGRESQL = (
    "UPDATE messages SET sentiment_label = sentiment ->> 'label' WHERE json_typeof(sentiment -> 'label') = 'string'"
)


def backfill(connection: Connection) -> None:
    """The summary computed from the whole log, for rows written without the mapper events (before migration
    0017, or by a SQL script): the same values the events would have left. Expects the summary empty."""
    postgres = connection.dialect.name == "postgresql"
    for statement in (
        _SENTIMENT_POSTGRESQL if postgres else _SENTIMENT_SQLITE,
        _CONVERSATIONS,
        _HANDOFFS,
        _RATINGS,
        _FIRST_RESPONSES,
        _WAITS,
        _PRODUCTS_POSTGRESQL if postgres else _PRODUCTS_SQLITE,
        _HOURS_POSTGRESQL if postgres else _HOURS_SQLITE,
        _INTENTS,
        _INTENT_HOURS_POSTGRESQL if postgres else _INTENT_HOURS_SQLITE,
        _ANSWERS,
        _ANSWER_HOURS_POSTGRESQL if postgres else _ANSWER_HOURS_SQLITE,
        _IMPRESSION_OPENS,
    ):
        connection.execute(text(statement))
