"""marketing consent on customers, and the indexes a customer's profile is read by (issue 16)

The recommender sends no marketing to a customer who has not consented; until now nothing stored consent, so
no offer was ever shown. `marketing_consent_at` is when the customer gave it (NULL: not given, or withdrawn),
`marketing_consent_source` where (the insurer's sign-up form, the app, a signed web chat token...). The profile
(recommendations/profile.py) reads a customer's policies, their claims and a conversation's quotes on every
recommendation; without these indexes SQLite scans every policy and claim each time.

Revision ID: 0015_marketing_consent
Revises: 0014_analytics_indexes
Create Date: 2026-12-06 04:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_marketing_consent"
down_revision = "0014_analytics_indexes"
branch_labels = None
depends_on = None


CONSENT_COLUMNS = ("marketing_consent_at", "marketing_consent_source")


def upgrade() -> None:
    # plain ALTER TABLE, not batch mode: on SQLite a batch rebuild drops `customers`, which policies and
    # verifications reference, and the foreign keys refuse that
    op.add_column("customers", sa.Column("marketing_consent_at", sa.DateTime(), nullable=True))
    op.add_column("customers", sa.Column("marketing_consent_source", sa.String(length=60), nullable=True))
    op.create_index("ix_policies_customer_id", "policies", ["customer_id"])
    op.create_index("ix_claims_policy_id", "claims", ["policy_id"])
    op.create_index("ix_quotes_conversation_id", "quotes", ["conversation_id"])


def downgrade() -> None:
    op.drop_index("ix_quotes_conversation_id", table_name="quotes")
    op.drop_index("ix_claims_policy_id", table_name="claims")
    op.drop_index("ix_policies_customer_id", table_name="policies")
    for column in reversed(CONSENT_COLUMNS):
        if op.get_bind().dialect.name == "sqlite":  # SQLite ≥ 3.35 drops a column in place
            op.execute(f"ALTER TABLE customers DROP COLUMN {column}")
        else:
            op.drop_column("customers", column)
