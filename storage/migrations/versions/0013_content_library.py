"""content library: items the bot recommends, their impressions and events (issue 16)

Revision ID: 0013_content_library
Revises: 0012_alerts
Create Date: 2026-12-05 23:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_content_library"
down_revision = "0012_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "content_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("category", sa.String(length=30), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column("image", sa.String(length=300), nullable=True),
        sa.Column("product_lines", sa.JSON(), nullable=False),
        sa.Column("life_events", sa.JSON(), nullable=False),
        sa.Column("claim_stages", sa.JSON(), nullable=False),
        sa.Column("incident_types", sa.JSON(), nullable=False),
        sa.Column("months", sa.JSON(), nullable=False),
        sa.Column("marketing", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("offers_product", sa.String(length=40), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("locale", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("retired_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "category IN ('claim_checklist', 'claim_guide', 'product_explainer', 'safety_tip', 'billing_howto', "
            "'offer')",
            name="ck_content_items_category",
        ),
        sa.CheckConstraint("body IS NOT NULL OR link IS NOT NULL", name="ck_content_items_body_or_link"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug", name="uq_content_items_slug"),
    )
    op.create_index("ix_content_items_retired_category", "content_items", ["retired_at", "category"])
    op.create_table(
        "content_impressions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("content_item_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("moment", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("shown_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["content_item_id"], ["content_items.id"]),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_content_impressions_customer_shown", "content_impressions", ["customer_id", "shown_at"])
    op.create_index("ix_content_impressions_conversation_shown", "content_impressions", ["conversation_id", "shown_at"])
    op.create_index("ix_content_impressions_item", "content_impressions", ["content_item_id"])
    op.create_table(
        "content_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("content_item_id", sa.Integer(), nullable=False),
        sa.Column("impression_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("conversation_id", sa.String(length=255), nullable=True),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('impression', 'open', 'dismiss', 'conversion')", name="ck_content_events_kind"),
        sa.ForeignKeyConstraint(["content_item_id"], ["content_items.id"]),
        sa.ForeignKeyConstraint(["impression_id"], ["content_impressions.id"]),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_content_events_customer_kind", "content_events", ["customer_id", "kind", "content_item_id"])
    op.create_index(
        "ix_content_events_conversation_kind", "content_events", ["conversation_id", "kind", "content_item_id"]
    )
    op.create_index("ix_content_events_item_kind_at", "content_events", ["content_item_id", "kind", "at"])


def downgrade() -> None:
    op.drop_index("ix_content_events_item_kind_at", table_name="content_events")
    op.drop_index("ix_content_events_conversation_kind", table_name="content_events")
    op.drop_index("ix_content_events_customer_kind", table_name="content_events")
    op.drop_table("content_events")
    op.drop_index("ix_content_impressions_item", table_name="content_impressions")
    op.drop_index("ix_content_impressions_conversation_shown", table_name="content_impressions")
    op.drop_index("ix_content_impressions_customer_shown", table_name="content_impressions")
    op.drop_table("content_impressions")
    op.drop_index("ix_content_items_retired_category", table_name="content_items")
    op.drop_table("content_items")
