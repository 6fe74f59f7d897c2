"""content events by (impression, kind): recording an open or a dismissal looks for the impression's earlier event
of that kind (one per impression), and without this index SQLite read every event of that kind through 0022's
(kind, at) index (38 ms at 60,000 events, growing with them; benchmarks/results/recommendations_latency.md)

Revision ID: 0023_content_event_by_impression
Revises: 0022_content_event_impression
Create Date: 2026-12-07 07:40:00
"""

from alembic import op

revision = "0023_content_event_by_impression"
down_revision = "0022_content_event_impression"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_content_events_impression_kind", "content_events", ["impression_id", "kind"])


def downgrade() -> None:
    op.drop_index("ix_content_events_impression_kind", table_name="content_events")
