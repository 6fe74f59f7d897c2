"""retrain_jobs: the inbox's retrain and rollback requests, run one at a time by the learning worker (issue 15)

An admin's "Retrain now" or "Restore" is a row here; `python -m learning worker` takes it, runs the same code as
`make retrain` / `make rollback`, and writes its progress lines and result back. A partial unique index on the
constant `queue` column keeps at most one job queued or running, so two admins pressing at once get one job.

Revision ID: 0016_retrain_jobs
Revises: 0015_marketing_consent
Create Date: 2026-12-06 06:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_retrain_jobs"
down_revision = "0015_marketing_consent"
branch_labels = None
depends_on = None

WAITING_OR_RUNNING = sa.text("status IN ('queued', 'running')")


def upgrade() -> None:
    op.create_table(
        "retrain_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("target_version", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("queue", sa.String(length=20), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
        sa.Column("worker", sa.String(length=120), nullable=True),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("model_version", sa.String(length=64), nullable=True),
        sa.CheckConstraint("kind IN ('retrain', 'rollback')", name="ck_retrain_jobs_kind"),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'refused', 'failed')", name="ck_retrain_jobs_status"
        ),
        sa.ForeignKeyConstraint(["requested_by_id"], ["agents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_retrain_jobs_one_at_a_time",
        "retrain_jobs",
        ["queue"],
        unique=True,
        sqlite_where=WAITING_OR_RUNNING,
        postgresql_where=WAITING_OR_RUNNING,
    )


def downgrade() -> None:
    op.drop_index("uq_retrain_jobs_one_at_a_time", table_name="retrain_jobs")
    op.drop_table("retrain_jobs")
