"""The relay inside the whole backend: an artist publishes their announced stream with the
token of their signed-in session; viewer counts and the end reach backend.streams.announcements."""

import asyncio
from pathlib import Path

import httpx
import pytest

from backend.app import create_app
from backend.config import BackendConfig
from media.whep import WhepPlayer
from media.whip import WhipPublisher
from media.whip_errors import WhipAuthError
from tests.live_relay.artist import announce_stream
from tests.live_relay.conftest import free_port, wait_until
from tests.live_relay.packet_source import EncodedTestSource

pytestmark = pytest.mark.slow


@pytest.fixture
async def backend(tmp_path: Path):  # type: ignore[no-untyped-def]
    import uvicorn

    port = free_port()
    config = BackendConfig(
        port=port,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'backend.db'}",
        data_dir=tmp_path,
    )
    app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.ensure_future(server.serve())
    await wait_until(lambda: server.started or task.done(), 30, "the backend to start")
    if task.done():
        task.result()
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    await asyncio.wait_for(task, 15)


async def test_artist_publishes_an_announced_stream_with_their_session_token(backend) -> None:
    url, _app = backend
    artist = await announce_stream(url, "Friday session", name="Ada")
    other = await announce_stream(url, "Someone else's", name="Bob")
    source = EncodedTestSource(width=160, height=120, fps=30)
    source.start()
    intruder = WhipPublisher(f"{url}/whip/{artist.stream_id}", other.access_token, [source.video])
    with pytest.raises(WhipAuthError, match="403"):
        await intruder.start()
    await intruder.stop()

    publisher = WhipPublisher(
        f"{url}/whip/{artist.stream_id}", artist.access_token, [source.audio, source.video]
    )
    await publisher.start()
    player = WhepPlayer(f"{url}/whep/{artist.stream_id}", decode=False)
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:

        async def announced() -> dict:  # type: ignore[type-arg]
            return (await http.get(f"/streams/{artist.stream_id}")).json()

        try:
            await player.start()
            await wait_until(lambda: player.counts.frames["video"] > 5, what="frames")
            for _ in range(50):
                if (await announced())["viewers"] == 1:
                    break
                await asyncio.sleep(0.1)
            assert (await announced())["viewers"] == 1
        finally:
            await player.stop()
            await publisher.stop()  # DELETE with the session token: the stream is over
            source.stop()
        ended = await announced()
        assert ended["ended_at"] is not None and ended["viewers"] == 0
        assert (await http.get("/relay/live")).json() == []


async def test_a_reconnecting_artist_keeps_the_announced_show(backend) -> None:
    """A lost connection is not the end of the show: the publisher reconnects under the same
    announced stream, viewers keep watching, and only the artist's stop ends it (the soak's
    show ended at its first reconnection, with a 403 for every attempt after it)."""
    url, _app = backend
    artist = await announce_stream(url, "Long show", name="Ada")
    source = EncodedTestSource(width=160, height=120, fps=30)
    source.start()
    publisher = WhipPublisher(
        f"{url}/whip/{artist.stream_id}", artist.access_token, [source.audio, source.video]
    )
    await publisher.start()
    player = WhepPlayer(f"{url}/whep/{artist.stream_id}", decode=False)
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        try:
            await player.start()
            await wait_until(lambda: player.counts.frames["video"] > 5, what="frames")
            await publisher._pc.close()  # the connection drops (as after a network blip)
            await wait_until(lambda: publisher.reconnects == 1, 15, "a reconnection")
            await wait_until(lambda: publisher.state == "live", 30, "publishing again")
            frames = player.counts.frames["video"]
            await wait_until(
                lambda: player.counts.frames["video"] > frames + 30, 30, "frames after it"
            )
            show = (await http.get(f"/streams/{artist.stream_id}")).json()
            assert show["ended_at"] is None
        finally:
            await player.stop()
            await publisher.stop()
            source.stop()
        assert (await http.get(f"/streams/{artist.stream_id}")).json()["ended_at"] is not None
