"""Database tables (SQLAlchemy 2 declarative). The schema itself is created by migrations."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
Id = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"

    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    role: Mapped[str] = mapped_column(String(8))
    display_name: Mapped[str] = mapped_column(String(64))
    bio: Mapped[str] = mapped_column(Text, default="")
    avatar_cid: Mapped[str | None] = mapped_column(String(128))
    links: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_accounts_role_created", "role", "created_at"),)


class Follow(Base):
    __tablename__ = "follows"

    follower: Mapped[str] = mapped_column(String(42), primary_key=True)
    artist: Mapped[str] = mapped_column(
        String(42), ForeignKey("accounts.address", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_follows_artist", "artist"),)


class TrackRow(Base):
    __tablename__ = "tracks"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    artist_address: Mapped[str] = mapped_column(
        String(42), ForeignKey("accounts.address", ondelete="CASCADE")
    )
    # Denormalised so full-text search covers "title + artist" from one row.
    artist_name: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    cid: Mapped[str] = mapped_column(String(128))
    duration_s: Mapped[float] = mapped_column(Float)
    loudness_lufs: Mapped[float | None] = mapped_column(Float)
    artwork_cid: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "listed" (shown to fans), "held" (matches another artist's recording: not shown until
    # a reviewer decides) or "rejected" (a reviewer kept it off; why: held_reason)
    status: Mapped[str] = mapped_column(String(16), default="listed", server_default="listed")
    held_reason: Mapped[str | None] = mapped_column(String(400))
    reviewed_by: Mapped[str | None] = mapped_column(String(42))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("artist_address", "cid", name="uq_tracks_artist_cid"),
        Index("ix_tracks_created", "created_at"),
        Index("ix_tracks_artist", "artist_address", "created_at"),
        Index("ix_tracks_status", "status", "created_at"),
    )


class TrackFingerprint(Base):
    """A track's Chromaprint raw fingerprint: little-endian unsigned 32-bit words."""

    __tablename__ = "track_fingerprints"

    track_id: Mapped[int] = mapped_column(
        Id, ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True
    )
    duration_s: Mapped[float] = mapped_column(Float)
    words: Mapped[bytes] = mapped_column(LargeBinary)


class StreamRow(Base):
    __tablename__ = "streams"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    artist_address: Mapped[str] = mapped_column(String(42))
    title: Mapped[str] = mapped_column(String(200))
    viewers: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_streams_live", "ended_at", "started_at"),)


class ChatMessageRow(Base):
    __tablename__ = "chat_messages"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    stream_id: Mapped[str] = mapped_column(String(64), ForeignKey("streams.id", ondelete="CASCADE"))
    sender: Mapped[str] = mapped_column(String(42))
    text: Mapped[str] = mapped_column(Text)
    client_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_chat_stream_id", "stream_id", "id"),
        UniqueConstraint("stream_id", "sender", "client_id", name="uq_chat_client_id"),
    )


class ChatMute(Base):
    """A ban (no end) or a time-out (until `expires_at`) in every chat of one artist."""

    __tablename__ = "chat_mutes"

    artist: Mapped[str] = mapped_column(String(42), primary_key=True)
    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ChatModerator(Base):
    __tablename__ = "chat_moderators"

    artist: Mapped[str] = mapped_column(String(42), primary_key=True)
    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChatSettingsRow(Base):
    __tablename__ = "chat_settings"

    artist: Mapped[str] = mapped_column(String(42), primary_key=True)
    slow_mode_s: Mapped[int] = mapped_column(Integer, default=0)
    blocked_words: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChatReport(Base):
    __tablename__ = "chat_reports"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(Id, ForeignKey("chat_messages.id", ondelete="CASCADE"))
    stream_id: Mapped[str] = mapped_column(String(64))
    reporter: Mapped[str] = mapped_column(String(42))
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("message_id", "reporter", name="uq_chat_reports_once"),
        Index("ix_chat_reports_stream", "stream_id", "id"),
    )


class NotificationRow(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    recipient: Mapped[str] = mapped_column(String(42))
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_notifications_recipient_id", "recipient", "id"),)


class NotificationRead(Base):
    __tablename__ = "notification_reads"

    recipient: Mapped[str] = mapped_column(String(42), primary_key=True)
    last_read_id: Mapped[int] = mapped_column(Id, default=0)


class AuthNonce(Base):
    __tablename__ = "auth_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_auth_nonces_expires", "expires_at"),)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    # sha256 of the token: a leaked database does not leak usable refresh tokens.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(42))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_refresh_tokens_address", "address"),)


class MailPrefs(Base):
    """Where and what one address wants by email (backend.mail)."""

    __tablename__ = "mail_prefs"

    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254))
    live: Mapped[bool] = mapped_column(Boolean, default=True)
    releases: Mapped[bool] = mapped_column(Boolean, default=True)
    digest: Mapped[str] = mapped_column(String(8), default="off")  # off | daily | weekly
    bounces: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxColumns:
    """What every outbox row has for its sender (backend.outbox): one row to send, kept until
    sent, claimed by one instance at a time under a lease."""

    # pending -> sending (claimed) -> sent | cancelled | failed, or the outbox's own ends
    # (mail: bounced; push: gone)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    claim: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(String(200))


class MailOutboxRow(OutboxColumns, Base):
    """One email to send, kept until sent: `key` makes each mail happen once at most."""

    __tablename__ = "mail_outbox"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    recipient: Mapped[str] = mapped_column(String(42))
    list: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_mail_outbox_due", "status", "not_before"),
        Index("ix_mail_outbox_recipient_sent", "recipient", "sent_at"),
    )


class PushSubscription(Base):
    """One browser's Web Push subscription (RFC 8030) of a signed-in fan (backend.web_push)."""

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    address: Mapped[str] = mapped_column(String(42))
    endpoint: Mapped[str] = mapped_column(String(1024), unique=True)
    p256dh: Mapped[str] = mapped_column(String(100))  # the browser's ECDH public key (RFC 8291)
    auth: Mapped[str] = mapped_column(String(32))  # its 16-byte auth secret, base64url
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_push_subscriptions_address", "address"),)


class PushOutboxRow(OutboxColumns, Base):
    """One push to send, kept until sent: `key` makes each push happen once at most."""

    __tablename__ = "push_outbox"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    subscription_id: Mapped[int] = mapped_column(Id)
    ref: Mapped[str] = mapped_column(String(64))  # the stream id
    payload: Mapped[str] = mapped_column(Text)  # JSON the service worker shows

    __table_args__ = (
        Index("ix_push_outbox_due", "status", "not_before"),
        Index("ix_push_outbox_subscription_sent", "subscription_id", "sent_at"),
    )


# ---- the marketplace and supporter subscriptions (backend.market) ----------------------------
# uint256 values (token ids, wei) are decimal strings: no SQL integer holds 2^256.


class MarketEventSeen(Base):
    """Every chain log the market indexer applied, so a batch delivered again changes nothing
    and notifies nobody twice."""

    __tablename__ = "market_events_seen"

    tx_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    block_number: Mapped[int] = mapped_column(BigInteger)


class MarketToken(Base):
    __tablename__ = "market_tokens"

    token_id: Mapped[str] = mapped_column(String(78), primary_key=True)
    cid: Mapped[str] = mapped_column(String(128))
    artist: Mapped[str] = mapped_column(String(42))
    edition: Mapped[int] = mapped_column(BigInteger)
    owner: Mapped[str] = mapped_column(String(42))

    __table_args__ = (Index("ix_market_tokens_owner", "owner"),)


class MarketListing(Base):
    __tablename__ = "market_listings"

    token_id: Mapped[str] = mapped_column(String(78), primary_key=True)
    seller: Mapped[str] = mapped_column(String(42))
    artist: Mapped[str] = mapped_column(String(42))
    cid: Mapped[str] = mapped_column(String(128))
    price_wei: Mapped[str] = mapped_column(String(78))
    block_number: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_market_listings_artist", "artist", "block_number"),)


class MarketSale(Base):
    __tablename__ = "market_sales"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    tx_hash: Mapped[str] = mapped_column(String(66))
    log_index: Mapped[int] = mapped_column(Integer)
    block_number: Mapped[int] = mapped_column(BigInteger)
    token_id: Mapped[str] = mapped_column(String(78))
    seller: Mapped[str] = mapped_column(String(42))
    buyer: Mapped[str] = mapped_column(String(42))
    artist: Mapped[str] = mapped_column(String(42))
    price_wei: Mapped[str] = mapped_column(String(78))
    royalty_wei: Mapped[str] = mapped_column(String(78))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("tx_hash", "log_index", name="uq_market_sales_log"),
        Index("ix_market_sales_artist", "artist", "id"),
    )


class MarketSupport(Base):
    """A subscription or renewal paid to an artist."""

    __tablename__ = "market_supports"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    tx_hash: Mapped[str] = mapped_column(String(66))
    log_index: Mapped[int] = mapped_column(Integer)
    block_number: Mapped[int] = mapped_column(BigInteger)
    fan: Mapped[str] = mapped_column(String(42))
    artist: Mapped[str] = mapped_column(String(42))
    tier: Mapped[int] = mapped_column(Integer)
    periods: Mapped[int] = mapped_column(Integer)
    amount_wei: Mapped[str] = mapped_column(String(78))
    active_until: Mapped[int] = mapped_column(BigInteger)  # unix s, the chain's clock
    renewal: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("tx_hash", "log_index", name="uq_market_supports_log"),
        Index("ix_market_supports_artist_fan", "artist", "fan"),
        Index("ix_market_supports_fan", "fan"),
    )


class GatedTrack(Base):
    """A supporters-only track: its ciphertext is in the content store under `cid`; its key is
    kept here wrapped by the backend's master key (backend.gated), never in plaintext."""

    __tablename__ = "gated_tracks"

    cid: Mapped[str] = mapped_column(String(128), primary_key=True)
    artist: Mapped[str] = mapped_column(String(42))
    title: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)  # plaintext bytes
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_gated_tracks_artist", "artist", "created_at"),)


# ---- analytics (backend.analytics) -----------------------------------------------------------


class PlayRow(Base):
    """A play the fan page reported after 30 s of playback. `listener` is a hash of the
    signed-in address or of the page's random id; no IP address is kept. `hour` (the hour the
    play started in) backs the once-an-hour rule across instances."""

    __tablename__ = "analytics_plays"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    track_id: Mapped[int] = mapped_column(BigInteger)
    artist: Mapped[str] = mapped_column(String(42))
    listener: Mapped[str] = mapped_column(String(64))
    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("track_id", "listener", "hour", name="uq_analytics_plays_hour"),
        Index("ix_analytics_plays_artist_at", "artist", "at"),
        Index("ix_analytics_plays_listener", "track_id", "listener", "at"),
    )


class ViewerSample(Base):
    """A show's viewer count at one sampling instant (`at`, a multiple of the interval)."""

    __tablename__ = "analytics_viewer_samples"

    stream_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    artist: Mapped[str] = mapped_column(String(42))
    viewers: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_analytics_viewer_samples_artist", "artist", "at"),)


class FollowEvent(Base):
    """+1 for a follow, -1 for an unfollow: follower growth per day."""

    __tablename__ = "analytics_follow_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    artist: Mapped[str] = mapped_column(String(42))
    delta: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_analytics_follow_events_artist", "artist", "at"),)


class TipRow(Base):
    """A confirmed tip as the tip watcher announced it."""

    __tablename__ = "analytics_tips"

    tx_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    artist: Mapped[str] = mapped_column(String(42))
    fan: Mapped[str] = mapped_column(String(42))
    amount_wei: Mapped[str] = mapped_column(String(78))
    block_number: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_analytics_tips_artist", "artist", "at"),)
