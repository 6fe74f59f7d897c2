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

from sqlalchemy import Integer, String, and_, case, exists, func, literal, or_, select, union_all
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from analytics.aggregate import timed
from analytics.business_hours import BusinessHours
from analytics.filters import MetricFilter
from analytics.scope import (
    AGENT,
    BOT,
    CUSTOMER,
    conversation_intents,
    conversation_products,
    conversation_scope,
)
from conversations.answers import AnswerSource
from storage.models import AnswerFeedback, Conversation, Escalation, Message

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
        products = conversation_products(dialect, window)
        query = query.add_columns(products.c.product.label("category")).join(
            products, products.c.conversation_id == Conversation.id
        )
    elif by is not None:
        raise ValueError(f"conversations are broken down by channel, intent or product, not {by!r}")
    scope = conversation_scope(Conversation.id, Conversation.channel, filt, dialect, window)
    return _where(query.where(_within(Conversation.created_at, window)), *scope)


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


def _bot_spoke(window: Window) -> ColumnElement:
    """The conversation got a bot reply: a semi-join on the bot's messages of the period (an index range
    on messages (author, sent_at)), not a grouping of every message."""
    bot_said = select(Message.conversation_id).where(Message.author == BOT, Message.sent_at >= _since(window))
    return Conversation.id.in_(bot_said)


def _agent_wrote(window: Window) -> ColumnElement:
    agents_said = select(Message.conversation_id).where(Message.author == AGENT, Message.sent_at >= _since(window))
    return Conversation.id.in_(agents_said)


def _contained(window: Window) -> ColumnElement:
    """No handoff and no agent message: an agent's take-over without the bot's handoff is a handoff too.
    One hashed set of the period's handed-over conversations (agents' messages and escalations, both few)
    rather than a look-up per conversation."""
    handed = union_all(
        select(Message.conversation_id).where(Message.author == AGENT, Message.sent_at >= _since(window)),
        select(Escalation.conversation_id).where(Escalation.created_at >= _since(window)),
    )
    return ~Conversation.id.in_(handed)


def _last_words(window: Window) -> Any:
    """Per conversation started in the window, grouped once in SQL: its last bot and last customer
    message (bot resolution's silence). Only those two authors' rows are read."""
    return (
        select(
            Message.conversation_id.label("conversation_id"),
            func.max(case((Message.author == BOT, Message.sent_at))).label("last_bot"),
            func.max(case((Message.author == CUSTOMER, Message.sent_at))).label("last_customer"),
        )
        .where(
            Message.author.in_([BOT, CUSTOMER]),
            Message.sent_at >= _since(window),
            Message.conversation_id.in_(_started_in(window)),
        )
        .group_by(Message.conversation_id)
        .subquery("said")
    )


def _handoff_reasons(window: Window) -> Any:
    return (
        select(Escalation.conversation_id.label("conversation_id"), Escalation.reason.label("reason"))
        .where(Escalation.created_at >= _since(window), Escalation.conversation_id.in_(_started_in(window)))
        .distinct()
        .subquery("handoffs")
    )


def _ratings(window: Window) -> Any:
    """Per conversation: whether it got a 👍 (`up`) and a 👎 (`down`)."""
    return (
        select(
            AnswerFeedback.conversation_id.label("conversation_id"),
            func.max(_flag(AnswerFeedback.helpful.is_(True))).label("up"),
            func.max(_flag(AnswerFeedback.helpful.is_(False))).label("down"),
        )
        .where(
            AnswerFeedback.created_at >= _since(window),
            AnswerFeedback.conversation_id.in_(_started_in(window)),
        )
        .group_by(AnswerFeedback.conversation_id)
        .subquery("rated")
    )


def _bot_conversations(filt: MetricFilter, dialect: str, window: Window, *columns: Any) -> Select:
    query = select(Conversation.id.label("conversation_id"), Conversation.created_at.label("at"), *columns).where(
        _within(Conversation.created_at, window), _bot_spoke(window)
    )
    return _where(query, *conversation_scope(Conversation.id, Conversation.channel, filt, dialect, window))


def bot_conversation_rows(filt: MetricFilter, dialect: str, window: Window) -> Select:
    """Conversations started in the window that the bot answered at least once: containment's denominator.
    `hit`: contained."""
    return _bot_conversations(filt, dialect, window, _flag(_contained(window)).label("hit"))


def bot_resolution_rows(filt: MetricFilter, dialect: str, window: Window, as_of: datetime) -> Select:
    """The bot conversations again; `hit`: resolved by the bot. Contained (so a handoff always wins) and
    either a 👍 on an answer, or no 👎 and the bot had the last word at least 24 h before `as_of`."""
    said = _last_words(window)
    rated = _ratings(window)
    up, down = func.coalesce(rated.c.up, 0), func.coalesce(rated.c.down, 0)
    silent = and_(
        down == 0,
        or_(said.c.last_customer.is_(None), said.c.last_bot >= said.c.last_customer),
        said.c.last_bot <= as_of - SILENCE,
    )
    resolved = and_(_contained(window), or_(up == 1, silent))
    query = (
        select(Conversation.id.label("conversation_id"), Conversation.created_at.label("at"))
        .add_columns(_flag(resolved).label("hit"))
        .join(said, said.c.conversation_id == Conversation.id)
        .outerjoin(rated, rated.c.conversation_id == Conversation.id)
        .where(_within(Conversation.created_at, window), said.c.last_bot.isnot(None))
    )  # the grouped last words say whether the bot spoke: no second semi-join on its messages
    return _where(query, *conversation_scope(Conversation.id, Conversation.channel, filt, dialect, window))


def handoff_rows(filt: MetricFilter, dialect: str, window: Window) -> Select:
    """The bot conversations, once per handoff reason they had (`category`; NULL: none). An agent's take-over
    without an escalation is the reason `taken_over`."""
    handoffs = _handoff_reasons(window)
    taken_over = case((_agent_wrote(window), literal(TAKEN_OVER, String)))
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
        .where(_within(Conversation.created_at, window), Escalation.created_at >= since, _bot_spoke(window))
        .distinct()
    )
    return _where(query, *conversation_scope(Conversation.id, Conversation.channel, filt, dialect, window))


# -- people's response times ----------------------------------------------------------------------------


def _escalation_scope(filt: MetricFilter, dialect: str, window: Window) -> list:
    return conversation_scope(Escalation.conversation_id, Conversation.channel, filt, dialect, window)


def first_response_rows(filt: MetricFilter, dialect: str, window: Window) -> Select:
    """Handoffs made in the window; `start` the handoff, `stop` the first agent message after it and before
    it closed (NULL: none yet). The bot's words never count. Grouped, not a correlated look-up per row."""
    reply = aliased(Message, name="agent_reply")
    answers = and_(
        reply.conversation_id == Escalation.conversation_id,
        reply.author == AGENT,
        reply.sent_at >= Escalation.created_at,
        or_(Escalation.resolved_at.is_(None), reply.sent_at <= Escalation.resolved_at),
    )
    query = (
        select(
            Escalation.id.label("id"),
            Escalation.conversation_id.label("conversation_id"),
            Escalation.created_at.label("at"),
            Escalation.created_at.label("start"),
            func.min(reply.sent_at).label("stop"),
            Escalation.priority.label("priority"),
        )
        .join(Conversation, Conversation.id == Escalation.conversation_id)
        .outerjoin(reply, answers)
        .where(_within(Escalation.created_at, window))
        .group_by(Escalation.id, Escalation.conversation_id, Escalation.created_at, Escalation.priority)
    )
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
    that previous reply (Chatwoot's "waiting since"), `stop` the reply. Messages from more than
    CALENDAR_LEAD before the window are not read: a longer wait is not measured."""
    with_reply = select(Message.conversation_id).where(Message.author == AGENT, _within(Message.sent_at, window))
    previous_agent = func.max(case((Message.author == AGENT, Message.sent_at))).over(
        partition_by=Message.conversation_id, order_by=(Message.sent_at, Message.id), rows=(None, -1)
    )
    timeline = (
        select(
            Message.id.label("id"),
            Message.conversation_id.label("conversation_id"),
            Message.author.label("author"),
            Message.sent_at.label("sent_at"),
            previous_agent.label("previous_agent_at"),
        )
        .where(
            Message.conversation_id.in_(with_reply),
            Message.author.in_([CUSTOMER, AGENT]),
            Message.sent_at >= window[0] - CALENDAR_LEAD,
        )
        .cte("timeline")
    )
    waiting = (
        select(
            timeline.c.conversation_id,
            timeline.c.previous_agent_at,
            func.min(timeline.c.sent_at).label("since"),
        )
        .where(timeline.c.author == CUSTOMER, timeline.c.previous_agent_at.isnot(None))
        .group_by(timeline.c.conversation_id, timeline.c.previous_agent_at)
        .subquery("waiting")
    )
    new_handoff = exists().where(
        Escalation.conversation_id == timeline.c.conversation_id,
        Escalation.created_at > timeline.c.previous_agent_at,
        Escalation.created_at <= timeline.c.sent_at,
    )
    query = (
        select(
            timeline.c.id,
            timeline.c.conversation_id,
            timeline.c.sent_at.label("at"),
            waiting.c.since.label("start"),
            timeline.c.sent_at.label("stop"),
        )
        .join(
            waiting,
            and_(
                waiting.c.conversation_id == timeline.c.conversation_id,
                waiting.c.previous_agent_at == timeline.c.previous_agent_at,
            ),
        )
        .join(Conversation, Conversation.id == timeline.c.conversation_id)
        .where(timeline.c.author == AGENT, _within(timeline.c.sent_at, window), ~new_handoff)
    )
    return _where(query, *conversation_scope(timeline.c.conversation_id, Conversation.channel, filt, dialect, window))


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


def answered_rows(filt: MetricFilter, dialect: str, window: Window, source: AnswerSource) -> Select:
    """Customer messages the bot replied to, by the time of the bot's first reply (seconds after the
    message); `hit`: one of the replies came from `source` (fallback: the bot did not understand;
    retrieval: a past reply answered). Read from the replies alone, which name the message they answer,
    so the customer's message is joined only to filter on its intent."""
    query = (
        select(
            Message.conversation_id.label("conversation_id"),
            func.min(Message.sent_at).label("at"),
            func.max(_flag(Message.answer_source == source.value)).label("hit"),
        )
        .where(Message.author == BOT, Message.in_reply_to_id.isnot(None), _within(Message.sent_at, window))
        .group_by(Message.in_reply_to_id, Message.conversation_id)
    )
    if filt.intent:
        question = aliased(Message, name="question")
        query = query.join(question, question.id == Message.in_reply_to_id).where(question.intent == filt.intent)
    scope = conversation_scope(Message.conversation_id, Message.channel, filt, dialect, window, intent_here=False)
    return _where(query, *scope)


def past_reply_feedback_rows(filt: MetricFilter, dialect: str, window: Window) -> Select:
    """Past-reply answers sent in the window that the customer rated; `hit`: rated 👍."""
    rated = (
        select(
            AnswerFeedback.message_id.label("message_id"),
            func.max(_flag(AnswerFeedback.helpful.is_(True))).label("hit"),
        )
        .where(AnswerFeedback.message_id.isnot(None))
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


def sentiment_rows(filt: MetricFilter, dialect: str, window: Window) -> Select:
    """Customer messages sent in the window, by the sentiment the model gave them (`unknown`: none)."""
    label = func.coalesce(Message.sentiment["label"].as_string(), "unknown")
    query = select(
        Message.conversation_id.label("conversation_id"), Message.sent_at.label("at"), label.label("category")
    ).where(Message.author == CUSTOMER, _within(Message.sent_at, window))
    scope = conversation_scope(Message.conversation_id, Message.channel, filt, dialect, window, intent_here=False)
    if filt.intent:
        scope.append(Message.intent == filt.intent)
    return _where(query, *scope)
