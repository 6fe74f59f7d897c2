"""The tables Coverline owns. Rasa's own `events` table (tracker store) lives beside them."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Customer(Base):
    __tablename__ = "customers"

    id = Column(Integer, primary_key=True)
    full_name = Column(String(200), nullable=False)
    email = Column(String(200))
    phone = Column(String(40))
    address = Column(String(300))
    date_of_birth = Column(Date)  # the policyholder's; what a customer proves who they are with in chat
    # when the customer agreed to marketing, and where (NULL: never, or withdrawn): the recommender offers
    # nothing for sale to anyone without it (recommendations/constraints.py)
    marketing_consent_at = Column(DateTime)
    marketing_consent_source = Column(String(60))
    created_at = Column(DateTime, nullable=False, default=utcnow)

    policies = relationship("Policy", back_populates="customer")


class Policy(Base):
    __tablename__ = "policies"

    id = Column(Integer, primary_key=True)
    number = Column(String(20), nullable=False, unique=True)  # PX-88123
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False, index=True)
    product = Column(String(20), nullable=False)  # auto, home, renters, travel, life
    status = Column(String(20), nullable=False, default="active")  # active, lapsed, cancelled
    start_date = Column(Date, nullable=False)
    end_date = Column(Date, nullable=False)
    annual_premium = Column(Numeric(10, 2), nullable=False)
    deductible = Column(Integer, nullable=False, default=0)
    amount_due = Column(Numeric(10, 2), nullable=False, default=0)
    next_due_date = Column(Date)
    last_payment_amount = Column(Numeric(10, 2))
    last_payment_date = Column(Date)

    customer = relationship("Customer", back_populates="policies")
    claims = relationship("Claim", back_populates="policy")

    def is_active_on(self, day: date) -> bool:
        return self.status == "active" and self.start_date <= day <= self.end_date


class Claim(Base):
    __tablename__ = "claims"

    id = Column(Integer, primary_key=True)
    reference = Column(String(20), nullable=False, unique=True)  # CL-204117
    policy_id = Column(Integer, ForeignKey("policies.id"), nullable=False, index=True)
    incident_type = Column(String(40), nullable=False)
    incident_date = Column(Date, nullable=False)
    description = Column(Text, nullable=False)
    status = Column(String(30), nullable=False, default="received")
    status_detail = Column(Text)
    conversation_id = Column(String(255))
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    policy = relationship("Policy", back_populates="claims")


class Quote(Base):
    """Every premium the bot quoted, so a sales follow-up sees exactly what the customer was told."""

    __tablename__ = "quotes"

    id = Column(Integer, primary_key=True)
    reference = Column(String(20), nullable=False, unique=True)  # QT-XXXXXX
    conversation_id = Column(String(255), index=True)
    product = Column(String(20), nullable=False)
    inputs = Column(JSON, nullable=False)
    annual_premium = Column(Numeric(10, 2), nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class ChangeRequest(Base):
    """A customer's request to change personal details; a person confirms identity before applying."""

    __tablename__ = "change_requests"

    id = Column(Integer, primary_key=True)
    reference = Column(String(20), nullable=False, unique=True)  # CR-XXXXXX
    policy_id = Column(Integer, ForeignKey("policies.id"), nullable=False)
    field = Column(String(20), nullable=False)  # address, phone, email, name
    new_value = Column(String(300), nullable=False)
    status = Column(String(20), nullable=False, default="pending")
    conversation_id = Column(String(255))
    created_at = Column(DateTime, nullable=False, default=utcnow)

    policy = relationship("Policy")


# The analytics queries (analytics/units.py) read the interaction log by time; these indexes serve them
# (migration 0014, chosen with EXPLAIN ANALYZE over 1,000,000 messages: benchmarks/results/analytics.md).
# What the per-author reads take from the index alone (index-only scans): the bot's answers (fallback and
# past-reply rates), customer messages' intent and sentiment (sentiment share: no heap, only the small JSON).
AUTHOR_SENT_AT_INCLUDE = [
    "conversation_id",
    "channel",
    "intent",
    "answer_source",
    "in_reply_to_id",
    "id",
    "sentiment_label",
]
# The answered messages' rows path (with an intent or product filter) reads the partial index alone.
ANSWERED_INCLUDE = ["conversation_id", "channel", "intent", "answered_by_fallback", "answered_from_past_reply"]


# What the conversation-anchored metrics read besides the start (analytics/units.py), and the id they join on
# (products, intents, handoff reasons): with these in the index on created_at, containment, bot resolution,
# the handoff rate and the breakdowns by product and intent are index-only scans (migration 0018).
CONVERSATION_SUMMARY_INCLUDE = [
    "id",
    "channel",
    "last_customer_at",
    "last_bot_at",
    "first_agent_at",
    "first_handoff_at",
    "thumbs_up",
    "thumbs_down",
]

# what conversations by product read beside the conversation's start (ix_conversation_products_conversation_created_at)
CONVERSATION_PRODUCT_INCLUDE = ["conversation_id", "product", "channel", "last_named_at"]

# the agent messages that end a wait after an earlier agent message: reply time's rows (ix_messages_agent_waits)
AGENT_WAIT = "author = 'agent' AND previous_agent_at IS NOT NULL AND waiting_since IS NOT NULL"
AGENT_WAIT_INCLUDE = ["conversation_id", "id", "previous_agent_at", "waiting_since"]


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'escalated', 'open', 'resolved')", name="ck_conversations_status"),
        Index("ix_conversations_created_at", "created_at", postgresql_include=CONVERSATION_SUMMARY_INCLUDE),
    )

    id = Column(String(255), primary_key=True)  # Rasa sender_id
    channel = Column(String(40), nullable=False, default="unknown")
    customer_identity = Column(String(255))  # the customer's id on that channel
    # pending, escalated, open, resolved (conversations/status.py); written only by conversations/lifecycle.py
    status = Column(String(20), nullable=False, default="pending", server_default="pending")
    assignee_id = Column(Integer)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    last_message_at = Column(DateTime, nullable=False, default=utcnow)
    # The summary of the log that analytics reads instead of grouping every message (storage/summary.py
    # keeps it on every write of a message, handoff or rating; migration 0018 filled it for older rows).
    # Written only there, never by the lifecycle: NULL/false means "not in the log".
    last_customer_at = Column(DateTime)  # the latest customer message's sent_at
    last_bot_at = Column(DateTime)  # the latest bot reply's sent_at; NULL: the bot never replied
    first_agent_at = Column(DateTime)  # the first agent message's sent_at; NULL: no person wrote
    first_handoff_at = Column(DateTime)  # the first escalation's created_at; NULL: never handed over
    thumbs_up = Column(Boolean, nullable=False, default=False, server_default=false())  # a 👍 on an answer
    thumbs_down = Column(Boolean, nullable=False, default=False, server_default=false())  # a 👎 on an answer

    messages = relationship("Message", back_populates="conversation", order_by="Message.id")


class ConversationProduct(Base):
    """A product line the customer named in a conversation (the `product` entity of their messages), with
    the first and last time they named it: the product dimension of analytics without parsing JSON.
    Kept by storage/summary.py with every customer message; filled for older rows by migration 0018."""

    __tablename__ = "conversation_products"
    __table_args__ = (
        Index("ix_conversation_products_last_named_at", "last_named_at", "conversation_id", "product"),
        # conversations by product, read alone: no join to conversations for the start (0019)
        Index(
            "ix_conversation_products_conversation_created_at",
            "conversation_created_at",
            postgresql_include=CONVERSATION_PRODUCT_INCLUDE,
        ),
    )

    conversation_id = Column(String(255), ForeignKey("conversations.id"), primary_key=True)
    product = Column(String(40), primary_key=True)  # auto, home, renters, travel, life
    first_named_at = Column(DateTime, nullable=False)
    last_named_at = Column(DateTime, nullable=False)
    # copies of the conversation's created_at and channel (storage/summary.py sets them with the row and
    # follows a change of the conversation's), so conversations by product need not join conversations
    conversation_created_at = Column(DateTime, nullable=False)
    channel = Column(String(40), nullable=False)


def sentiment_label_of(sentiment: Any) -> Optional[str]:
    """The label of a message's sentiment ({"label": "negative", "confidence": 0.9}), or None."""
    label = sentiment.get("label") if isinstance(sentiment, dict) else None
    return label if isinstance(label, str) else None


def _sentiment_label(context: Any) -> Optional[str]:
    """Message.sentiment_label's default: the label of the sentiment the row is inserted with."""
    return sentiment_label_of(context.get_current_parameters().get("sentiment"))


class ConversationIntent(Base):
    """An intent the model gave one of the customer's messages in a conversation: the intent filter and the
    conversations-by-intent breakdown as an index read. Kept by storage/summary.py with every customer
    message; filled by migration 0018."""

    __tablename__ = "conversation_intents"
    __table_args__ = (Index("ix_conversation_intents_intent", "intent", "conversation_id"),)

    conversation_id = Column(String(255), ForeignKey("conversations.id"), primary_key=True)
    intent = Column(String(80), primary_key=True)


class MessageHour(Base):
    """How many messages were sent in one UTC hour, per channel, author and sentiment: what the message volume
    and sentiment-share charts add up instead of counting a million rows (analytics/units.py, for time zones
    whose offsets are whole hours). Kept by storage/summary.py with every message; filled by migration 0018."""

    __tablename__ = "message_hours"

    hour = Column(DateTime, primary_key=True)  # sent_at truncated to the hour, naive UTC
    channel = Column(String(40), primary_key=True)
    author = Column(String(10), primary_key=True)
    sentiment = Column(String(20), primary_key=True)  # the sentiment label, `unknown` without one
    messages = Column(Integer, nullable=False)


class IntentHour(Base):
    """How many customer messages the model gave each intent in one UTC hour, per channel: messages by intent
    and of one intent without counting rows (analytics/units.py). Kept by storage/summary.py with every
    customer message; filled by migration 0018."""

    __tablename__ = "intent_hours"

    hour = Column(DateTime, primary_key=True)  # sent_at truncated to the hour, naive UTC
    channel = Column(String(40), primary_key=True)
    intent = Column(String(80), primary_key=True)
    messages = Column(Integer, nullable=False)


class AnswerHour(Base):
    """How many customer messages got the bot's first reply in one UTC hour, per channel and by whether a
    fallback or a past reply answered them: what the fallback and past-reply rates add up (analytics/units.py).
    Kept by storage/summary.py as replies are logged (a message moves hour or kind when an earlier or another
    reply to it arrives); filled by migration 0018."""

    __tablename__ = "answer_hours"

    hour = Column(DateTime, primary_key=True)  # the first reply's sent_at truncated to the hour, naive UTC
    channel = Column(String(40), primary_key=True)
    fallback = Column(Boolean, primary_key=True)  # a reply to the message was a fallback
    past_reply = Column(Boolean, primary_key=True)  # a reply to the message came from a past reply
    messages = Column(Integer, nullable=False)


class Message(Base):
    """One row per customer message and per bot/agent reply: the interaction log."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("event_key", name="uq_messages_event_key"),
        UniqueConstraint("channel", "platform_message_id", name="uq_messages_platform_id"),
        Index("ix_messages_sent_at", "sent_at", postgresql_include=["conversation_id", "author", "channel"]),
        Index(
            "ix_messages_author_sent_at",
            "author",
            "sent_at",
            postgresql_include=AUTHOR_SENT_AT_INCLUDE,
        ),
        Index(
            "ix_messages_first_answer_at",
            "first_answer_at",
            postgresql_include=ANSWERED_INCLUDE,
            sqlite_where=sql_text("first_answer_at IS NOT NULL"),
            postgresql_where=sql_text("first_answer_at IS NOT NULL"),
        ),
        # a conversation's messages in time order, from the index alone (reply time's timeline); it also
        # serves every look-up by conversation, so it replaced the plain index on conversation_id (0018)
        Index("ix_messages_conversation_sent_at", "conversation_id", "sent_at", postgresql_include=["author", "id"]),
        # reply time: the agent replies that answer a wait, with the wait, from the index alone (0020)
        Index(
            "ix_messages_agent_waits",
            "sent_at",
            postgresql_include=AGENT_WAIT_INCLUDE,
            sqlite_where=sql_text(AGENT_WAIT),
            postgresql_where=sql_text(AGENT_WAIT),
        ),
    )

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), ForeignKey("conversations.id"), nullable=False)
    event_key = Column(String(64), nullable=False)  # idempotency: hash of the tracker event
    platform_message_id = Column(String(255))  # inbound only: Rasa's / the platform's message id
    direction = Column(String(10), nullable=False)  # inbound, outbound
    author = Column(String(10), nullable=False)  # customer, bot, agent
    agent_id = Column(Integer, ForeignKey("agents.id"))  # author=agent: who replied (agents are never deleted)
    channel = Column(String(40), nullable=False)
    text = Column(Text)
    payload = Column(JSON)  # buttons, attachments, custom
    intent = Column(String(80))
    confidence = Column(Float)
    entities = Column(JSON)
    sentiment = Column(JSON)
    # sentiment's label as a column, set from it on insert: analytics groups by it without parsing JSON
    sentiment_label = Column(String(20), default=_sentiment_label)
    answer_source = Column(String(20))  # template, form, lookup, retrieval, fallback, agent, action
    action_name = Column(String(120))
    past_reply_id = Column(Integer, ForeignKey("past_replies.id"))  # answer_source=retrieval: which reply
    retrieval_score = Column(Float)  # its calibrated probability of answering the question
    in_reply_to_id = Column(Integer, ForeignKey("messages.id"))
    # On the message a bot reply answers (storage/summary.py): the bot's first reply, and whether any reply
    # was a fallback or a past reply; the fallback and past-reply rates count these messages.
    first_answer_at = Column(DateTime)
    answered_by_fallback = Column(Boolean, nullable=False, default=False, server_default=false())
    answered_from_past_reply = Column(Boolean, nullable=False, default=False, server_default=false())
    # On an agent message (storage/summary.py): the previous agent message's sent_at, and the first customer
    # message since then (Chatwoot's "waiting since"), in (sent_at, id) order; reply time reads these.
    previous_agent_at = Column(DateTime)
    waiting_since = Column(DateTime)
    latency_ms = Column(Float)
    sent_at = Column(DateTime, nullable=False)  # the event's own timestamp
    created_at = Column(DateTime, nullable=False, default=utcnow)

    conversation = relationship("Conversation", back_populates="messages")
    agent = relationship("Agent", lazy="selectin")  # loaded with the messages: transcripts show the name


class Escalation(Base):
    __tablename__ = "escalations"
    __table_args__ = (
        Index("ix_escalations_created_at", "created_at"),
        Index("ix_escalations_resolved_at", "resolved_at"),
    )

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), ForeignKey("conversations.id"), nullable=False, index=True)
    reason = Column(String(40), nullable=False)  # customer_request, complaint, negative_sentiment, fallback
    priority = Column(Integer, nullable=False, default=2)  # 1 urgent .. 3 low
    note = Column(Text)
    open = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    assigned_at = Column(DateTime)
    resolved_at = Column(DateTime)
    outcome = Column(String(20))  # closed as: resolved, handed_back
    # the first agent message at or after created_at and not after resolved_at (storage/summary.py keeps
    # it; NULL: not answered by a person): first response time and the SLA without grouping messages
    first_response_at = Column(DateTime)
    closed_by_id = Column(Integer, ForeignKey("agents.id"))


class PastReply(Base):
    """A question a customer asked and the reply a person gave: what retrieval answers from.

    Imported from a company's export (external_id keeps re-imports idempotent) and, later, from
    agents' replies in the inbox. `embedding_model` records which weights the index used for it.
    """

    __tablename__ = "past_replies"
    __table_args__ = (UniqueConstraint("external_id", name="uq_past_replies_external_id"),)

    id = Column(Integer, primary_key=True)
    external_id = Column(String(120), nullable=False)
    question = Column(Text, nullable=False)
    reply = Column(Text, nullable=False)
    product_line = Column(String(20))  # auto, home, renters, travel, life, general
    source = Column(String(40), nullable=False, default="import")  # import, inbox
    channel = Column(String(40))
    agent = Column(String(120))
    created_at = Column(DateTime, nullable=False, default=utcnow)
    imported_at = Column(DateTime, nullable=False, default=utcnow)
    embedding_model = Column(String(120))
    active = Column(Boolean, nullable=False, default=True)
    # customers' 👎 (retrieval/feedback.py): demoted ranks lower, retired stops answering (active=False)
    demoted_at = Column(DateTime)
    retired_at = Column(DateTime)


class AnswerFeedback(Base):
    """The customer's "was this helpful?" on a retrieved answer: the signal for re-ranking and retraining."""

    __tablename__ = "answer_feedback"
    __table_args__ = (
        Index("ix_answer_feedback_created_at", "created_at"),
        Index("ix_answer_feedback_message_id", "message_id"),
    )

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), ForeignKey("conversations.id"), nullable=False, index=True)
    past_reply_id = Column(Integer, ForeignKey("past_replies.id"), nullable=False, index=True)
    message_id = Column(Integer, ForeignKey("messages.id"))  # the bot message that carried the answer
    helpful = Column(Boolean, nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class ChannelDelivery(Base):
    """A platform message a webhook has accepted, and how far its processing got.

    Platforms retry a webhook until they get a 200, and a retry may land on another replica; the
    unique constraint is what makes "process each platform message once" hold across processes. After
    the 200 the platform will not send it again, so the message is kept until Rasa has handled it
    (storage/deliveries.py redelivers what a dead replica or an outage left unfinished).
    """

    __tablename__ = "channel_deliveries"
    __table_args__ = (UniqueConstraint("channel", "platform_message_id", name="uq_channel_deliveries_message"),)

    id = Column(Integer, primary_key=True)
    channel = Column(String(40), nullable=False)
    platform_message_id = Column(String(255), nullable=False)
    received_at = Column(DateTime, nullable=False, default=utcnow, index=True)
    message = Column(JSON)  # the inbound message as the connector read it, to hand to Rasa again
    status = Column(String(12), nullable=False, default="pending", server_default="processed", index=True)
    attempts = Column(Integer, nullable=False, default=0, server_default="0")  # processing attempts started
    last_error = Column(Text)
    updated_at = Column(DateTime)


class Agent(Base):
    """A person on the service team who logs into the inbox; `role` is agent or admin."""

    __tablename__ = "agents"
    __table_args__ = (UniqueConstraint("email", name="uq_agents_email"),)

    id = Column(Integer, primary_key=True)
    email = Column(String(254), nullable=False)  # stored lower-cased
    name = Column(String(120), nullable=False)
    role = Column(String(10), nullable=False, default="agent")  # agent, admin
    password_hash = Column(String(255), nullable=False)  # scrypt$n$r$p$salt$hash, never the password
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    last_login_at = Column(DateTime)


class AgentSession(Base):
    """A logged-in browser or API client. Only a hash of the cookie's token is stored, so a copy of the
    database does not let anyone act as an agent; deleting the row logs the session out everywhere."""

    __tablename__ = "agent_sessions"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_agent_sessions_token_hash"),)

    id = Column(Integer, primary_key=True)
    token_hash = Column(String(64), nullable=False)
    agent_id = Column(Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False, index=True)
    kind = Column(String(10), nullable=False, default="browser")  # browser (cookie + CSRF), api (bearer)
    label = Column(String(120))  # what an API token is for
    created_at = Column(DateTime, nullable=False, default=utcnow)
    expires_at = Column(DateTime, nullable=False)
    last_seen_at = Column(DateTime)
    ip = Column(String(64))


class LoginAttempt(Base):
    """Every login try, kept in SQL so the rate limit holds across inbox processes and restarts."""

    __tablename__ = "login_attempts"

    id = Column(Integer, primary_key=True)
    email = Column(String(254), nullable=False)
    ip = Column(String(64), nullable=False)
    succeeded = Column(Boolean, nullable=False)
    attempted_at = Column(DateTime, nullable=False, default=utcnow, index=True)


class CannedResponse(Base):
    """A reply agents insert by short code (Chatwoot's canned responses); admins manage them."""

    __tablename__ = "canned_responses"
    __table_args__ = (UniqueConstraint("short_code", name="uq_canned_responses_short_code"),)

    id = Column(Integer, primary_key=True)
    short_code = Column(String(40), nullable=False)
    content = Column(Text, nullable=False)
    created_by_id = Column(Integer, ForeignKey("agents.id"))
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)


class ConversationNote(Base):
    """A private note agents leave on a conversation; never sent to the customer."""

    __tablename__ = "conversation_notes"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), ForeignKey("conversations.id"), nullable=False, index=True)
    agent_id = Column(Integer, ForeignKey("agents.id"), nullable=False)
    body = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class AuditEntry(Base):
    """Who did what, when, on which conversation or agent. Append-only; failed logins have no agent.

    `conversation_id` is deliberately not a foreign key: the trail must outlive an erased conversation.
    """

    __tablename__ = "audit_log"

    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False, default=utcnow, index=True)
    agent_id = Column(Integer, ForeignKey("agents.id"))
    action = Column(String(40), nullable=False, index=True)
    conversation_id = Column(String(255), index=True)
    target_agent_id = Column(Integer)
    detail = Column(JSON)
    ip = Column(String(64))


class CustomerVerification(Base):
    """A conversation's proof of who the customer is: what account actions check, never a slot.

    Written when the customer gives a policy number and the policyholder's date of birth, or when the
    insurer's logged-in page vouches for them with a signed token; good for one conversation until
    `expires_at`. The newest live row decides; `revoked_at` ends one early.
    """

    __tablename__ = "customer_verifications"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), nullable=False, index=True)  # Rasa sender_id; no FK: the row may come first
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False, index=True)
    method = Column(String(20), nullable=False)  # policy_dob, web_token
    policy_number = Column(String(20))  # the policy the customer verified with (policy_dob)
    verified_at = Column(DateTime, nullable=False, default=utcnow)
    expires_at = Column(DateTime, nullable=False)
    revoked_at = Column(DateTime)

    customer = relationship("Customer")


class VerificationAttempt(Base):
    """Every try to prove identity, kept in SQL so the attempt limits hold across replicas and restarts.

    `refused` tries came over the limit and were never judged; the date of birth given is never kept.
    """

    __tablename__ = "verification_attempts"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), nullable=False, index=True)
    policy_number = Column(String(20), index=True)
    method = Column(String(20), nullable=False)  # policy_dob, web_token
    outcome = Column(String(12), nullable=False)  # succeeded, failed, refused
    detail = Column(String(40))  # why a token was refused: bad_signature, expired, unknown_customer...
    attempted_at = Column(DateTime, nullable=False, default=utcnow, index=True)


class Annotation(Base):
    """A person's reading of one logged customer message: what it meant, and whether the bot's reply was right.

    The interaction log is never edited: the model's label as logged is copied here (`original_*`), so the
    export and the evaluation can compare the two. An undo keeps the row (`status` undone, who, when). At
    most one active annotation per message: a partial unique index, so two agents annotating the same
    message at once cannot both win, whichever process writes (learning/annotations.py).
    """

    __tablename__ = "annotations"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'undone')", name="ck_annotations_status"),
        CheckConstraint(
            "sentiment IS NULL OR sentiment IN ('negative', 'neutral', 'positive')", name="ck_annotations_sentiment"
        ),
        CheckConstraint(
            "reply_verdict IS NULL OR reply_verdict IN ('good', 'wrong', 'should_have_handed_over')",
            name="ck_annotations_reply_verdict",
        ),
        Index(
            "uq_annotations_active_message",
            "message_id",
            unique=True,
            sqlite_where=sql_text("status = 'active'"),
            postgresql_where=sql_text("status = 'active'"),
        ),
    )

    id = Column(Integer, primary_key=True)
    message_id = Column(Integer, ForeignKey("messages.id"), nullable=False, index=True)  # the customer message
    annotator_id = Column(Integer, ForeignKey("agents.id"), nullable=False, index=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    original_intent = Column(String(80))  # the model's label as logged
    original_confidence = Column(Float)
    original_sentiment = Column(JSON)
    intent = Column(String(80), nullable=False)  # the annotator's: an intent of the domain
    entities = Column(JSON, nullable=False, default=list)  # [{entity, value, start, end}]
    sentiment = Column(String(10))  # negative, neutral, positive; null keeps the model's
    reply_verdict = Column(String(30))  # good, wrong, should_have_handed_over; null: not judged
    status = Column(String(10), nullable=False, default="active", server_default="active")  # active, undone
    undone_by_id = Column(Integer, ForeignKey("agents.id"))
    undone_at = Column(DateTime)
    bulk = Column(Boolean, nullable=False, default=False, server_default=false())  # an admin's bulk accept


class ModelVersion(Base):
    """Every model the learning loop trained, kept with what it learned from and how it measured.

    One row per archive under models/registry/. At most one is `active` (the one the Rasa server runs);
    a candidate the gate refused stays `refused` with the gate's table, a replaced one `retired`, and any
    of them can be made active again (rollback). Who promoted or rolled back is in the audit log too.
    """

    __tablename__ = "model_versions"
    __table_args__ = (
        CheckConstraint("status IN ('candidate', 'refused', 'active', 'retired')", name="ck_model_versions_status"),
        Index(
            "uq_model_versions_active",
            "status",
            unique=True,
            sqlite_where=sql_text("status = 'active'"),
            postgresql_where=sql_text("status = 'active'"),
        ),
    )

    id = Column(Integer, primary_key=True)
    version = Column(String(64), nullable=False, unique=True)  # e.g. 20261204T213000-1a2b3c4d
    archive = Column(String(500), nullable=False)  # path of the Rasa model archive, relative to the checkout
    archive_sha256 = Column(String(64), nullable=False)
    data_hash = Column(String(64), nullable=False)  # sha256 over the training data files it learned from
    status = Column(String(10), nullable=False, default="candidate")
    metrics = Column(JSON)  # {"candidate": {...}, "active": {...}} as the gate measured them
    verdict = Column(Text)  # the gate's table and reasons
    note = Column(Text)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    created_by_id = Column(Integer, ForeignKey("agents.id"))  # null: `make retrain` from a shell
    promoted_at = Column(DateTime)
    promoted_by_id = Column(Integer, ForeignKey("agents.id"))


JOB_WAITING_OR_RUNNING = "status IN ('queued', 'running')"


class RetrainJob(Base):
    """A retrain or a rollback an admin asked for in the inbox, run by the learning worker
    (`python -m learning worker`), never by the web process: training takes tens of minutes.

    Every job is in the one `queue` ("models"); the partial unique index on it lets at most one job be
    queued or running at a time, so two admins pressing at once get one job, whatever the web replicas.
    `progress` is the worker's lines ({"at", "line"}), `result` the gate's report or the error;
    `heartbeat_at` is the worker's sign of life, so a job whose worker died is failed, not left running.
    """

    __tablename__ = "retrain_jobs"
    __table_args__ = (
        CheckConstraint("kind IN ('retrain', 'rollback')", name="ck_retrain_jobs_kind"),
        CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'refused', 'failed')", name="ck_retrain_jobs_status"
        ),
        Index(
            "uq_retrain_jobs_one_at_a_time",
            "queue",
            unique=True,
            sqlite_where=sql_text(JOB_WAITING_OR_RUNNING),
            postgresql_where=sql_text(JOB_WAITING_OR_RUNNING),
        ),
    )

    id = Column(Integer, primary_key=True)
    kind = Column(String(10), nullable=False)  # retrain | rollback
    target_version = Column(String(64))  # a rollback's version; null: the one active before the current one
    status = Column(String(10), nullable=False, default="queued")
    queue = Column(String(20), nullable=False, default="models")
    requested_by_id = Column(Integer, ForeignKey("agents.id"))
    requested_at = Column(DateTime, nullable=False, default=utcnow)
    started_at = Column(DateTime)
    finished_at = Column(DateTime)
    heartbeat_at = Column(DateTime)
    worker = Column(String(120))  # host:pid of the worker that took it
    progress = Column(JSON, nullable=False, default=list)
    result = Column(Text)
    model_version = Column(String(64))  # the candidate trained, or the version restored


class ReplyProposal(Base):
    """An agent's reply to a resolved handoff, offered as a past reply the bot could answer from.

    One per resolved escalation (learning/harvest.py). Question and reply are stored redacted: nothing
    personal leaves the interaction log, even before an agent decides. Approving creates the PastReply
    (source "inbox") that the action servers add to their index without a rebuild.
    """

    __tablename__ = "reply_proposals"
    __table_args__ = (
        CheckConstraint("status IN ('proposed', 'approved', 'rejected')", name="ck_reply_proposals_status"),
        UniqueConstraint("escalation_id", name="uq_reply_proposals_escalation"),
    )

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), ForeignKey("conversations.id"), nullable=False, index=True)
    escalation_id = Column(Integer, ForeignKey("escalations.id"), nullable=False)
    question = Column(Text, nullable=False)  # redacted
    reply = Column(Text, nullable=False)  # redacted
    product_line = Column(String(20))  # guessed (retrieval/products.py); null: none named
    source_message_ids = Column(JSON, nullable=False, default=dict)  # {"question": [ids], "reply": [ids]}
    status = Column(String(10), nullable=False, default="proposed", server_default="proposed")
    decided_by_id = Column(Integer, ForeignKey("agents.id"))
    decided_at = Column(DateTime)
    edited = Column(Boolean, nullable=False, default=False, server_default=false())
    past_reply_id = Column(Integer, ForeignKey("past_replies.id"))
    created_at = Column(DateTime, nullable=False, default=utcnow)


class AlertRule(Base):
    """What the spike monitor watches (alerts/monitor.py): one metric over one kind of scope, with its knobs.

    `scope` says how messages are grouped: per channel ("twitter"), per intent ("claim_status"), per intent on a
    channel ("claim_status on twitter") or all together ("all"); each group gets a detector of its own.
    `recipients` is {"webhooks": [url, ...], "emails": [address, ...]}; the inbox shows every alert regardless.
    """

    __tablename__ = "alert_rules"
    __table_args__ = (
        CheckConstraint("metric IN ('negative_share', 'volume')", name="ck_alert_rules_metric"),
        CheckConstraint("scope IN ('channel', 'intent', 'channel_intent', 'all')", name="ck_alert_rules_scope"),
        UniqueConstraint("name", name="uq_alert_rules_name"),
    )

    id = Column(Integer, primary_key=True)
    name = Column(String(80), nullable=False)  # e.g. negative-share-per-channel; rules files are keyed by it
    metric = Column(String(20), nullable=False)  # negative_share, volume
    scope = Column(String(20), nullable=False)  # channel, intent, channel_intent, all
    min_volume = Column(Integer, nullable=False, default=0)  # fewest customer messages in the window to alert
    sensitivity = Column(Float, nullable=False)  # the detector's robust z-score threshold: lower alerts sooner
    cooldown_minutes = Column(Integer, nullable=False, default=1440)  # silence per scope after an alert
    recipients = Column(JSON, nullable=False, default=dict)
    enabled = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)


class Alert(Base):
    """One spike the monitor raised, with the numbers and the customer messages behind it.

    `message_ids` are the scope's customer messages in [started_at, window_end) that made the jump (the negative
    ones for a share); `status` goes raised → acknowledged → resolved (alerts/lifecycle.py, audited).
    """

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint("status IN ('raised', 'acknowledged', 'resolved')", name="ck_alerts_status"),
        Index("ix_alerts_status_raised_at", "status", "raised_at"),
    )

    id = Column(Integer, primary_key=True)
    rule_id = Column(Integer, ForeignKey("alert_rules.id"), nullable=False, index=True)
    metric = Column(String(20), nullable=False)  # the rule's, when it fired
    scope_value = Column(String(200), nullable=False)  # twitter, claim_status, claim_status on twitter, all
    started_at = Column(DateTime, nullable=False)  # start of the window that jumped
    window_end = Column(DateTime, nullable=False)  # end of the 5-minute bucket that fired
    raised_at = Column(DateTime, nullable=False, default=utcnow)  # when the monitor noticed
    before_value = Column(Float, nullable=False)  # what that hour usually shows (share 0-1, or messages/bucket)
    now_value = Column(Float, nullable=False)  # the window's value
    volume = Column(Integer, nullable=False)  # customer messages in the window
    zscore = Column(Float, nullable=False)
    summary = Column(Text, nullable=False)  # the sentence people read in the banner, the webhook and the email
    message_ids = Column(JSON, nullable=False, default=list)
    status = Column(String(12), nullable=False, default="raised", server_default="raised")
    acknowledged_by_id = Column(Integer, ForeignKey("agents.id"))
    acknowledged_at = Column(DateTime)
    resolved_by_id = Column(Integer, ForeignKey("agents.id"))
    resolved_at = Column(DateTime)

    rule = relationship("AlertRule")


class AlertDetectorState(Base):
    """A rule's detector for one scope value, as JSON, and the end of the last bucket it was fed: the monitor
    resumes from here after a restart and never feeds a bucket twice."""

    __tablename__ = "alert_detector_states"
    __table_args__ = (UniqueConstraint("rule_id", "scope_value", name="uq_alert_detector_states_scope"),)

    id = Column(Integer, primary_key=True)
    rule_id = Column(Integer, ForeignKey("alert_rules.id", ondelete="CASCADE"), nullable=False)
    scope_value = Column(String(200), nullable=False)
    state = Column(JSON, nullable=False)  # alerts/detector.py SpikeDetector.to_state()
    processed_until = Column(DateTime, nullable=False)  # end of the last bucket fed
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)


class AlertDelivery(Base):
    """One alert to one recipient (webhook URL or email address): retried with back-off until sent, and kept as
    `failed` with the last error when it gives up, so an undelivered alert is visible, never silently lost."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        CheckConstraint("channel IN ('webhook', 'email')", name="ck_alert_deliveries_channel"),
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="ck_alert_deliveries_status"),
        UniqueConstraint("alert_id", "channel", "recipient", name="uq_alert_deliveries_recipient"),
        Index("ix_alert_deliveries_status_next", "status", "next_attempt_at"),
    )

    id = Column(Integer, primary_key=True)
    alert_id = Column(Integer, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False)
    channel = Column(String(10), nullable=False)  # webhook, email
    recipient = Column(String(500), nullable=False)
    status = Column(String(10), nullable=False, default="pending", server_default="pending")
    attempts = Column(Integer, nullable=False, default=0, server_default="0")
    last_error = Column(Text)
    next_attempt_at = Column(DateTime, nullable=False, default=utcnow)
    sent_at = Column(DateTime)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class ContentItem(Base):
    """One guide, checklist, explainer, tip, how-to or offer the bot may recommend (recommendations/library.py).

    Imported from demo_data/content/*.yml (or a CSV) by `python -m recommendations import`: `slug` is the file's
    stable id, so re-imports update in place; an item that leaves the file is retired (`retired_at` set), never
    deleted, because impressions and events keep pointing at it. The list columns (product_lines, life_events,
    claim_stages, incident_types, months) hold JSON arrays from recommendations/vocabulary.py.
    """

    __tablename__ = "content_items"
    __table_args__ = (
        UniqueConstraint("slug", name="uq_content_items_slug"),
        CheckConstraint(
            "category IN ('claim_checklist', 'claim_guide', 'product_explainer', 'safety_tip', 'billing_howto', "
            "'offer')",
            name="ck_content_items_category",
        ),
        CheckConstraint("body IS NOT NULL OR link IS NOT NULL", name="ck_content_items_body_or_link"),
        Index("ix_content_items_retired_category", "retired_at", "category"),
        Index("ix_content_items_updated_at", "updated_at"),  # the library cache's change check (0017)
    )

    id = Column(Integer, primary_key=True)
    slug = Column(String(120), nullable=False)  # the library's stable id, e.g. checklist-auto-collision
    category = Column(String(30), nullable=False)
    title = Column(String(200), nullable=False)
    summary = Column(String(500), nullable=False)
    body = Column(Text)  # markdown
    link = Column(String(500))  # an insurer page instead of (or beside) the body
    image = Column(String(300))  # a path inside the checkout, e.g. webchat/content/claim_checklist.svg
    product_lines = Column(JSON, nullable=False, default=list)  # empty: any product line
    life_events = Column(JSON, nullable=False, default=list)
    claim_stages = Column(JSON, nullable=False, default=list)
    incident_types = Column(JSON, nullable=False, default=list)
    months = Column(JSON, nullable=False, default=list)  # in season (1-12); empty: all year
    marketing = Column(Boolean, nullable=False, default=False, server_default=false())
    offers_product = Column(String(40))  # what a marketing item sells: never offered to a customer who holds it
    valid_from = Column(Date)
    valid_to = Column(Date)  # inclusive
    locale = Column(String(10), nullable=False, default="en-US")
    source = Column(String(300))  # the file it was imported from
    content_hash = Column(String(64), nullable=False)  # what was imported, so an unchanged re-import writes nothing
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    retired_at = Column(DateTime)  # left the library file (or retired by an admin): never recommended again


class ContentImpression(Base):
    """One item shown to one customer in one conversation: the unit of the daily cap, and what a tracked link
    (signed with the impression's id) and a "not for me" button point back to.

    `customer_id` is set only for a verified customer; anonymous ones are counted per conversation.
    """

    __tablename__ = "content_impressions"
    __table_args__ = (
        Index("ix_content_impressions_customer_shown", "customer_id", "shown_at"),
        Index("ix_content_impressions_conversation_shown", "conversation_id", "shown_at"),
        Index("ix_content_impressions_item", "content_item_id"),
        Index("ix_content_impressions_shown_at", "shown_at"),  # the open rate's period (migration 0022)
    )

    id = Column(Integer, primary_key=True)
    content_item_id = Column(Integer, ForeignKey("content_items.id"), nullable=False)
    customer_id = Column(Integer, ForeignKey("customers.id"))
    conversation_id = Column(String(255), nullable=False)
    channel = Column(String(40), nullable=False)
    moment = Column(String(40), nullable=False)  # claim_filed, quote_given, answer_given, greeting, on_request
    position = Column(Integer, nullable=False, default=0)  # 0 = first in the carousel or list
    score = Column(Float)  # the ranker's, for later analysis
    shown_at = Column(DateTime, nullable=False, default=utcnow)
    # its first open through the tracked link, kept by storage/summary.py from the `open` event (migration 0024):
    # the open rate reads a period's impressions alone instead of joining every open since the period began
    opened_at = Column(DateTime)


class ContentEvent(Base):
    """What happened to a recommendation: shown (impression), opened through the tracking redirect, dismissed
    ("not for me") or converted (a quote that became a policy). The ranker learns from these; a dismissal
    keeps the item away from that customer (or conversation, when anonymous) for good."""

    __tablename__ = "content_events"
    __table_args__ = (
        CheckConstraint("kind IN ('impression', 'open', 'dismiss', 'conversion')", name="ck_content_events_kind"),
        Index("ix_content_events_customer_kind", "customer_id", "kind", "content_item_id"),
        Index("ix_content_events_conversation_kind", "conversation_id", "kind", "content_item_id"),
        Index("ix_content_events_item_kind_at", "content_item_id", "kind", "at"),
        # the opens of a period and the impressions they name (the open rate, migration 0022)
        Index("ix_content_events_kind_at", "kind", "at", postgresql_include=["impression_id"]),
        # an impression's earlier event of a kind, looked for before recording an open or a dismissal (0023)
        Index("ix_content_events_impression_kind", "impression_id", "kind"),
    )

    id = Column(Integer, primary_key=True)
    kind = Column(String(12), nullable=False)
    content_item_id = Column(Integer, ForeignKey("content_items.id"), nullable=False)
    impression_id = Column(Integer, ForeignKey("content_impressions.id"))
    customer_id = Column(Integer, ForeignKey("customers.id"))
    conversation_id = Column(String(255))
    channel = Column(String(40), nullable=False)
    detail = Column(JSON)  # e.g. a conversion's quote and policy references
    at = Column(DateTime, nullable=False, default=utcnow)


class RecommenderModel(Base):
    """A fitted content ranker (recommendations/learned.py): what customers' opens and dismissals taught, kept in
    SQL so every action server reads the same one. The blob is a pickle, signed with HMAC-SHA256 under the
    tracking secret, and is unpickled only when the signature holds: the table is not a way into the action
    server's process for whoever can write one row."""

    __tablename__ = "recommender_models"

    id = Column(Integer, primary_key=True)
    fitted_at = Column(DateTime, nullable=False, default=utcnow)
    since = Column(DateTime, nullable=False)  # the oldest event it learned from
    events = Column(Integer, nullable=False)  # opens, conversions and dismissals read
    customers = Column(Integer, nullable=False)  # customers (or anonymous conversations) with any of them
    items = Column(Integer, nullable=False)  # content items and held product lines it knows
    seconds = Column(Float, nullable=False)  # how long the fit took
    blob = Column(LargeBinary, nullable=False)
    signature = Column(String(64), nullable=False)  # hex HMAC-SHA256 of the blob


# Every write of a message, handoff, rating or recommendation open keeps the summary (storage/summary.py). Imported with
# the tables, so no process can write the log without it.
from storage import summary as _summary  # noqa: E402,F401  (registers the mapper events)
