"""recommender models: the fitted content ranker, signed, in SQL so every action server reads the same one
(issue 16: ranked by a model that learns from opens and dismissals)

Revision ID: 0021_recommender_models
Revises: 0020_summary_agent_waits
Create Date: 2026-12-07 03:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_recommender_models"
down_revision = "0020_summary_agent_waits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recommender_models",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("fitted_at", sa.DateTime(), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("recommender_models")
