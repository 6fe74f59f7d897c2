"""messages.agent_id: which agent wrote an agent reply, so the transcript can say who answered

Replies logged before this revision keep a null agent_id (the audit log's `reply` rows still name the agent).

Revision ID: 0006_message_agent
Revises: 0005_delivery_outbox
Create Date: 2026-12-01 07:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_message_agent"
down_revision = "0005_delivery_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as table:
        table.add_column(sa.Column("agent_id", sa.Integer(), nullable=True))
        table.create_foreign_key("fk_messages_agent_id_agents", "agents", ["agent_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("messages") as table:
        table.drop_constraint("fk_messages_agent_id_agents", type_="foreignkey")
        table.drop_column("agent_id")
