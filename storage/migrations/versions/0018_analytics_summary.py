"""analytics summary: per conversation the log's last and first words, handoff and ratings; the products named;
each handoff's first agent reply; messages' sentiment label and first answer; messages and answers per hour (issue 17)

The 92-day charts grouped every message of the period (bot resolution's last words), parsed the JSON of every
product mention and joined every handoff to the agents' messages: over a million messages each took more than
300 ms (benchmarks/results/analytics.md). storage/summary.py now keeps these values in the flush that writes a
message, handoff or rating; this migration adds the columns, fills them from the log as it stands, and puts the
summary in the index on conversations (created_at) so that the conversation-anchored metrics read it alone.

Revision ID: 0018_analytics_summary
Revises: 0017_content_items_updated_at
Create Date: 2026-12-06 10:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_analytics_summary"
down_revision = "0017_content_items_updated_at"
branch_labels = None
depends_on = None

# as in storage/models.py and storage/summary.py (the migration keeps its own copy: a later change to the model
# or to the live summary must not rewrite what this step did)
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
PRODUCT_MENTION = "author = 'customer' AND CAST(entities AS TEXT) LIKE '%\"product\"%'"
AUTHOR_SENT_AT_INCLUDE = ["conversation_id", "channel", "intent", "answer_source", "in_reply_to_id", "id"]

SENTIMENT = {
    "sqlite": "UPDATE messages SET sentiment_label = json_extract(sentiment, '$.label') "
    "WHERE json_type(sentiment, '$.label') = 'text'",
    "postgresql": "UPDATE messages SET sentiment_label = sentiment ->> 'label' "
    "WHERE json_typeof(sentiment -> 'label') = 'string'",
}
PRODUCTS = {
    "sqlite": """
INSERT INTO conversation_products (conversation_id, product, first_named_at, last_named_at)
SELECT m.conversation_id, json_extract(e.value, '$.value'), min(m.sent_at), max(m.sent_at)
FROM messages AS m, json_each(CASE WHEN json_type(m.entities) = 'array' THEN m.entities ELSE '[]' END) AS e
WHERE m.author = 'customer' AND json_extract(e.value, '$.entity') = 'product'
  AND json_type(e.value, '$.value') = 'text'
GROUP BY m.conversation_id, json_extract(e.value, '$.value')
""",
    "postgresql": """
INSERT INTO conversation_products (conversation_id, product, first_named_at, last_named_at)
SELECT m.conversation_id, e.value ->> 'value', min(m.sent_at), max(m.sent_at)
FROM messages AS m CROSS JOIN LATERAL json_array_elements(
    CASE WHEN json_typeof(m.entities) = 'array' THEN m.entities ELSE '[]'::json END
) AS e(value)
WHERE m.author = 'customer' AND e.value ->> 'entity' = 'product' AND json_typeof(e.value -> 'value') = 'string'
GROUP BY m.conversation_id, e.value ->> 'value'
""",
}
HOURS = {
    "sqlite": """
INSERT INTO message_hours (hour, channel, author, sentiment, messages)
SELECT strftime('%Y-%m-%d %H:00:00.000000', sent_at), channel, author, coalesce(sentiment_label, 'unknown'), count(*)
FROM messages GROUP BY 1, 2, 3, 4
""",
    "postgresql": """
INSERT INTO message_hours (hour, channel, author, sentiment, messages)
SELECT date_trunc('hour', sent_at), channel, author, coalesce(sentiment_label, 'unknown'), count(*)
FROM messages GROUP BY 1, 2, 3, 4
""",
}
INTENTS = """
INSERT INTO conversation_intents (conversation_id, intent)
SELECT DISTINCT conversation_id, intent FROM messages WHERE author = 'customer' AND intent IS NOT NULL
"""
INTENT_HOURS = {
    "sqlite": """
INSERT INTO intent_hours (hour, channel, intent, messages)
SELECT strftime('%Y-%m-%d %H:00:00.000000', sent_at), channel, intent, count(*)
FROM messages WHERE author = 'customer' AND intent IS NOT NULL GROUP BY 1, 2, 3
""",
    "postgresql": """
INSERT INTO intent_hours (hour, channel, intent, messages)
SELECT date_trunc('hour', sent_at), channel, intent, count(*)
FROM messages WHERE author = 'customer' AND intent IS NOT NULL GROUP BY 1, 2, 3
""",
}
ANSWERED_INCLUDE = ["conversation_id", "channel", "intent", "answered_by_fallback", "answered_from_past_reply"]
ANSWERS = """
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
ANSWER_HOURS = {
    "sqlite": """
INSERT INTO answer_hours (hour, channel, fallback, past_reply, messages)
SELECT strftime('%Y-%m-%d %H:00:00.000000', first_answer_at), channel, answered_by_fallback,
       answered_from_past_reply, count(*)
FROM messages WHERE first_answer_at IS NOT NULL GROUP BY 1, 2, 3, 4
""",
    "postgresql": """
INSERT INTO answer_hours (hour, channel, fallback, past_reply, messages)
SELECT date_trunc('hour', first_answer_at), channel, answered_by_fallback, answered_from_past_reply, count(*)
FROM messages WHERE first_answer_at IS NOT NULL GROUP BY 1, 2, 3, 4
""",
}
SUMMARY = [
    """
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
""",
    """
UPDATE conversations SET first_handoff_at = s.first_handoff_at
FROM (SELECT conversation_id, min(created_at) AS first_handoff_at FROM escalations GROUP BY conversation_id) AS s
WHERE conversations.id = s.conversation_id
""",
    """
UPDATE conversations SET thumbs_up = s.up, thumbs_down = s.down
FROM (
    SELECT conversation_id, max(CASE WHEN helpful THEN 1 ELSE 0 END) = 1 AS up,
           max(CASE WHEN helpful THEN 0 ELSE 1 END) = 1 AS down
    FROM answer_feedback GROUP BY conversation_id
) AS s
WHERE conversations.id = s.conversation_id
""",
    """
UPDATE escalations SET first_response_at = (
    SELECT min(m.sent_at) FROM messages AS m
    WHERE m.conversation_id = escalations.conversation_id AND m.author = 'agent'
      AND m.sent_at >= escalations.created_at
      AND (escalations.resolved_at IS NULL OR m.sent_at <= escalations.resolved_at)
)
""",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    # the indexes that change are dropped first, so the backfill does not update them row by row
    op.drop_index("ix_conversations_created_at", table_name="conversations")
    op.drop_index("ix_messages_author_sent_at", table_name="messages")
    # products are read from conversation_products now: the partial index of product mentions has no reader
    op.drop_index("ix_messages_product_mentions", table_name="messages")
    op.add_column("messages", sa.Column("sentiment_label", sa.String(length=20), nullable=True))
    op.add_column("escalations", sa.Column("first_response_at", sa.DateTime(), nullable=True))
    op.add_column("messages", sa.Column("first_answer_at", sa.DateTime(), nullable=True))
    for name in ("answered_by_fallback", "answered_from_past_reply"):
        op.add_column("messages", sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false()))
    for name in ("last_customer_at", "last_bot_at", "first_agent_at", "first_handoff_at"):
        op.add_column("conversations", sa.Column(name, sa.DateTime(), nullable=True))
    for name in ("thumbs_up", "thumbs_down"):
        op.add_column("conversations", sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "conversation_products",
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("product", sa.String(length=40), nullable=False),
        sa.Column("first_named_at", sa.DateTime(), nullable=False),
        sa.Column("last_named_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.PrimaryKeyConstraint("conversation_id", "product"),
    )
    op.create_table(
        "message_hours",
        sa.Column("hour", sa.DateTime(), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("author", sa.String(length=10), nullable=False),
        sa.Column("sentiment", sa.String(length=20), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "channel", "author", "sentiment"),
    )
    op.create_table(
        "answer_hours",
        sa.Column("hour", sa.DateTime(), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("fallback", sa.Boolean(), nullable=False),
        sa.Column("past_reply", sa.Boolean(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "channel", "fallback", "past_reply"),
    )
    op.create_table(
        "intent_hours",
        sa.Column("hour", sa.DateTime(), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("intent", sa.String(length=80), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "channel", "intent"),
    )
    op.create_table(
        "conversation_intents",
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("intent", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.PrimaryKeyConstraint("conversation_id", "intent"),
    )
    statements = [SENTIMENT[dialect], *SUMMARY, PRODUCTS[dialect], INTENTS, HOURS[dialect], INTENT_HOURS[dialect]]
    statements += [ANSWERS, ANSWER_HOURS[dialect]]
    for statement in statements:
        op.execute(sa.text(statement))
    op.create_index("ix_conversation_intents_intent", "conversation_intents", ["intent", "conversation_id"])
    op.create_index(
        "ix_conversation_products_last_named_at",
        "conversation_products",
        ["last_named_at", "conversation_id", "product"],
    )
    op.create_index(
        "ix_conversations_created_at",
        "conversations",
        ["created_at"],
        postgresql_include=CONVERSATION_SUMMARY_INCLUDE,
    )
    op.create_index(
        "ix_messages_conversation_sent_at",
        "messages",
        ["conversation_id", "sent_at"],
        postgresql_include=["author", "id"],
    )
    op.drop_index("ix_messages_conversation_id", table_name="messages")
    op.create_index(
        "ix_messages_first_answer_at",
        "messages",
        ["first_answer_at"],
        postgresql_include=ANSWERED_INCLUDE,
        sqlite_where=sa.text("first_answer_at IS NOT NULL"),
        postgresql_where=sa.text("first_answer_at IS NOT NULL"),
    )
    op.create_index(
        "ix_messages_author_sent_at",
        "messages",
        ["author", "sent_at"],
        postgresql_include=[*AUTHOR_SENT_AT_INCLUDE, "sentiment_label"],
    )


def downgrade() -> None:
    op.create_index("ix_messages_conversation_id", "messages", ["conversation_id"])
    op.drop_index("ix_messages_conversation_sent_at", table_name="messages")
    op.drop_index("ix_messages_first_answer_at", table_name="messages")
    op.drop_index("ix_messages_author_sent_at", table_name="messages")
    op.drop_index("ix_conversations_created_at", table_name="conversations")
    op.drop_index("ix_conversation_products_last_named_at", table_name="conversation_products")
    op.drop_table("conversation_products")
    op.drop_index("ix_conversation_intents_intent", table_name="conversation_intents")
    op.drop_table("conversation_intents")
    op.drop_table("message_hours")
    op.drop_table("answer_hours")
    op.drop_table("intent_hours")
    with op.batch_alter_table("conversations") as table:
        for name in (
            "thumbs_down",
            "thumbs_up",
            "first_handoff_at",
            "first_agent_at",
            "last_bot_at",
            "last_customer_at",
        ):
            table.drop_column(name)
    with op.batch_alter_table("escalations") as table:
        table.drop_column("first_response_at")
    with op.batch_alter_table("messages") as table:
        for name in ("answered_from_past_reply", "answered_by_fallback", "first_answer_at", "sentiment_label"):
            table.drop_column(name)
    op.create_index("ix_conversations_created_at", "conversations", ["created_at"])
    op.create_index(
        "ix_messages_author_sent_at",
        "messages",
        ["author", "sent_at"],
        postgresql_include=[*AUTHOR_SENT_AT_INCLUDE, "sentiment"],
    )
    op.create_index(
        "ix_messages_product_mentions",
        "messages",
        ["sent_at"],
        postgresql_include=["conversation_id"],
        sqlite_where=sa.text(PRODUCT_MENTION),
        postgresql_where=sa.text(PRODUCT_MENTION),
    )
