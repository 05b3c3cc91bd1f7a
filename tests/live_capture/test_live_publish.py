"""The studio session publishes over WHIP to the backend's relay while it records; when the
connection drops the publisher reconnects and the recording has no gap."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI

import backend.streams as streams
from studio.live.session import LiveOptions, LiveSession
from studio.local_backend import free_port

from .conftest import decode_audio, decode_video


@pytest.fixture
async def relay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple]:  # type: ignore[type-arg]
    monkeypatch.setenv("HARMONIE_ICE_LOOPBACK", "only")  # media stays on 127.0.0.1
    from backend.streams.keys import read_ingest_token

    data_dir = tmp_path / "backend"
    router = streams.streams_router(data_dir)
    app = FastAPI()
    app.include_router(router)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}", read_ingest_token(data_dir), router.media_server
    server.should_exit = True
    await asyncio.wait_for(task, 15)


async def wait_until(predicate, timeout: float = 20.0, what: str = "it") -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_publish_drop_reconnect_and_gapless_recording(relay, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from media.whep import WhepPlayer

    url, token, media_server = relay
    path = tmp_path / "show.mkv"
    session = LiveSession()
    options = LiveOptions(
        width=320, height=240, video_bitrate=400_000, keyframe_interval_s=1.0,
        record_path=path, whip_url=f"{url}/whip/show", whip_token=token,
    )  # fmt: skip
    await session.start(options)
    viewer = WhepPlayer(f"{url}/whep/show", decode=True)
    try:
        await wait_until(lambda: session.publish_state == "live", what="publishing")
        await viewer.start()
        await wait_until(lambda: viewer.counts.frames["video"] >= 20, what="frames at a viewer")
        assert viewer.counts.video_size == (320, 240)

        await media_server._end_ingest(media_server._ingests["show"])  # the ingest drops us
        await wait_until(lambda: session.publish_state == "reconnecting", what="the drop")
        await wait_until(lambda: session.publish_state == "live", what="the reconnection")
        before = viewer.counts.frames["video"]
        await wait_until(lambda: viewer.counts.frames["video"] >= before + 20, what="new frames")
        await asyncio.sleep(1.1)  # let the stats loop see the publisher
        stats = session.stats()
        assert stats["reconnects"] >= 1 and stats["publish_state"] == "live"
        assert stats["codecs"] == {"video": "VP8", "audio": "opus"}
        assert stats["viewers"] == 1  # from the relay's live list
        asked_over = session._viewer_counter._client  # one HTTP client for the show's counts
        assert asked_over is not None and not asked_over.is_closed
    finally:
        await viewer.stop()
        await session.stop()
    assert asked_over.is_closed  # closed with the show

    assert any("Connection lost, reconnecting" in m for m in session.messages)
    elapsed = session.elapsed_s
    pictures = decode_video(path)
    times = np.array([float(f.time) for f in pictures])
    assert times[-1] - times[0] == pytest.approx(elapsed, abs=0.5)
    assert np.diff(times).max() < 0.25  # no hole while the network was down
    sound = decode_audio(path)
    assert len(sound) / 48_000 == pytest.approx(elapsed, abs=0.3)


async def test_refused_stream_key_is_a_message_and_recording_goes_on(relay, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, _token, _server = relay
    wrong = "not-the-key-0123456789"
    session = LiveSession()
    path = tmp_path / "kept.mkv"
    options = LiveOptions(
        width=320, height=240, record_path=path, whip_url=f"{url}/whip/show", whip_token=wrong
    )
    await session.start(options)
    await wait_until(lambda: session.publish_state == "failed", what="the refusal")
    await asyncio.sleep(1.0)
    assert session.state == "live"
    await session.stop()
    failure = next(m for m in session.messages if m.startswith("Publishing stopped"))
    assert "key" in failure.lower() and "The recording goes on." in failure
    assert all(wrong not in m for m in session.messages)
    assert len(decode_video(path)) >= 30
