"""The JSON the studio and the backend exchange: one set of pydantic models both import.

Field types here are the validation boundary: every string that reaches the database passed
through one of the `Annotated` types below (length limits, no control characters, no lone
surrogates, checksummed addresses).
"""

import re
from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from eth_utils import to_checksum_address
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _single_line(value: str) -> str:
    if _CONTROL_SINGLE_LINE.search(value):
        raise ValueError("must be a single line of printable text")
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


def _multi_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must be printable text")
    return value


def _json_integer(value: Any) -> Any:
    # JSON Schema counts 3.0 as an integer; strict validation would not.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


JsonInt = Annotated[int, BeforeValidator(_json_integer)]


def _checksum(value: str) -> str:
    return to_checksum_address(value)


Address = Annotated[
    str,
    Field(pattern=r"^0x[0-9a-fA-F]{40}$", examples=["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"]),
    AfterValidator(_checksum),
]
Cid = Annotated[
    str,
    Field(
        pattern=r"^(Qm[1-9A-HJ-NP-Za-km-z]{44}|b[a-z2-7]{50,100})$",
        description="IPFS CID (CIDv0 base58 or CIDv1 base32)",
    ),
]
# The same rules as patterns, so the OpenAPI document states them (clients and fuzzers see
# what will be accepted): printable, and for one-liners at least one non-space character.
# Python's \s and JSON Schema's (ECMA) differ on U+0085 (a C1 control, refused anyway) and
# U+FEFF, so U+FEFF is named: both dialects then accept the same strings.
SINGLE_LINE = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f\ufeff][^\x00-\x1f\x7f-\x9f]*$"
MULTI_LINE = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$"


def _one_line(max_length: int) -> Any:
    return Field(min_length=1, max_length=max_length, pattern=SINGLE_LINE)


Name = Annotated[str, _one_line(64), AfterValidator(_single_line)]
Title = Annotated[str, _one_line(200), AfterValidator(_single_line)]
Bio = Annotated[str, Field(max_length=1000, pattern=MULTI_LINE), AfterValidator(_multi_line)]
ChatText = Annotated[str, _one_line(500), AfterValidator(_single_line)]
# The same set in Python's and JSON Schema's (ECMA) regex dialects: their \s differ on
# U+0085 and U+FEFF, so controls (C0, DEL, C1) and U+FEFF are named.
Link = Annotated[
    str, Field(pattern=r"^https?://[^\s\x00-\x20\x7f-\x9f\ufeff]{1,300}$", max_length=300)
]
ClientId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
StreamId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]

Role = Literal["artist", "fan"]
NotificationKind = Literal[
    "tip_received",
    "new_follower",
    "chat_mention",
    "stream_started",
    "chat_report",
    "track_sold",  # backend.market: a sale of one of the artist's track editions
    "supporter_subscribed",  # backend.market: a subscription or renewal ("renewal": true)
    "track_reviewed",  # backend.review: a held track listed or rejected ("decision", "note")
]
NOTIFICATION_KINDS: tuple[str, ...] = NotificationKind.__args__  # type: ignore[attr-defined]

T = TypeVar("T")


class Wire(BaseModel):
    """Request bodies: unknown fields and type coercions (false -> 0.0) are refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ErrorBody(BaseModel):
    detail: str


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_offset: int | None = Field(None, description="offset of the next page; null at the end")


# -- auth -------------------------------------------------------------------------------------


class NonceOut(BaseModel):
    nonce: str
    expires_at: datetime


class VerifyIn(Wire):
    message: str = Field(min_length=1, max_length=4096, description="EIP-4361 message")
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="EIP-191 signature")


class RefreshIn(Wire):
    refresh_token: str = Field(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")


class TokenPair(BaseModel):
    address: str
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the access token expires")
    refresh_token: str


# -- accounts ---------------------------------------------------------------------------------


class ProfileIn(Wire):
    role: Role
    display_name: Name
    bio: Bio = ""
    avatar_cid: Cid | None = None
    links: list[Link] = Field(default_factory=list, max_length=8)


class Profile(BaseModel):
    address: str
    role: Role
    display_name: str
    bio: str
    avatar_cid: str | None
    links: list[str]
    followers: int
    created_at: datetime


class FollowState(BaseModel):
    artist: str
    following: bool
    followers: int


# -- discovery --------------------------------------------------------------------------------


FingerprintWord = Annotated[int, Field(ge=0, le=0xFFFFFFFF), BeforeValidator(_json_integer)]


class TrackIn(Wire):
    title: Title
    cid: Cid
    duration_s: float = Field(gt=0, le=24 * 3600)
    loudness_lufs: float | None = Field(None, ge=-70, le=10)
    artwork_cid: Cid | None = None
    # Chromaprint's raw fingerprint (fpcalc -raw: the first 120 s, about 970 words)
    fingerprint: list[FingerprintWord] | None = Field(None, min_length=1, max_length=1024)


class Track(BaseModel):
    id: int
    title: str
    artist_address: str
    artist_name: str
    cid: str
    duration_s: float
    loudness_lufs: float | None
    artwork_cid: str | None
    created_at: datetime
    # "held": it matches another artist's recording and is not shown to fans until a reviewer
    # decides (why: held_reason); "rejected": a reviewer kept it off (why: held_reason)
    status: Literal["listed", "held", "rejected"] = "listed"
    held_reason: str | None = None
    reviewed_at: datetime | None = None


class ReviewIn(Wire):
    """A reviewer's decision on a held track: list it, or keep it off with a reason the
    artist is shown."""

    decision: Literal["list", "reject"]
    note: str = Field("", max_length=300)


class LiveStream(BaseModel):
    id: str
    artist_address: str
    artist_name: str | None
    title: str
    viewers: int
    started_at: datetime
    ended_at: datetime | None = None


class SearchResults(BaseModel):
    query: str
    artists: Page[Profile]
    tracks: Page[Track]


# -- chat -------------------------------------------------------------------------------------


class ChatMessage(BaseModel):
    id: int
    stream_id: str
    sender: str
    sender_name: str | None
    text: str = Field(description="plain text; escape it wherever it is rendered")
    created_at: datetime


class ChatSendIn(Wire):
    text: ChatText
    client_id: ClientId | None = Field(
        None, description="sender-chosen id: resending the same one never duplicates a message"
    )


class MuteIn(Wire):
    address: Address


class MuteState(BaseModel):
    artist: str
    address: str
    muted: bool
    until: datetime | None = Field(None, description="end of a time-out; null for a ban")


MAX_TIMEOUT_S = 7 * 24 * 3600
MAX_SLOW_MODE_S = 3600
TimeoutSeconds = Annotated[int, Field(ge=1, le=MAX_TIMEOUT_S), BeforeValidator(_json_integer)]
SlowModeSeconds = Annotated[
    int,
    Field(ge=0, le=MAX_SLOW_MODE_S, description="0 turns slow mode off"),
    BeforeValidator(_json_integer),
]
BlockedWord = Annotated[str, _one_line(50), AfterValidator(_single_line)]
ReportReason = Annotated[
    str, Field(max_length=200, pattern=r"^[^\x00-\x1f\x7f-\x9f]*$"), AfterValidator(_multi_line)
]


class TimeoutIn(Wire):
    seconds: TimeoutSeconds


class ChatSettingsIn(Wire):
    """Only the fields given change."""

    slow_mode_s: SlowModeSeconds | None = None
    blocked_words: list[BlockedWord] | None = Field(
        None, max_length=200, description="matched as whole words, ignoring case"
    )


class ChatSettings(BaseModel):
    artist: str
    slow_mode_s: int
    blocked_words: list[str]


class ModeratorState(BaseModel):
    artist: str
    address: str
    moderator: bool


class ReportIn(Wire):
    reason: ReportReason = ""


class ChatReportOut(BaseModel):
    id: int
    message_id: int
    stream_id: str
    reporter: str
    reason: str
    created_at: datetime


# -- notifications ----------------------------------------------------------------------------


class Notification(BaseModel):
    id: int
    kind: NotificationKind
    data: dict[str, Any]
    created_at: datetime
    read: bool


class NotificationsPage(BaseModel):
    items: list[Notification]
    last_read_id: int
    next_cursor: int | None = Field(
        None, description="for the next page: pass as `after` (oldest-first) or `before`"
    )


class ReadIn(Wire):
    up_to: JsonInt = Field(
        ge=0, le=2**53 - 1, description="mark every notification with id <= up_to read"
    )


# -- analytics (backend.analytics) ------------------------------------------------------------

# The fan page's random listener id (kept in its localStorage), for fans not signed in.
ListenerId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{16,64}$")]
PLAY_MIN_S = 30.0  # playback before a play counts
ANALYTICS_MAX_DAYS = 366  # days in one GET /me/analytics


class PlayIn(Wire):
    track_id: JsonInt = Field(ge=1, le=2**53 - 1)
    listener: ListenerId | None = Field(
        None, description="the page's random id; ignored when signed in (the address counts)"
    )
    played_s: float = Field(ge=PLAY_MIN_S, le=24 * 3600, description="seconds played")


class PlayOut(BaseModel):
    counted: bool
    detail: str


class AnalyticsDay(BaseModel):
    day: date
    plays: int
    followers: int = Field(description="followers at the end of the day (UTC)")
    followers_gained: int
    followers_lost: int
    tips: int
    tips_wei: str  # decimal: JSON numbers lose precision past 2^53
    sales: int
    sales_wei: str
    subscriptions: int
    subscriptions_wei: str


class TrackAnalytics(BaseModel):
    track_id: int
    title: str
    plays: int
    listeners: int
    daily_plays: list[int] = Field(description="one count per day of the report's `days`")


class ViewerPoint(BaseModel):
    at: datetime
    viewers: int


class ShowAnalytics(BaseModel):
    stream_id: str
    title: str
    started_at: datetime
    ended_at: datetime | None
    peak_viewers: int
    average_viewers: float
    samples: list[ViewerPoint] = Field(description="the highest count of each time slice")


class AnalyticsReport(BaseModel):
    artist: str
    from_day: date
    to_day: date
    sample_interval_s: float
    days: list[AnalyticsDay]
    tracks: list[TrackAnalytics]
    shows: list[ShowAnalytics]


# -- WebSocket frames (JSON objects with a "type") ---------------------------------------------
# client -> server: {"type":"auth","token"} {"type":"send","text","client_id"?}
#                   {"type":"delete","id"} {"type":"mute"|"unmute","address"} {"type":"ping"}
#                   {"type":"timeout","address","seconds"} {"type":"report","id","reason"?}
#                   {"type":"settings","slow_mode_s"?,"blocked_words"?}
# server -> client: {"type":"history","messages":[...],"slow_mode_s"} {"type":"message","message"}
#                   {"type":"deleted","id"} {"type":"muted","address","until"}
#                   {"type":"unmuted","address"} {"type":"settings","slow_mode_s"}
#                   {"type":"moderator","address","moderator"} {"type":"reported","id"}
#                   {"type":"authed","address"}
#                   {"type":"notification","notification"} {"type":"backlog","notifications":[...]}
#                   {"type":"error","code","detail"} {"type":"pong"}


class WsAuth(Wire):
    type: Literal["auth"]
    token: str = Field(max_length=4096)


class WsSend(Wire):
    type: Literal["send"]
    text: ChatText
    client_id: ClientId | None = None


class WsDelete(Wire):
    type: Literal["delete"]
    id: JsonInt = Field(ge=1, le=2**53 - 1)


class WsMute(Wire):
    type: Literal["mute", "unmute"]
    address: Address


class WsTimeout(Wire):
    type: Literal["timeout"]
    address: Address
    seconds: TimeoutSeconds


class WsReport(Wire):
    type: Literal["report"]
    id: JsonInt = Field(ge=1, le=2**53 - 1)
    reason: ReportReason = ""


class WsSettings(ChatSettingsIn):
    type: Literal["settings"]


class WsPing(Wire):
    type: Literal["ping"]


ClientFrame = Annotated[
    WsAuth | WsSend | WsDelete | WsMute | WsTimeout | WsReport | WsSettings | WsPing,
    Field(discriminator="type"),
]
