"""content_items.updated_at index: the recommender's library cache checks the table for changes on every call

`recommendations/items.py` re-reads the library only when its fingerprint (row count, newest `updated_at`,
newest `retired_at`) moves, and reads that fingerprint in every recommendation. Without an index on
`updated_at` the newest one is found by reading every row with its body (4.9 ms of CPU per call at 10,000 items,
benchmarks/results/recommendations_latency.md); with it, one look-up at the end of the index. `retired_at`
already leads `ix_content_items_retired_category` (0013).

Revision ID: 0017_content_items_updated_at
Revises: 0016_retrain_jobs
Create Date: 2026-12-06 10:20:00
"""

from alembic import op

revision = "0017_content_items_updated_at"
down_revision = "0016_retrain_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_content_items_updated_at", "content_items", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_content_items_updated_at", table_name="content_items")
