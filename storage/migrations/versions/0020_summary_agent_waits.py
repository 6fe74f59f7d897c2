"""analytics summary: per agent message the previous agent message and the wait it answers, so reply time reads
the agent replies alone (issue 17)

Over 1,000,000 messages, 92 days by week, reply time took 512 ms p50 (benchmarks/results/analytics.md): two
window functions over the timeline of every conversation an agent wrote in, ~570,000 customer and agent
messages. storage/summary.py now keeps, on each agent message, the previous agent message's sent_at and the
first customer message since (in the timeline's (sent_at, id) order) as messages are written in any order;
this migration adds the columns, fills them from the log, and adds the partial index reply time reads.

Revision ID: 0020_summary_agent_waits
Revises: 0019_summary_products_started
Create Date: 2026-12-06 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_summary_agent_waits"
down_revision = "0019_summary_products_started"
branch_labels = None
depends_on = None

# as in storage/models.py and storage/summary.py (the migration keeps its own copy)
AGENT_WAIT = "author = 'agent' AND previous_agent_at IS NOT NULL AND waiting_since IS NOT NULL"
AGENT_WAIT_INCLUDE = ["conversation_id", "id", "previous_agent_at", "waiting_since"]
WAITS = """
UPDATE messages SET previous_agent_at = w.previous_agent_at, waiting_since = w.waiting_since
FROM (
    SELECT id, author, previous_agent_at,
           min(CASE WHEN author = 'customer' THEN sent_at END)
               OVER (PARTITION BY conversation_id, agents_before) AS waiting_since
    FROM (
        SELECT id, conversation_id, author, sent_at,
               count(CASE WHEN author = 'agent' THEN 1 END) OVER timeline AS agents_before,
               max(CASE WHEN author = 'agent' THEN sent_at END) OVER timeline AS previous_agent_at
        FROM messages WHERE author IN ('customer', 'agent')
        WINDOW timeline AS (
            PARTITION BY conversation_id ORDER BY sent_at, id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        )
    ) AS t
) AS w
WHERE messages.id = w.id AND w.author = 'agent'
"""


def upgrade() -> None:
    op.add_column("messages", sa.Column("previous_agent_at", sa.DateTime(), nullable=True))
    op.add_column("messages", sa.Column("waiting_since", sa.DateTime(), nullable=True))
    op.execute(sa.text(WAITS))
    op.create_index(
        "ix_messages_agent_waits",
        "messages",
        ["sent_at"],
        postgresql_include=AGENT_WAIT_INCLUDE,
        sqlite_where=sa.text(AGENT_WAIT),
        postgresql_where=sa.text(AGENT_WAIT),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_agent_waits", table_name="messages")
    with op.batch_alter_table("messages") as table:
        table.drop_column("waiting_since")
        table.drop_column("previous_agent_at")
