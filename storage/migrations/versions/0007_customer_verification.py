"""customer verification: the policyholder's date of birth, per-conversation verifications, attempts

Account details go only to a conversation whose customer proved who they are; `customer_verifications`
is what the actions check, `verification_attempts` what the attempt limits count. Customers loaded
before this revision have no date of birth until the seed (or the policy system) fills it in, and
cannot verify by policy number and date of birth until then.

Revision ID: 0007_customer_verification
Revises: 0006_message_agent
Create Date: 2026-12-03 18:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_customer_verification"
down_revision = "0006_message_agent"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers") as table:
        table.add_column(sa.Column("date_of_birth", sa.Date(), nullable=True))
    op.create_table(
        "customer_verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("policy_number", sa.String(length=20), nullable=True),
        sa.Column("verified_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_customer_verifications_conversation_id", "customer_verifications", ["conversation_id"])
    op.create_index("ix_customer_verifications_customer_id", "customer_verifications", ["customer_id"])
    op.create_table(
        "verification_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("policy_number", sa.String(length=20), nullable=True),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("detail", sa.String(length=40), nullable=True),
        sa.Column("attempted_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_verification_attempts_conversation_id", "verification_attempts", ["conversation_id"])
    op.create_index("ix_verification_attempts_policy_number", "verification_attempts", ["policy_number"])
    op.create_index("ix_verification_attempts_attempted_at", "verification_attempts", ["attempted_at"])


def downgrade() -> None:
    op.drop_table("verification_attempts")
    op.drop_table("customer_verifications")
    with op.batch_alter_table("customers") as table:
        table.drop_column("date_of_birth")
