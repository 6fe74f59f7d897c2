"""model_versions: the learning loop's model registry (issue 15)

Every trained model with its data hash, the gate's metrics and verdict, and who promoted it. A partial
unique index keeps at most one `active` row, so two promotions at once cannot both win.

Revision ID: 0010_model_versions
Revises: 0009_annotations
Create Date: 2026-12-04 21:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_model_versions"
down_revision = "0009_annotations"
branch_labels = None
depends_on = None

ACTIVE = sa.text("status = 'active'")


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("archive", sa.String(length=500), nullable=False),
        sa.Column("archive_sha256", sa.String(length=64), nullable=False),
        sa.Column("data_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.Column("verdict", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("promoted_at", sa.DateTime(), nullable=True),
        sa.Column("promoted_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("status IN ('candidate', 'refused', 'active', 'retired')", name="ck_model_versions_status"),
        sa.ForeignKeyConstraint(["created_by_id"], ["agents.id"]),
        sa.ForeignKeyConstraint(["promoted_by_id"], ["agents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version"),
    )
    op.create_index(
        "uq_model_versions_active",
        "model_versions",
        ["status"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )


def downgrade() -> None:
    op.drop_index("uq_model_versions_active", table_name="model_versions")
    op.drop_table("model_versions")
