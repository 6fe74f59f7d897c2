"""impressions keep their first open: the recommendation open rate over 92 days joined every open since the
period began to 300,000 impressions (267 ms p95 over 1,000,000 messages on PostgreSQL, the slowest analytics
query, benchmarks/results/analytics.md); with the first open on the impression it reads one range of impressions

Revision ID: 0024_impression_opened_at
Revises: 0023_content_event_by_impression
Create Date: 2026-12-07 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0024_impression_opened_at"
down_revision = "0023_content_event_by_impression"
branch_labels = None
depends_on = None

# the same values storage/summary.py keeps from each open event (its backfill runs the same statement)
BACKFILL = """
UPDATE content_impressions SET opened_at = (
    SELECT min(e.at) FROM content_events AS e WHERE e.impression_id = content_impressions.id AND e.kind = 'open'
)
WHERE EXISTS (
    SELECT 1 FROM content_events AS e WHERE e.impression_id = content_impressions.id AND e.kind = 'open'
)
"""


def upgrade() -> None:
    op.add_column("content_impressions", sa.Column("opened_at", sa.DateTime(), nullable=True))
    op.execute(BACKFILL)


def downgrade() -> None:
    with op.batch_alter_table("content_impressions") as batch:
        batch.drop_column("opened_at")
