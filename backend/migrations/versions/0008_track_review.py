"""Held tracks reviewed: who decided ("listed" or "rejected") and when.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from backend.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tracks") as batch:
        batch.add_column(sa.Column("reviewed_by", sa.String(42), nullable=True))
        batch.add_column(sa.Column("reviewed_at", UTCDateTime, nullable=True))
    op.create_index("ix_tracks_status", "tracks", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_tracks_status", "tracks")
    with op.batch_alter_table("tracks") as batch:
        batch.drop_column("reviewed_at")
        batch.drop_column("reviewed_by")
