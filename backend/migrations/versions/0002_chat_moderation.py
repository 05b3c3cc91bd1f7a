"""Chat moderation: timeouts (a mute with an end), moderators, slow mode and blocked words,
reports.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from backend.models import Id, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chat_mutes") as batch:
        batch.add_column(sa.Column("expires_at", UTCDateTime, nullable=True))
    op.create_table(
        "chat_moderators",
        sa.Column("artist", sa.String(42), primary_key=True),
        sa.Column("address", sa.String(42), primary_key=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "chat_settings",
        sa.Column("artist", sa.String(42), primary_key=True),
        sa.Column("slow_mode_s", sa.Integer, nullable=False, server_default="0"),
        sa.Column("blocked_words", sa.JSON, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "chat_reports",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "message_id",
            Id,
            sa.ForeignKey("chat_messages.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("stream_id", sa.String(64), nullable=False),
        sa.Column("reporter", sa.String(42), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("message_id", "reporter", name="uq_chat_reports_once"),
    )
    op.create_index("ix_chat_reports_stream", "chat_reports", ["stream_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_chat_reports_stream", "chat_reports")
    for table in ("chat_reports", "chat_settings", "chat_moderators"):
        op.drop_table(table)
    with op.batch_alter_table("chat_mutes") as batch:
        batch.drop_column("expires_at")
