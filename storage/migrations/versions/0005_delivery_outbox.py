"""channel deliveries keep the message and its processing status, so an accepted message is never lost

Rows written before this revision were processed (or lost) already: they become `processed`.

Revision ID: 0005_delivery_outbox
Revises: 0004_inbox
Create Date: 2026-11-23 18:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_delivery_outbox"
down_revision = "0004_inbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channel_deliveries") as table:
        table.add_column(sa.Column("message", sa.JSON(), nullable=True))
        table.add_column(sa.Column("status", sa.String(length=12), nullable=False, server_default="processed"))
        table.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        table.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        table.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))
    op.create_index("ix_channel_deliveries_status", "channel_deliveries", ["status"])


def downgrade() -> None:
    op.drop_index("ix_channel_deliveries_status", table_name="channel_deliveries")
    with op.batch_alter_table("channel_deliveries") as table:
        for column in ("updated_at", "last_error", "attempts", "status", "message"):
            table.drop_column(column)
