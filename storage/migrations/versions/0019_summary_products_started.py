"""analytics summary: the conversation's created_at and channel on its product rows, indexed by the start, so
conversations by product read conversation_products alone (issue 17)

Over 1,000,000 messages, 92 days by week, conversations by product was the one conversation chart above 300 ms
(p50 340 / p95 470 ms, benchmarks/results/analytics.md): a hash join of the 153,000 product rows named in the
period with the 200,000 conversations only for each conversation's start (and channel when filtered).
storage/summary.py now copies both onto the product row when it is inserted and follows a change of the
conversation's; this migration adds the columns, fills them from conversations, and adds the index the query
reads.

Revision ID: 0019_summary_products_started
Revises: 0018_analytics_summary
Create Date: 2026-12-06 14:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_summary_products_started"
down_revision = "0018_analytics_summary"
branch_labels = None
depends_on = None

# as in storage/models.py (the migration keeps its own copy)
CONVERSATION_PRODUCT_INCLUDE = ["conversation_id", "product", "channel", "last_named_at"]
STARTED = """
UPDATE conversation_products SET
    conversation_created_at = (SELECT c.created_at FROM conversations AS c WHERE c.id = conversation_id),
    channel = (SELECT c.channel FROM conversations AS c WHERE c.id = conversation_id)
"""


def upgrade() -> None:
    op.add_column("conversation_products", sa.Column("conversation_created_at", sa.DateTime(), nullable=True))
    op.add_column("conversation_products", sa.Column("channel", sa.String(length=40), nullable=True))
    op.execute(sa.text(STARTED))
    with op.batch_alter_table("conversation_products") as table:
        table.alter_column("conversation_created_at", existing_type=sa.DateTime(), nullable=False)
        table.alter_column("channel", existing_type=sa.String(length=40), nullable=False)
    op.create_index(
        "ix_conversation_products_conversation_created_at",
        "conversation_products",
        ["conversation_created_at"],
        postgresql_include=CONVERSATION_PRODUCT_INCLUDE,
    )


def downgrade() -> None:
    op.drop_index("ix_conversation_products_conversation_created_at", table_name="conversation_products")
    with op.batch_alter_table("conversation_products") as table:
        table.drop_column("channel")
        table.drop_column("conversation_created_at")
