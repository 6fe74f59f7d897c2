"""analytics indexes: the interaction log read by time, by author and by product mention (issue 17)

Chosen with EXPLAIN ANALYZE over 1,000,000 messages on PostgreSQL (benchmarks/analytics, results in
benchmarks/results/analytics.md): every analytics query reads a period of messages, conversations,
handoffs or ratings, and without these each one was a sequential scan of the whole table. The INCLUDE
columns let PostgreSQL answer from the index alone (SQLite ignores them); the partial index holds only
the customer messages whose entities mention a product, the ones analytics/scope.py parses.

Revision ID: 0014_analytics_indexes
Revises: 0013_content_library
Create Date: 2026-12-06 03:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_analytics_indexes"
down_revision = "0013_content_library"
branch_labels = None
depends_on = None

# as in storage/models.py (the migration keeps its own copy: a later change to the model must not rewrite it)
AUTHOR_SENT_AT_INCLUDE = ["conversation_id", "channel", "intent", "answer_source", "in_reply_to_id", "id", "sentiment"]
PRODUCT_MENTION = "author = 'customer' AND CAST(entities AS TEXT) LIKE '%\"product\"%'"


def upgrade() -> None:
    op.create_index("ix_conversations_created_at", "conversations", ["created_at"])
    op.create_index(
        "ix_messages_sent_at", "messages", ["sent_at"], postgresql_include=["conversation_id", "author", "channel"]
    )
    op.create_index(
        "ix_messages_author_sent_at",
        "messages",
        ["author", "sent_at"],
        postgresql_include=AUTHOR_SENT_AT_INCLUDE,
    )
    op.create_index(
        "ix_messages_product_mentions",
        "messages",
        ["sent_at"],
        postgresql_include=["conversation_id"],
        sqlite_where=sa.text(PRODUCT_MENTION),
        postgresql_where=sa.text(PRODUCT_MENTION),
    )
    op.create_index("ix_escalations_created_at", "escalations", ["created_at"])
    op.create_index("ix_escalations_resolved_at", "escalations", ["resolved_at"])
    op.create_index("ix_answer_feedback_created_at", "answer_feedback", ["created_at"])
    op.create_index("ix_answer_feedback_message_id", "answer_feedback", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_answer_feedback_message_id", table_name="answer_feedback")
    op.drop_index("ix_answer_feedback_created_at", table_name="answer_feedback")
    op.drop_index("ix_escalations_resolved_at", table_name="escalations")
    op.drop_index("ix_escalations_created_at", table_name="escalations")
    op.drop_index("ix_messages_product_mentions", table_name="messages")
    op.drop_index("ix_messages_author_sent_at", table_name="messages")
    op.drop_index("ix_messages_sent_at", table_name="messages")
    op.drop_index("ix_conversations_created_at", table_name="conversations")
