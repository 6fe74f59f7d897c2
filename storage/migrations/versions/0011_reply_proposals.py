"""reply_proposals: agents' replies to resolved handoffs, offered as past replies (issue 15)

Also two columns on past_replies for the customers' 👎: `demoted_at` (ranked lower) and `retired_at`
(no longer answered; `active` is false).

Revision ID: 0011_reply_proposals
Revises: 0010_model_versions
Create Date: 2026-12-04 21:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_reply_proposals"
down_revision = "0010_model_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reply_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("product_line", sa.String(length=20), nullable=True),
        sa.Column("source_message_ids", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="proposed", nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("edited", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("past_reply_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("status IN ('proposed', 'approved', 'rejected')", name="ck_reply_proposals_status"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.ForeignKeyConstraint(["escalation_id"], ["escalations.id"]),
        sa.ForeignKeyConstraint(["decided_by_id"], ["agents.id"]),
        sa.ForeignKeyConstraint(["past_reply_id"], ["past_replies.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("escalation_id", name="uq_reply_proposals_escalation"),
    )
    op.create_index("ix_reply_proposals_conversation_id", "reply_proposals", ["conversation_id"])
    with op.batch_alter_table("past_replies") as batch:
        batch.add_column(sa.Column("demoted_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("retired_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("past_replies") as batch:
        batch.drop_column("retired_at")
        batch.drop_column("demoted_at")
    op.drop_index("ix_reply_proposals_conversation_id", table_name="reply_proposals")
    op.drop_table("reply_proposals")
