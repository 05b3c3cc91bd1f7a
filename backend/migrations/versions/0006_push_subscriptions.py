"""Web Push: fans' browser subscriptions and the persistent push outbox.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from backend.models import Id, UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push_subscriptions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("endpoint", sa.String(1024), nullable=False, unique=True),
        sa.Column("p256dh", sa.String(100), nullable=False),
        sa.Column("auth", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_push_subscriptions_address", "push_subscriptions", ["address"])
    op.create_table(
        "push_outbox",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("subscription_id", Id, nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("claim", sa.String(32), nullable=True),
        sa.Column("lease_until", UTCDateTime, nullable=True),
        sa.Column("not_before", UTCDateTime, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime, nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
    )
    op.create_index("ix_push_outbox_due", "push_outbox", ["status", "not_before"])
    op.create_index(
        "ix_push_outbox_subscription_sent", "push_outbox", ["subscription_id", "sent_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_push_outbox_subscription_sent", "push_outbox")
    op.drop_index("ix_push_outbox_due", "push_outbox")
    op.drop_table("push_outbox")
    op.drop_index("ix_push_subscriptions_address", "push_subscriptions")
    op.drop_table("push_subscriptions")
