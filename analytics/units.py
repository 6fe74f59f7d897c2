"""The rows each metric counts, one SELECT per metric, all with the same shape: `conversation_id`, `at` (the
naive UTC time that puts the row in a bucket) and the metric's own columns (`hit` for a rate's numerator,
`category` for a breakdown, `start`/`stop` for a duration).

The metrics aggregate these rows by bucket in SQL (analytics/metrics.py); the drill-down lists the
conversations of the same rows inside one bucket (analytics/drilldown.py). One definition serves both, so a
point on a chart and the list behind it cannot disagree. docs/analytics.md says why each row counts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Mapping, Optional, Tuple

from sqlalchemy import Integer, String, and_, case, exists, func, literal, or_, select
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from analytics.aggregate import timed
from analytics.business_hours import BusinessHours
from analytics.filters import MetricFilter
from analytics.periods import on_whole_hours
from analytics.scope import (
    AGENT,
    BOT,
    CUSTOMER,
    PRODUCT_LOOKBACK,
    conversation_intents,
    conversation_products,
    conversation_scope,
)
from conversations.answers import AnswerSource
from storage.models import (
    AnswerFeedback,
    AnswerHour,
    ContentImpression,
    Conversation,
    ConversationProduct,
    Escalation,
    IntentHour,
    Message,
    MessageHour,
)

Window = Tuple[datetime, datetime]  # [start, end) naive UTC

# A bot answer with no customer message after it for this long ended the conversation (bot resolution).
SILENCE = timedelta(hours=24)
# A conversation row is created when its first message is stored, a moment after the message was sent; its
# messages, handoffs and ratings are looked for from this long before the conversation's window.
LOG_LAG = timedelta(hours=1)
CALENDAR_LEAD = timedelta(days=7)  # how long before the period a wait measured in it may have begun
TAKEN_OVER = "taken_over"  # the handoff "reason" of a conversation an agent took over without an escalation


def _flag(condition: ColumnElement) -> ColumnElement:
    return case((condition, 1), else_=0)


def _within(column: Any, window: Window) -> ColumnElement:
    return and_(column >= window[0], column < window[1])


def _where(query: Select, *clauses: Any) -> Select:
    return query.where(*clauses) if clauses else query


# -- volumes -------------------------------------------------------------------------------------------


def conversation_rows(filt: MetricFilter, dialect: str, window: Window, by: Optional[str] = None) -> Select:
    """Conversations started in the window (`Conversation.created_at`, first sight of the customer)."""
    query = select(Conversation.id.label("conversation_id"), Conversation.created_at.label("at"))
    if by == "channel":
        query = query.add_columns(Conversation.channel.label("category"))
    elif by == "intent":
        intents = conversation_intents()
        query = query.add_columns(intents.c.intent.label("category")).join(
            intents, intents.c.conversation_id == Conversation.id
        )
    elif by == "product":
        return _conversations_by_product(filt, dialect, window)
    elif by is not None:
        raise ValueError(f"conversations are broken down by channel, intent or product, not {by!r}")
    scope = conversation_scope(Conversation.id, Conversation.channel, filt, dialect, window)
    return _where(query.where(_within(Conversation.created_at, window)), *scope)


def _conversations_by_product(filt: MetricFilter, dialect: str, window: Window) -> Select:
    """`conversation_rows` by product, from the summary's product rows alone: each keeps its conversation's
    created_at and channel (storage/summary.py), so the rows are one range of their index on the start, not
    a join of the product rows with every conversation (340 ms p50 over 1,000,000 messages, 92 days by week).
    The products named since PRODUCT_LOOKBACK before the window, as `conversation_products` reads them."""
    named = ConversationProduct
    query = select(
        named.conversation_id.label("conversation_id"),
        named.conversation_created_at.label("at"),
        named.product.label("category"),
    ).where(_within(named.conversation_created_at, window), named.last_named_at >= window[0] - PRODUCT_LOOKBACK)
    return _where(query, *conversation_scope(named.conversation_id, named.channel, filt, dialect, window))


def hourly_totals_serve(filt: MetricFilter, by: Optional[str] = None) -> bool:
    """Whether the per-hour totals (storage.models.MessageHour) can stand for the messages: broken down by
    nothing, channel or author (sentiment: by its label), filtered by channel only, in a zone whose local
    hours are whole UTC hours. A product or intent filter, or an intent or product breakdown, reads the rows."""
    start, end = filt.window_utc
    plain = by in (None, "channel", "author") and not filt.product and not filt.intent
    return plain and on_whole_hours(start, end, filt.zone)


def intent_totals_serve(filt: MetricFilter, by: Optional[str] = None) -> bool:
    """Whether the per-hour intent totals (storage.models.IntentHour) can stand for the customer messages:
    messages by intent, or of one intent (with no breakdown or by channel), without a product filter, in a
    zone whose local hours are whole UTC hours."""
    start, end = filt.window_utc
    wanted = by == "intent" or (bool(filt.intent) and by in (None, "channel"))
    return wanted and not filt.product and on_whole_hours(start, end, filt.zone)


def intent_hour_rows(filt: MetricFilter, window: Window, by: Optional[str] = None) -> Select:
    """`message_rows` of customer messages with an intent, added up per hour (`weight`), per channel and
    intent, where `intent_totals_serve` says they agree."""
    query = select(IntentHour.hour.label("at"), IntentHour.messages.label("weight"))
    if by in ("channel", "intent"):
        query = query.add_columns(getattr(IntentHour, by).label("category"))
    query = query.where(_within(IntentHour.hour, window))
    if filt.channel:
        query = query.where(IntentHour.channel == filt.channel)
    return query.where(IntentHour.intent == filt.intent) if filt.intent else query


def message_hour_rows(filt: MetricFilter, window: Window, by: Optional[str] = None) -> Select:
    """The hours of the window with the messages sent in them (`weight`), per channel, author and sentiment:
    `message_rows` added up per hour by storage/summary.py, where `hourly_totals_serve` says they agree."""
    query = select(MessageHour.hour.label("at"), MessageHour.messages.label("weight"))
    if by in ("channel", "author"):
        query = query.add_columns(getattr(MessageHour, by).label("category"))
    query = query.where(_within(MessageHour.hour, window))
    return query.where(MessageHour.channel == filt.channel) if filt.channel else query


def sentiment_hour_rows(filt: MetricFilter, window: Window) -> Select:
    """`sentiment_rows` added up per hour: customer messages per sentiment label (`unknown`: none)."""
    query = message_hour_rows(filt, window).add_columns(MessageHour.sentiment.label("category"))
    return query.where(MessageHour.author == CUSTOMER)


def message_rows(filt: MetricFilter, dialect: str, window: Window, by: Optional[str] = None) -> Select:
    """Messages sent in the window, the customer's and the replies; with an intent filter, only the customer
    messages the model gave that intent."""
    query = select(Message.conversation_id.label("conversation_id"), Message.sent_at.label("at"))
    if by in ("channel", "author"):
        query = query.add_columns(getattr(Message, by).label("category"))
    elif by == "intent":
        query = query.add_columns(Message.intent.label("category")).where(
            Message.author == CUSTOMER, Message.intent.isnot(None)
        )
    elif by == "product":
        products = conversation_products(dialect, window)
        query = query.add_columns(products.c.product.label("category")).join(
            products, products.c.conversation_id == Message.conversation_id
        )
    elif by is not None:
        raise ValueError(f"messages are broken down by channel, author, intent or product, not {by!r}")
    scope = conversation_scope(Message.conversation_id, Message.channel, filt, dialect, window, intent_here=False)
    if filt.intent:
        scope.append(and_(Message.author == CUSTOMER, Message.intent == filt.intent))
    return _where(query.where(_within(Message.sent_at, window)), *scope)


# -- what the bot did with a conversation ----------------------------------------------------------------


def _started_in(window: Window) -> Any:
    return select(Conversation.id).where(_within(Conversation.created_at, window))


def _since(window: Window) -> datetime:
    """Messages (and handoffs, ratings) never precede their conversation, so only rows since the window
    began, less LOG_LAG, are read for the conversations started in it."""
    return window[0] - LOG_LAG


# What the bot and people did with a conversation is its summary (storage/summary.py, kept with every message,
# handoff and rating): columns of the conversation, in the index on created_at, not a grouping of the log.
BOT_SPOKE = Conversation.last_bot_at.isnot(None)
AGENT_WROTE = Conversation.first_agent_at.isnot(None)
# No handoff and no agent message: an agent's take-over without the bot's handoff is a handoff too.
CONTAINED = and_(Conversation.first_handoff_at.is_(None), Conversation.first_agent_at.is_(None))


def _handoff_reasons(window: Window) -> Any:
    return (
        select(Escalation.conversation_id.label("conversation_id"), Escalation.reason.label("reason"))
        .where(Escalation.created_at >= _since(window), Escalation.conversation_id.in_(_started_in(window)))
        .distinct()
        .subquery("handoffs")
    )


def _bot_conversations(filt: MetricFilter, dialect: str, window: Window, *columns: Any) -> Select:
    query = select(Conversation.id.label("conversation_id"), Conversation.created_at.label("at"), *columns).where(
        _within(Conversation.created_at, window), BOT_SPOKE
    )
    return _where(query, *conversation_scope(Conversation.id, Conversation.channel, filt, dialect, window))


def bot_conversation_rows(filt: MetricFilter, dialect: str, window: Window) -> Select:
    """Conversations started in the window that the bot answered at least once: containment's denominator.
    `hit`: contained; `escalated`: the bot handed it over (the rest of the misses an agent took over)."""
    escalated = _flag(Conversation.first_handoff_at.isnot(None)).label("escalated")
    return _bot_conversations(filt, dialect, window, _flag(CONTAINED).label("hit"), escalated)


def bot_resolution_rows(filt: MetricFilter, dialect: str, window: Window, as_of: datetime) -> Select:
    """The bot conversations again; `hit`: resolved by the bot. Contained (so a handoff always wins) and
    either a 👍 on an answer, or no 👎 and the bot had the last word at least 24 h before `as_of`."""
    last_bot, last_customer = Conversation.last_bot_at, Conversation.last_customer_at
    silent = and_(
        Conversation.thumbs_down.is_(False),
        or_(last_customer.is_(None), last_bot >= last_customer),
        last_bot <= as_of - SILENCE,
    )
    resolved = and_(CONTAINED, or_(Conversation.thumbs_up.is_(True), silent))
    return _bot_conversations(filt, dialect, window, _flag(resolved).label("hit"))


def handoff_rows(filt: MetricFilter, dialect: str, window: Window) -> Select:
    """The bot conversations, once per handoff reason they had (`category`; NULL: none). An agent's take-over
    without an escalation is the reason `taken_over`."""
    handoffs = _handoff_reasons(window)
    taken_over = case((AGENT_WROTE, literal(TAKEN_OVER, String)))
    category = func.coalesce(handoffs.c.reason, taken_over).label("category")
    return _bot_conversations(filt, dialect, window, category).outerjoin(
        handoffs, handoffs.c.conversation_id == Conversation.id
    )


def handoff_reason_rows(filt: MetricFilter, dialect: str, window: Window) -> Select:
    """Bot conversations started in the window that were handed over, once per reason (`category`): the
    escalations alone, a far smaller read than every message (`handoff_rows` adds the take-overs)."""
    since = _since(window)
    query = (
        select(
            Conversation.id.label("conversation_id"),
            Conversation.created_at.label("at"),
            Escalation.reason.label("category"),
        )
        .join(Escalation, Escalation.conversation_id == Conversation.id)
        .where(_within(Conversation.created_at, window), Escalation.created_at >= since, BOT_SPOKE)
        .distinct()
    )
    return _where(query, *conversation_scope(Conversation.id, Conversation.channel, filt, dialect, window))


# -- people's response times ----------------------------------------------------------------------------


def _escalation_scope(filt: MetricFilter, dialect: str, window: Window) -> list:
    return conversation_scope(Escalation.conversation_id, Conversation.channel, filt, dialect, window)


def first_response_rows(filt: MetricFilter, dialect: str, window: Window) -> Select:
    """Handoffs made in the window; `start` the handoff, `stop` its first agent message at or after it and not
    after it closed (NULL: none yet), which the handoff's row keeps (storage/summary.py). Bot messages never
    count."""
    query = select(
        Escalation.id.label("id"),
        Escalation.conversation_id.label("conversation_id"),
        Escalation.created_at.label("at"),
        Escalation.created_at.label("start"),
        Escalation.first_response_at.label("stop"),
        Escalation.priority.label("priority"),
    ).where(_within(Escalation.created_at, window))
    if filt.channel:
        query = query.join(Conversation, Conversation.id == Escalation.conversation_id)
    return _where(query, *_escalation_scope(filt, dialect, window))


def sla_rows(
    filt: MetricFilter, dialect: str, window: Window, as_of: datetime, sla_minutes: Mapping[int, int]
) -> Select:
    """Handoffs made in the window, measured up to the first agent reply or, still waiting, `as_of`;
    `due` the seconds the SLA of their priority allows (INBOX_SLA_MINUTES), `answered` 0/1."""
    first = first_response_rows(filt, dialect, window).subquery("handoffs")
    longest = max(sla_minutes.values()) * 60
    due = case(
        *[(first.c.priority == priority, literal(minutes * 60, Integer)) for priority, minutes in sla_minutes.items()],
        else_=literal(longest, Integer),
    )
    return select(
        first.c.id,
        first.c.conversation_id,
        first.c.at,
        first.c.start,
        func.coalesce(first.c.stop, as_of).label("stop"),
        _flag(first.c.stop.isnot(None)).label("answered"),
        due.label("due"),
    )


def sla_decided_rows(
    filt: MetricFilter,
    dialect: str,
    window: Window,
    as_of: datetime,
    sla_minutes: Mapping[int, int],
    hours: Optional[BusinessHours],
) -> Select:
    """Handoffs made in the window whose SLA is decided: answered, or still waiting past it. `hit`: answered
    within it. With `hours`, the clock runs in business time only."""
    calendar_window = (window[0] - CALENDAR_LEAD, max(window[1], as_of))
    measured = timed(sla_rows(filt, dialect, window, as_of, sla_minutes), dialect, hours, calendar_window)
    rows = measured.subquery("sla")
    met = and_(rows.c.answered == 1, rows.c.seconds <= rows.c.due)
    return select(rows.c.conversation_id, rows.c.at, _flag(met).label("hit")).where(
        or_(rows.c.answered == 1, rows.c.seconds > rows.c.due)
    )


def reply_rows(filt: MetricFilter, dialect: str, window: Window) -> Select:
    """Agent replies sent in the window that answer a customer who wrote after the previous agent reply,
    except the first reply of a handoff (first response time). `start` the customer's first message since
    that previous reply (Chatwoot's "waiting since"), `stop` the reply. A reply whose previous one is more
    than CALENDAR_LEAD before the window is not measured (the wait may be older than the lead).

    Each agent message keeps its previous reply and its wait (storage/summary.py, in the timeline's
    (sent_at, id) order), so the replies are one range of the partial index ix_messages_agent_waits. (Two
    window functions over the timeline of every conversation an agent wrote in read ~570,000 messages over
    1,000,000, 92 days by week: 512 ms p50.)"""
    new_handoff = exists().where(
        Escalation.conversation_id == Message.conversation_id,
        Escalation.created_at > Message.previous_agent_at,
        Escalation.created_at <= Message.sent_at,
    )
    query = select(
        Message.id.label("id"),
        Message.conversation_id.label("conversation_id"),
        Message.sent_at.label("at"),
        Message.waiting_since.label("start"),
        Message.sent_at.label("stop"),
    ).where(
        Message.author == AGENT,
        Message.previous_agent_at.isnot(None),
        Message.waiting_since.isnot(None),
        Message.previous_agent_at >= window[0] - CALENDAR_LEAD,
        _within(Message.sent_at, window),
        ~new_handoff,
    )
    if filt.channel:
        query = query.join(Conversation, Conversation.id == Message.conversation_id)
    return _where(query, *conversation_scope(Message.conversation_id, Conversation.channel, filt, dialect, window))


def resolution_rows(filt: MetricFilter, dialect: str, window: Window) -> Select:
    """Handoffs an agent resolved in the window (handed back to the bot: not resolved by people);
    `start` the handoff, `stop` the resolution."""
    query = (
        select(
            Escalation.id.label("id"),
            Escalation.conversation_id.label("conversation_id"),
            Escalation.resolved_at.label("at"),
            Escalation.created_at.label("start"),
            Escalation.resolved_at.label("stop"),
        )
        .join(Conversation, Conversation.id == Escalation.conversation_id)
        .where(Escalation.outcome == "resolved", _within(Escalation.resolved_at, window))
    )
    return _where(query, *_escalation_scope(filt, dialect, window))


# -- answers and how customers took them ----------------------------------------------------------------


def feedback_rows(filt: MetricFilter, dialect: str, window: Window) -> Select:
    """Every 👍/👎 given in the window (`hit`: 👍): CSAT until the 1-5 survey exists."""
    query = (
        select(
            AnswerFeedback.conversation_id.label("conversation_id"),
            AnswerFeedback.created_at.label("at"),
            _flag(AnswerFeedback.helpful.is_(True)).label("hit"),
        )
        .join(Conversation, Conversation.id == AnswerFeedback.conversation_id)
        .where(_within(AnswerFeedback.created_at, window))
    )
    return _where(
        query, *conversation_scope(AnswerFeedback.conversation_id, Conversation.channel, filt, dialect, window)
    )


def _answered_by(source: AnswerSource) -> Tuple[Any, Any]:
    """The flags, on the answered message and in AnswerHour, of the replies from `source`."""
    if source is AnswerSource.FALLBACK:
        return Message.answered_by_fallback, AnswerHour.fallback
    if source is AnswerSource.RETRIEVAL:
        return Message.answered_from_past_reply, AnswerHour.past_reply
    raise ValueError(f"the answered messages are counted by fallback or retrieval, not {source.value!r}")


def answered_rows(filt: MetricFilter, dialect: str, window: Window, source: AnswerSource) -> Select:
    """Customer messages the bot replied to, by the time of the bot's first reply; `hit`: one of the replies
    came from `source` (fallback: the bot did not understand; retrieval: a past reply answered). Each
    message carries both (storage/summary.py keeps them as replies are logged), so a message answered by
    several replies is one row, read from the partial index of answered messages."""
    flag, _ = _answered_by(source)
    query = select(
        Message.conversation_id.label("conversation_id"),
        Message.first_answer_at.label("at"),
        _flag(flag.is_(True)).label("hit"),
    ).where(_within(Message.first_answer_at, window))
    if filt.intent:
        query = query.where(Message.intent == filt.intent)
    scope = conversation_scope(Message.conversation_id, Message.channel, filt, dialect, window, intent_here=False)
    return _where(query, *scope)


def answer_hour_rows(filt: MetricFilter, window: Window, source: AnswerSource) -> Select:
    """`answered_rows` added up per hour (AnswerHour): `weight` messages, `hit` whether they count for
    `source`; where `hourly_totals_serve` says they agree."""
    _, flag = _answered_by(source)
    query = select(
        AnswerHour.hour.label("at"), AnswerHour.messages.label("weight"), _flag(flag.is_(True)).label("hit")
    ).where(_within(AnswerHour.hour, window))
    return query.where(AnswerHour.channel == filt.channel) if filt.channel else query


def past_reply_feedback_rows(filt: MetricFilter, dialect: str, window: Window) -> Select:
    """Past-reply answers sent in the window that the customer rated; `hit`: rated 👍. A rating follows its
    answer, so only the ratings given since the window began (less LOG_LAG) are grouped, not every one."""
    rated = (
        select(
            AnswerFeedback.message_id.label("message_id"),
            func.max(_flag(AnswerFeedback.helpful.is_(True))).label("hit"),
        )
        .where(AnswerFeedback.message_id.isnot(None), AnswerFeedback.created_at >= _since(window))
        .group_by(AnswerFeedback.message_id)
        .subquery("rated")
    )
    query = (
        select(Message.conversation_id.label("conversation_id"), Message.sent_at.label("at"), rated.c.hit)
        .join(rated, rated.c.message_id == Message.id)
        .where(
            Message.author == BOT,
            Message.answer_source == AnswerSource.RETRIEVAL.value,
            _within(Message.sent_at, window),
        )
    )
    return _where(query, *conversation_scope(Message.conversation_id, Message.channel, filt, dialect, window))


def recommendation_open_rows(filt: MetricFilter, dialect: str, window: Window) -> Select:
    """Recommendations shown in the window, one row per impression, by when it was shown; `hit`: the customer
    opened it through its tracked link (an item shown again in the same conversation is the same impression).
    A dismissal is not an open; an open is counted once however often the link is followed."""
    # the first open is kept on the impression (storage/summary.py): over 92 days an EXISTS probe per impression
    # took 300 ms p95 and a join of the period's opens 267 (benchmarks/results/analytics.md)
    query = select(
        ContentImpression.conversation_id.label("conversation_id"),
        ContentImpression.shown_at.label("at"),
        _flag(ContentImpression.opened_at.isnot(None)).label("hit"),
    ).where(_within(ContentImpression.shown_at, window))
    scope = conversation_scope(ContentImpression.conversation_id, ContentImpression.channel, filt, dialect, window)
    return _where(query, *scope)


def sentiment_rows(filt: MetricFilter, dialect: str, window: Window) -> Select:
    """Customer messages sent in the window, by the sentiment the model gave them (`unknown`: none)."""
    label = func.coalesce(Message.sentiment_label, "unknown")
    query = select(
        Message.conversation_id.label("conversation_id"), Message.sent_at.label("at"), label.label("category")
    ).where(Message.author == CUSTOMER, _within(Message.sent_at, window))
    scope = conversation_scope(Message.conversation_id, Message.channel, filt, dialect, window, intent_here=False)
    if filt.intent:
        scope.append(Message.intent == filt.intent)
    return _where(query, *scope)
