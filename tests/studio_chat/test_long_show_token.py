"""A show outlives the artist's access token: the publisher asks for a fresh one at every
WHIP request. The backend here issues 2-second tokens, so by the time the connection drops
the token the show started with is refused; the reconnection and the final DELETE use new
ones (the backend client refreshes them)."""

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from media.whip import WhipPublisher
from studio.live.session import LiveOptions, LiveSession
from studio.social.stream_announcer import StreamAnnouncer
from tests.studio_chat.conftest import Backend, serve_backend, wait_until

TOKEN_TTL_S = 2


@pytest.fixture
async def short_token_backend(tmp_path: Path) -> AsyncIterator[Backend]:
    async with serve_backend(tmp_path, access_token_ttl_s=TOKEN_TTL_S) as served:
        yield served


async def test_a_show_longer_than_the_token_reconnects_and_ends_cleanly(
    short_token_backend: Backend, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:  # type: ignore[no-untyped-def]
    backend = short_token_backend
    artist = await _artist(backend)
    issued: list[str] = []
    fresh_token = artist.access_token

    async def recording_provider() -> str:
        token = await fresh_token()
        issued.append(token)
        return token

    monkeypatch.setattr(artist, "access_token", recording_provider)
    session = LiveSession()
    announcer = StreamAnnouncer(artist, session)
    caplog.set_level(logging.DEBUG)
    exchanges: list[tuple[str, int]] = []
    show = LiveOptions(
        width=160, height=120, fps=15, video_bitrate=150_000, keyframe_interval_s=1.0,
        whip_url=f"{backend.url}/whip/live", title="A long night",
    )  # fmt: skip
    await session.start(show)
    publisher = session.publisher
    try:
        await wait_until(lambda: session.publish_state == "live", what="publishing")
        publisher = session.publisher
        assert isinstance(publisher, WhipPublisher)
        assert announcer.stream is not None
        assert session.options is not None and callable(session.options.whip_token)

        async def note(response: httpx.Response) -> None:
            exchanges.append((response.request.method, response.status_code))

        publisher._http.event_hooks["response"].append(note)
        first = issued[-1]  # the token the show went live with
        await asyncio.sleep(TOKEN_TTL_S + 1.5)
        assert await _offer_status(publisher.url, first) == 403  # it has expired

        # The network drops; the publisher comes back with a token that is valid now.
        # (Its connection lives on the session's network thread: closed there.)
        assert publisher._pc is not None and session._net is not None
        await session._net.run(publisher._pc.close())
        await wait_until(lambda: publisher.reconnects >= 1, what="the drop to be noticed")
        await wait_until(lambda: session.publish_state == "live", what="the reconnection")
        assert ("POST", 201) in exchanges
        assert issued[-1] != first

        await asyncio.sleep(TOKEN_TTL_S + 1.5)  # the reconnection's token expires as well
    finally:
        await session.stop()
        await announcer.aclose()
        await artist.aclose()

    assert ("DELETE", 200) in exchanges and publisher.last_delete_ok is True
    assert exchanges[-1] == ("DELETE", 200)
    assert len(set(issued)) >= 3  # going live, reconnecting, ending: each its own token
    assert not any(token in caplog.text for token in issued)
    assert not any(token in message for token in issued for message in session.messages)


async def _artist(backend: Backend):  # type: ignore[no-untyped-def]
    from eth_account import Account

    from backend.wire import ProfileIn
    from studio.social.backend_client import BackendClient
    from tests.studio_chat.conftest import CHAIN_ID, key_signer

    client = BackendClient(backend.url, key_signer(Account.create()), chain_id=CHAIN_ID)
    await client.sign_in()
    await client.save_profile(ProfileIn(role="artist", display_name="Ada"))
    return client


async def _offer_status(url: str, token: str) -> int:
    """What the ingest answers a well-formed offer made with `token`."""
    from media.ice import peer_connection

    pc = peer_connection()
    pc.addTransceiver("video", direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    offer = pc.localDescription.sdp
    await pc.close()
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            url,
            content=offer.encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"},
        )
    return response.status_code
