"""Analytics: plays (one per listener per track per hour, no IP address), viewers per show
sampled over time, follow/unfollow events (follower growth), and tips as the tip watcher
announces them (sales and subscriptions are in market_*).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from backend.models import Id, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ADDRESS = sa.String(42)


def upgrade() -> None:
    op.create_table(
        "analytics_plays",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("track_id", sa.BigInteger, nullable=False),
        sa.Column("artist", ADDRESS, nullable=False),
        sa.Column("listener", sa.String(64), nullable=False),
        sa.Column("hour", UTCDateTime, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("track_id", "listener", "hour", name="uq_analytics_plays_hour"),
    )
    op.create_index("ix_analytics_plays_artist_at", "analytics_plays", ["artist", "at"])
    op.create_index(
        "ix_analytics_plays_listener", "analytics_plays", ["track_id", "listener", "at"]
    )
    op.create_table(
        "analytics_viewer_samples",
        sa.Column("stream_id", sa.String(64), primary_key=True),
        sa.Column("at", UTCDateTime, primary_key=True),
        sa.Column("artist", ADDRESS, nullable=False),
        sa.Column("viewers", sa.Integer, nullable=False),
    )
    op.create_index(
        "ix_analytics_viewer_samples_artist", "analytics_viewer_samples", ["artist", "at"]
    )
    op.create_table(
        "analytics_follow_events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("artist", ADDRESS, nullable=False),
        sa.Column("delta", sa.Integer, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_index(
        "ix_analytics_follow_events_artist", "analytics_follow_events", ["artist", "at"]
    )
    # Followers from before this revision count from the day they followed.
    op.execute(
        "INSERT INTO analytics_follow_events (artist, delta, at) "
        "SELECT artist, 1, created_at FROM follows"
    )
    op.create_table(
        "analytics_tips",
        sa.Column("tx_hash", sa.String(66), primary_key=True),
        sa.Column("log_index", sa.Integer, primary_key=True),
        sa.Column("artist", ADDRESS, nullable=False),
        sa.Column("fan", ADDRESS, nullable=False),
        sa.Column("amount_wei", sa.String(78), nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_analytics_tips_artist", "analytics_tips", ["artist", "at"])


def downgrade() -> None:
    op.drop_index("ix_analytics_tips_artist", "analytics_tips")
    op.drop_table("analytics_tips")
    op.drop_index("ix_analytics_follow_events_artist", "analytics_follow_events")
    op.drop_table("analytics_follow_events")
    op.drop_index("ix_analytics_viewer_samples_artist", "analytics_viewer_samples")
    op.drop_table("analytics_viewer_samples")
    op.drop_index("ix_analytics_plays_listener", "analytics_plays")
    op.drop_index("ix_analytics_plays_artist_at", "analytics_plays")
    op.drop_table("analytics_plays")
