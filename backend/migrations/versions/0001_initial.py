"""Initial schema: accounts, follows, tracks, streams, chat, notifications, auth, search.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from backend.models import Id, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SQLITE_FTS = [
    # External-content FTS5 tables kept in step by triggers; prefix indexes make "word*" cheap.
    """CREATE VIRTUAL TABLE tracks_fts USING fts5(
        title, artist_name, content='tracks', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2', prefix='2 3')""",
    """CREATE TRIGGER tracks_fts_ai AFTER INSERT ON tracks BEGIN
        INSERT INTO tracks_fts(rowid, title, artist_name)
        VALUES (new.id, new.title, new.artist_name); END""",
    """CREATE TRIGGER tracks_fts_ad AFTER DELETE ON tracks BEGIN
        INSERT INTO tracks_fts(tracks_fts, rowid, title, artist_name)
        VALUES ('delete', old.id, old.title, old.artist_name); END""",
    """CREATE TRIGGER tracks_fts_au AFTER UPDATE OF title, artist_name ON tracks BEGIN
        INSERT INTO tracks_fts(tracks_fts, rowid, title, artist_name)
        VALUES ('delete', old.id, old.title, old.artist_name);
        INSERT INTO tracks_fts(rowid, title, artist_name)
        VALUES (new.id, new.title, new.artist_name); END""",
    """CREATE VIRTUAL TABLE accounts_fts USING fts5(
        display_name, bio, content='accounts', content_rowid='rowid',
        tokenize='unicode61 remove_diacritics 2', prefix='2 3')""",
    """CREATE TRIGGER accounts_fts_ai AFTER INSERT ON accounts BEGIN
        INSERT INTO accounts_fts(rowid, display_name, bio)
        VALUES (new.rowid, new.display_name, new.bio); END""",
    """CREATE TRIGGER accounts_fts_ad AFTER DELETE ON accounts BEGIN
        INSERT INTO accounts_fts(accounts_fts, rowid, display_name, bio)
        VALUES ('delete', old.rowid, old.display_name, old.bio); END""",
    """CREATE TRIGGER accounts_fts_au AFTER UPDATE OF display_name, bio ON accounts BEGIN
        INSERT INTO accounts_fts(accounts_fts, rowid, display_name, bio)
        VALUES ('delete', old.rowid, old.display_name, old.bio);
        INSERT INTO accounts_fts(rowid, display_name, bio)
        VALUES (new.rowid, new.display_name, new.bio); END""",
]

POSTGRES_FTS = [
    """CREATE INDEX ix_tracks_fts ON tracks
        USING GIN (to_tsvector('simple', title || ' ' || artist_name))""",
    """CREATE INDEX ix_accounts_fts ON accounts
        USING GIN (to_tsvector('simple', display_name || ' ' || bio))""",
]


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("address", sa.String(42), primary_key=True),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("display_name", sa.String(64), nullable=False),
        sa.Column("bio", sa.Text, nullable=False, server_default=""),
        sa.Column("avatar_cid", sa.String(128)),
        sa.Column("links", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_accounts_role_created", "accounts", ["role", "created_at"])
    op.create_table(
        "follows",
        sa.Column("follower", sa.String(42), primary_key=True),
        sa.Column(
            "artist",
            sa.String(42),
            sa.ForeignKey("accounts.address", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_follows_artist", "follows", ["artist"])
    op.create_table(
        "tracks",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "artist_address",
            sa.String(42),
            sa.ForeignKey("accounts.address", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("artist_name", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("cid", sa.String(128), nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("loudness_lufs", sa.Float),
        sa.Column("artwork_cid", sa.String(128)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("artist_address", "cid", name="uq_tracks_artist_cid"),
    )
    op.create_index("ix_tracks_created", "tracks", ["created_at"])
    op.create_index("ix_tracks_artist", "tracks", ["artist_address", "created_at"])
    op.create_table(
        "streams",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("artist_address", sa.String(42), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("viewers", sa.Integer, nullable=False, server_default="0"),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("ended_at", UTCDateTime),
    )
    op.create_index("ix_streams_live", "streams", ["ended_at", "started_at"])
    op.create_table(
        "chat_messages",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "stream_id",
            sa.String(64),
            sa.ForeignKey("streams.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("sender", sa.String(42), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("client_id", sa.String(64)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("deleted_at", UTCDateTime),
        sa.UniqueConstraint("stream_id", "sender", "client_id", name="uq_chat_client_id"),
    )
    op.create_index("ix_chat_stream_id", "chat_messages", ["stream_id", "id"])
    op.create_table(
        "chat_mutes",
        sa.Column("artist", sa.String(42), primary_key=True),
        sa.Column("address", sa.String(42), primary_key=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "notifications",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("recipient", sa.String(42), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_notifications_recipient_id", "notifications", ["recipient", "id"])
    op.create_table(
        "notification_reads",
        sa.Column("recipient", sa.String(42), primary_key=True),
        sa.Column("last_read_id", Id, nullable=False),
    )
    op.create_table(
        "auth_nonces",
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("used_at", UTCDateTime),
    )
    op.create_index("ix_auth_nonces_expires", "auth_nonces", ["expires_at"])
    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("used_at", UTCDateTime),
    )
    op.create_index("ix_refresh_tokens_address", "refresh_tokens", ["address"])

    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE_FTS, "postgresql": POSTGRES_FTS}.get(dialect, []):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TABLE IF EXISTS tracks_fts")
        op.execute("DROP TABLE IF EXISTS accounts_fts")
    for table in (
        "refresh_tokens",
        "auth_nonces",
        "notification_reads",
        "notifications",
        "chat_mutes",
        "chat_messages",
        "streams",
        "tracks",
        "follows",
        "accounts",
    ):
        op.drop_table(table)
