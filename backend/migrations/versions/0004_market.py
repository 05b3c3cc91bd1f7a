"""The marketplace and supporter subscriptions: indexed chain events (tokens, listings, sales,
subscriptions), the logs already applied, and supporters-only tracks with their wrapped keys.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from backend.models import Id, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ADDRESS = sa.String(42)
UINT256 = sa.String(78)


def upgrade() -> None:
    op.create_table(
        "market_events_seen",
        sa.Column("tx_hash", sa.String(66), primary_key=True),
        sa.Column("log_index", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "market_tokens",
        sa.Column("token_id", UINT256, primary_key=True),
        sa.Column("cid", sa.String(128), nullable=False),
        sa.Column("artist", ADDRESS, nullable=False),
        sa.Column("edition", sa.BigInteger, nullable=False),
        sa.Column("owner", ADDRESS, nullable=False),
    )
    op.create_index("ix_market_tokens_owner", "market_tokens", ["owner"])
    op.create_table(
        "market_listings",
        sa.Column("token_id", UINT256, primary_key=True),
        sa.Column("seller", ADDRESS, nullable=False),
        sa.Column("artist", ADDRESS, nullable=False),
        sa.Column("cid", sa.String(128), nullable=False),
        sa.Column("price_wei", UINT256, nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_market_listings_artist", "market_listings", ["artist", "block_number"])
    op.create_table(
        "market_sales",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("log_index", sa.Integer, nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        sa.Column("token_id", UINT256, nullable=False),
        sa.Column("seller", ADDRESS, nullable=False),
        sa.Column("buyer", ADDRESS, nullable=False),
        sa.Column("artist", ADDRESS, nullable=False),
        sa.Column("price_wei", UINT256, nullable=False),
        sa.Column("royalty_wei", UINT256, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("tx_hash", "log_index", name="uq_market_sales_log"),
    )
    op.create_index("ix_market_sales_artist", "market_sales", ["artist", "id"])
    op.create_table(
        "market_supports",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("log_index", sa.Integer, nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        sa.Column("fan", ADDRESS, nullable=False),
        sa.Column("artist", ADDRESS, nullable=False),
        sa.Column("tier", sa.Integer, nullable=False),
        sa.Column("periods", sa.Integer, nullable=False),
        sa.Column("amount_wei", UINT256, nullable=False),
        sa.Column("active_until", sa.BigInteger, nullable=False),
        sa.Column("renewal", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("tx_hash", "log_index", name="uq_market_supports_log"),
    )
    op.create_index("ix_market_supports_artist_fan", "market_supports", ["artist", "fan"])
    op.create_index("ix_market_supports_fan", "market_supports", ["fan"])
    op.create_table(
        "gated_tracks",
        sa.Column("cid", sa.String(128), primary_key=True),
        sa.Column("artist", ADDRESS, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_gated_tracks_artist", "gated_tracks", ["artist", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_gated_tracks_artist", "gated_tracks")
    op.drop_table("gated_tracks")
    op.drop_index("ix_market_supports_fan", "market_supports")
    op.drop_index("ix_market_supports_artist_fan", "market_supports")
    op.drop_table("market_supports")
    op.drop_index("ix_market_sales_artist", "market_sales")
    op.drop_table("market_sales")
    op.drop_index("ix_market_listings_artist", "market_listings")
    op.drop_table("market_listings")
    op.drop_index("ix_market_tokens_owner", "market_tokens")
    op.drop_table("market_tokens")
    op.drop_table("market_events_seen")
