"""Email notifications: per-address preferences and the persistent outbox.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from backend.models import Id, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_prefs",
        sa.Column("address", sa.String(42), primary_key=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("live", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("releases", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("digest", sa.String(8), nullable=False, server_default="off"),
        sa.Column("bounces", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "mail_outbox",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("recipient", sa.String(42), nullable=False),
        sa.Column("list", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("claim", sa.String(32), nullable=True),
        sa.Column("lease_until", UTCDateTime, nullable=True),
        sa.Column("not_before", UTCDateTime, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime, nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
    )
    op.create_index("ix_mail_outbox_due", "mail_outbox", ["status", "not_before"])
    op.create_index("ix_mail_outbox_recipient_sent", "mail_outbox", ["recipient", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_mail_outbox_recipient_sent", "mail_outbox")
    op.drop_index("ix_mail_outbox_due", "mail_outbox")
    op.drop_table("mail_outbox")
    op.drop_table("mail_prefs")
