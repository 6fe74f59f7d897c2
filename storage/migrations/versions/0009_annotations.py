"""annotations: people's readings of logged customer messages, for the review queue (issue 15)

The interaction log is never edited; an annotation keeps the model's label as logged beside the
annotator's. A partial unique index holds at most one active annotation per message, so two agents
annotating the same message at once cannot both win (SQLite and PostgreSQL both index `WHERE`).

Revision ID: 0009_annotations
Revises: 0008_conversation_status
Create Date: 2026-12-04 21:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_annotations"
down_revision = "0008_conversation_status"
branch_labels = None
depends_on = None

ACTIVE = sa.text("status = 'active'")


def upgrade() -> None:
    op.create_table(
        "annotations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("original_intent", sa.String(length=80), nullable=True),
        sa.Column("original_confidence", sa.Float(), nullable=True),
        sa.Column("original_sentiment", sa.JSON(), nullable=True),
        sa.Column("intent", sa.String(length=80), nullable=False),
        sa.Column("entities", sa.JSON(), nullable=False),
        sa.Column("sentiment", sa.String(length=10), nullable=True),
        sa.Column("reply_verdict", sa.String(length=30), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False, server_default="active"),
        sa.Column("undone_by_id", sa.Integer(), nullable=True),
        sa.Column("undone_at", sa.DateTime(), nullable=True),
        sa.Column("bulk", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.CheckConstraint("status IN ('active', 'undone')", name="ck_annotations_status"),
        sa.CheckConstraint(
            "sentiment IS NULL OR sentiment IN ('negative', 'neutral', 'positive')", name="ck_annotations_sentiment"
        ),
        sa.CheckConstraint(
            "reply_verdict IS NULL OR reply_verdict IN ('good', 'wrong', 'should_have_handed_over')",
            name="ck_annotations_reply_verdict",
        ),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"]),
        sa.ForeignKeyConstraint(["annotator_id"], ["agents.id"]),
        sa.ForeignKeyConstraint(["undone_by_id"], ["agents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_annotations_message_id", "annotations", ["message_id"])
    op.create_index("ix_annotations_annotator_id", "annotations", ["annotator_id"])
    op.create_index(
        "uq_annotations_active_message",
        "annotations",
        ["message_id"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )


def downgrade() -> None:
    op.drop_table("annotations")
