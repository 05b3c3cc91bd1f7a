"""The media server behind WHIP ingest and WHEP playback.

`BuiltinRelay` (aiortc, in-process) is the default. A deployment that outgrows one process puts a
real SFU behind the same interface; the HTTP endpoints, tokens and fan page do not change.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class StreamError(Exception):
    """A request the media server refuses; `status` is the HTTP status to answer with."""

    status = 400


class StreamNotLive(StreamError):
    status = 404


class NoCommonCodec(StreamError):
    # RFC 9725 leaves the code open for an unacceptable offer; 406 says "not acceptable".
    status = 406


class BadOffer(StreamError):
    status = 400


class ResourceNotFound(StreamError):
    status = 404


class RelayFull(StreamError):
    status = 503


class TooManySessions(StreamError):
    """One client (an address, or an account) already holds its share of viewer sessions."""

    status = 429


@dataclass(frozen=True)
class SessionAnswer:
    resource_id: str  # names the session in the WHIP/WHEP resource URL
    sdp: str


@dataclass(frozen=True)
class RelayedStream:
    name: str
    viewers: int
    started_at: float  # Unix time
    audio_codec: str | None
    video_codec: str | None


class MediaServer(Protocol):
    async def publish(self, stream: str, offer_sdp: str) -> SessionAnswer:
        """Accept an artist's WHIP offer for `stream`; replaces an earlier ingest of it."""
        ...

    async def unpublish(self, stream: str, resource_id: str) -> None: ...

    async def play(self, stream: str, offer_sdp: str, clients: Sequence[str] = ()) -> SessionAnswer:
        """Accept a viewer's WHEP offer for a live `stream`. `clients` names who asks (e.g.
        "ip:203.0.113.5", "account:0x..."): each may hold only so many sessions at once."""
        ...

    async def stop_playing(self, stream: str, resource_id: str) -> None: ...

    def live_streams(self) -> list[RelayedStream]: ...

    async def close(self) -> None: ...
