"""The media server behind WHIP ingest and viewer playback.

`BuiltinRelay` (aiortc, in-process) is the default. A deployment that outgrows one process puts a
real SFU behind the same interface (`JanusMediaServer`); the WHIP endpoint, tokens and fan page
do not change. Viewers either offer (WHEP, `viewer_flow == "whep"`) or are offered to by the
server (`viewer_flow == "server-offer"`: `watch` returns the server's offer, `answer` completes).
"""

from collections.abc import Iterable, Sequence
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


class MediaServerUnavailable(StreamError):
    """The media server behind the backend does not answer (down, restarting): try again."""

    status = 503


class MediaServerRefused(StreamError):
    """The media server behind the backend refused a request for a reason of its own."""

    status = 502


class WrongViewerFlow(StreamError):
    """A viewer spoke the other playback flow (a WHEP offer to a server that offers itself):
    the stream is there, in a state (flow) that conflicts with the request."""

    status = 409


class TooManySessions(StreamError):
    """One client (an address, or an account) already holds its share of viewer sessions."""

    status = 429


@dataclass(frozen=True)
class SessionAnswer:
    resource_id: str  # names the session in the WHIP/WHEP resource URL
    sdp: str


@dataclass(frozen=True)
class ViewerOffer:
    resource_id: str  # names the viewer's session in /watch/{stream}/{resource}
    sdp: str  # the server's offer, for the viewer to answer


@dataclass(frozen=True)
class RelayedStream:
    name: str
    viewers: int
    started_at: float  # Unix time
    audio_codec: str | None
    video_codec: str | None


def check_client_share(held: Iterable[Sequence[str]], clients: Sequence[str], cap: int) -> None:
    """Refuse one more session to a client of `clients` that already holds `cap` of the
    sessions whose holders are `held` (0: no cap)."""
    if not cap:
        return
    sessions = list(held)
    for client in clients:
        count = sum(1 for holders in sessions if client in holders)
        if count >= cap:
            who = "this account" if client.startswith("account:") else "this address"
            raise TooManySessions(
                f"{who.capitalize()} is already watching in {count} players at once (the "
                f"most allowed is {cap}); close one and try again."
            )


class MediaServer(Protocol):
    viewer_flow: str  # "whep" (viewers offer) or "server-offer" (watch, then answer)

    async def publish(self, stream: str, offer_sdp: str) -> SessionAnswer:
        """Accept an artist's WHIP offer for `stream`; replaces an earlier ingest of it."""
        ...

    async def unpublish(self, stream: str, resource_id: str) -> None: ...

    async def play(self, stream: str, offer_sdp: str, clients: Sequence[str] = ()) -> SessionAnswer:
        """Accept a viewer's WHEP offer for a live `stream`. `clients` names who asks (e.g.
        "ip:203.0.113.5", "account:0x..."): each may hold only so many sessions at once."""
        ...

    async def stop_playing(self, stream: str, resource_id: str) -> None: ...

    async def watch(self, stream: str, clients: Sequence[str] = ()) -> ViewerOffer:
        """Server-offer flow: a new viewer session of a live `stream`, with the server's offer."""
        ...

    async def answer(self, stream: str, resource_id: str, answer_sdp: str) -> None:
        """Server-offer flow: the viewer's answer to the offer `watch` returned."""
        ...

    def live_streams(self) -> list[RelayedStream]: ...

    async def close(self) -> None: ...
