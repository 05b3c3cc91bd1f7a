"""Content checks: each track's acoustic fingerprint (Chromaprint, raw), and a listing status
("held" when a track matches another artist's recording, with the reason).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from backend.models import Id

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tracks") as batch:
        batch.add_column(
            sa.Column("status", sa.String(16), nullable=False, server_default="listed")
        )
        batch.add_column(sa.Column("held_reason", sa.String(400), nullable=True))
    op.create_table(
        "track_fingerprints",
        sa.Column(
            "track_id",
            Id,
            sa.ForeignKey("tracks.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("words", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("track_fingerprints")
    with op.batch_alter_table("tracks") as batch:
        batch.drop_column("held_reason")
        batch.drop_column("status")
