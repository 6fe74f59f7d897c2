"""conversations.status in one vocabulary: pending, escalated, open, resolved (conversations/status.py)

Before this revision the database said `bot` and `agent` where the inbox's API said `pending` and `open`.
Rows are renamed, and a CHECK constraint keeps anything else out, whichever process writes.

Revision ID: 0008_conversation_status
Revises: 0007_customer_verification
Create Date: 2026-12-04 17:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_conversation_status"
down_revision = "0007_customer_verification"
branch_labels = None
depends_on = None

RENAMES = {"bot": "pending", "agent": "open"}
STATUSES = ("pending", "escalated", "open", "resolved")
CONSTRAINT = "ck_conversations_status"


def _rename(mapping: dict) -> None:
    conversations = sa.table("conversations", sa.column("status", sa.String))
    for old, new in mapping.items():
        op.execute(conversations.update().where(conversations.c.status == old).values(status=new))


def upgrade() -> None:
    _rename(RENAMES)
    allowed = ", ".join(f"'{s}'" for s in STATUSES)
    with op.batch_alter_table("conversations") as table:
        table.alter_column("status", existing_type=sa.String(length=20), server_default="pending")
        table.create_check_constraint(CONSTRAINT, f"status IN ({allowed})")


def downgrade() -> None:
    with op.batch_alter_table("conversations") as table:
        table.drop_constraint(CONSTRAINT, type_="check")
        table.alter_column("status", existing_type=sa.String(length=20), server_default=None)
    _rename({new: old for old, new in RENAMES.items()})
