"""past replies for retrieval, answer feedback, retrieval columns on messages

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "past_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=120), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("product_line", sa.String(length=20), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=True),
        sa.Column("agent", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.Column("embedding_model", sa.String(length=120), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("external_id", name="uq_past_replies_external_id"),
    )
    # batch mode: SQLite cannot add a foreign key with ALTER TABLE, so it copies the table
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("past_reply_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("retrieval_score", sa.Float(), nullable=True))
        batch.create_foreign_key("fk_messages_past_reply_id", "past_replies", ["past_reply_id"], ["id"])
    op.create_table(
        "answer_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("past_reply_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"]),
        sa.ForeignKeyConstraint(["past_reply_id"], ["past_replies.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_answer_feedback_conversation_id", "answer_feedback", ["conversation_id"])
    op.create_index("ix_answer_feedback_past_reply_id", "answer_feedback", ["past_reply_id"])


def downgrade() -> None:
    op.drop_index("ix_answer_feedback_past_reply_id", table_name="answer_feedback")
    op.drop_index("ix_answer_feedback_conversation_id", table_name="answer_feedback")
    op.drop_table("answer_feedback")
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint("fk_messages_past_reply_id", type_="foreignkey")
        batch.drop_column("retrieval_score")
        batch.drop_column("past_reply_id")
    op.drop_table("past_replies")
