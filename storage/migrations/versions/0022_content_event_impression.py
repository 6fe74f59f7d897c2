"""content events by impression, impressions by time: the recommendation open rate (issue 17's analytics)
reads the impressions shown in a period and, for each, whether it was opened

Revision ID: 0022_content_event_impression
Revises: 0021_recommender_models
Create Date: 2026-12-07 04:20:00
"""

from alembic import op

revision = "0022_content_event_impression"
down_revision = "0021_recommender_models"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_content_events_kind_at", "content_events", ["kind", "at"], postgresql_include=["impression_id"]
    )
    op.create_index("ix_content_impressions_shown_at", "content_impressions", ["shown_at"])


def downgrade() -> None:
    op.drop_index("ix_content_impressions_shown_at", table_name="content_impressions")
    op.drop_index("ix_content_events_kind_at", table_name="content_events")
