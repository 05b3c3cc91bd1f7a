"""An ingest that refuses our video codec gets the other one; the recording never stops.

The ingest here is real: a WHIP front that takes H.264 offers only (406 to anything else,
as such ingests do) and hands them to the backend's relay, which viewers watch over WHEP.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import av
import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

import backend.streams as streams
from media.encoder import VideoEncoder, VideoSettings
from studio.live.codec_fallback import TeeVideoEncoder
from studio.live.session import LiveOptions, LiveSession
from studio.local_backend import free_port

from .conftest import decode_audio, decode_video


@dataclass
class Ingest:
    url: str  # /take/<stream>: takes the codecs in `takes`; /vp9/<stream>: nothing we send
    token: str
    relay: object
    takes: set[str] = field(default_factory=lambda: {"H264"})
    offers: list[str] = field(default_factory=list)  # the video codec of each offer


@pytest.fixture
async def ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Ingest]:
    monkeypatch.setenv("HARMONIE_ICE_LOOPBACK", "only")  # media stays on 127.0.0.1
    from backend.streams.keys import read_ingest_token

    data_dir = tmp_path / "backend"
    router = streams.streams_router(data_dir)
    relay = router.media_server
    app = FastAPI()
    app.include_router(router)
    port = free_port()
    front = Ingest(url=f"http://127.0.0.1:{port}", token="", relay=relay)

    @app.post("/take/{stream}")
    async def take(stream: str, request: Request) -> Response:
        offer = (await request.body()).decode()
        codec = next((c for c in ("H264", "VP8") if f"{c}/90000" in offer), "?")
        front.offers.append(codec)
        if codec not in front.takes:
            names = " or ".join(sorted(front.takes))
            return Response(f"This ingest takes {names} video only.", status_code=406)
        answer = await relay.publish(stream, offer)
        return Response(
            answer.sdp,
            status_code=201,
            media_type="application/sdp",
            headers={"Location": f"/whip/{stream}/{answer.resource_id}"},  # the relay's DELETE
        )

    @app.post("/vp9/{stream}")
    async def vp9_only(stream: str) -> Response:
        return Response("This ingest takes VP9 video only.", status_code=406)

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    front.token = read_ingest_token(data_dir)
    yield front
    server.should_exit = True
    await asyncio.wait_for(task, 15)


async def wait_until(predicate, timeout: float = 20.0, what: str = "it") -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def recorded_video_codec(path: Path) -> str:
    with av.open(str(path)) as container:
        return container.streams.video[0].codec_context.name


async def test_refused_vp8_goes_out_as_h264_and_the_vp8_recording_has_no_gap(
    ingest: Ingest, tmp_path: Path
) -> None:
    from media.whep import WhepPlayer

    url, token, offers = ingest.url, ingest.token, ingest.offers
    path = tmp_path / "show.mkv"
    session = LiveSession()
    options = LiveOptions(
        width=320, height=240, video_bitrate=400_000, keyframe_interval_s=1.0, video_codec="vp8",
        record_path=path, whip_url=f"{url}/take/show", whip_token=token,
    )  # fmt: skip
    await session.start(options)
    viewer = WhepPlayer(f"{url}/whep/show", decode=False)
    try:
        await wait_until(lambda: session.publish_state == "live", what="publishing")
        assert offers == ["VP8", "H264"]  # refused once, then the other codec
        assert session.publisher is not None
        assert session.publisher.codecs["video"] == "H264"  # type: ignore[attr-defined]
        await viewer.start()
        await wait_until(lambda: viewer.counts.frames["video"] >= 20, what="frames at a viewer")
        assert viewer.counts.codecs["video"] == "H264"
        await asyncio.sleep(1.1)  # the stats loop reads the publisher
        assert session.stats()["codecs"] == {"video": "H264", "audio": "opus"}
    finally:
        await viewer.stop()
        await session.stop()

    said = " ".join(session.messages)
    assert "does not take VP8" in said and "publishing in H.264 instead" in said
    assert "The recording stays VP8, uninterrupted." in said
    assert not any(m.startswith("Publishing stopped") for m in session.messages)
    assert token not in said

    # One file, the codec it started with, no hole around the switch.
    assert recorded_video_codec(path) == "vp8"
    elapsed = session.elapsed_s
    pictures = decode_video(path)
    times = np.array([float(f.time) for f in pictures])
    assert times[0] < 0.2
    assert times[-1] - times[0] == pytest.approx(elapsed, abs=0.5)
    assert np.diff(times).max() < 0.25
    sound = decode_audio(path)
    assert len(sound) / 48_000 == pytest.approx(elapsed, abs=0.3)


async def test_without_a_recording_the_one_encoder_switches(ingest: Ingest) -> None:
    url, token, offers = ingest.url, ingest.token, ingest.offers
    session = LiveSession()
    options = LiveOptions(
        width=320, height=240, video_bitrate=400_000, keyframe_interval_s=1.0,
        whip_url=f"{url}/take/solo", whip_token=token,
    )  # fmt: skip
    await session.start(options)
    try:
        await wait_until(lambda: session.publish_state == "live", what="publishing")
        assert session.pipeline is not None and session.pipeline.video_encoder is not None
        # Encode once: the pipeline's only encoder is now the H.264 one.
        assert session.pipeline.video_encoder.codec_name == "h264"
        assert type(session.pipeline.video_encoder).__name__ == "VideoEncoder"
        assert offers == ["VP8", "H264"]
    finally:
        await session.stop()
    assert not any("recording" in m.lower() for m in session.messages if "H.264" in m)


async def test_an_ingest_taking_neither_codec_is_told_and_recording_goes_on(
    ingest: Ingest, tmp_path: Path
) -> None:
    url, token = ingest.url, ingest.token
    path = tmp_path / "kept.webm"
    session = LiveSession()
    options = LiveOptions(
        width=320, height=240, record_path=path, whip_url=f"{url}/vp9/show", whip_token=token
    )
    await session.start(options)
    await wait_until(lambda: session.publish_state == "failed", what="the refusal")
    await asyncio.sleep(1.0)
    assert session.state == "live"
    await session.stop()
    failure = next(m for m in session.messages if m.startswith("Publishing stopped"))
    assert "VP9 video only" in failure
    assert "It takes neither VP8 nor H.264." in failure and "The recording goes on." in failure
    assert recorded_video_codec(path) == "vp8"  # a .webm, which could not hold H.264
    assert len(decode_video(path)) >= 30


async def test_an_ingest_refusing_vp8_on_reconnection_gets_h264(
    ingest: Ingest, tmp_path: Path
) -> None:
    ingest.takes = {"VP8", "H264"}
    path = tmp_path / "night.mkv"
    session = LiveSession()
    options = LiveOptions(
        width=320, height=240, video_bitrate=400_000, keyframe_interval_s=1.0,
        record_path=path, whip_url=f"{ingest.url}/take/night", whip_token=ingest.token,
    )  # fmt: skip
    await session.start(options)
    try:
        await wait_until(lambda: session.publish_state == "live", what="publishing")
        assert session.publisher.codecs["video"] == "VP8"  # type: ignore[union-attr]
        first = session.publisher

        # The ingest restarts with another configuration and drops us.
        ingest.takes = {"H264"}
        relay = ingest.relay
        await relay._end_ingest(relay._ingests["night"])  # type: ignore[attr-defined]
        await wait_until(
            lambda: session.publisher is not first and session.publish_state == "live",
            what="publishing again in the other codec",
        )
        assert session.publisher.codecs["video"] == "H264"  # type: ignore[union-attr]
        assert ingest.offers[0] == "VP8" and ingest.offers[-1] == "H264"
        assert ingest.offers.count("H264") == 1
        await asyncio.sleep(1.0)
    finally:
        await session.stop()

    said = " ".join(session.messages)
    assert "publishing in H.264 instead" in said
    assert not any(m.startswith("Publishing stopped") for m in session.messages)
    assert recorded_video_codec(path) == "vp8"
    times = np.array([float(f.time) for f in decode_video(path)])
    assert times[-1] - times[0] == pytest.approx(session.elapsed_s, abs=0.5)
    assert np.diff(times).max() < 0.25


def test_a_step_down_reaches_both_encodes_of_a_codec_switch() -> None:
    """After a codec switch while recording (VP8 recorded, H.264 published), a step-down
    changes the size of both, each keeping its codec."""
    settings = VideoSettings(codec="vp8", width=320, height=240)
    tee = TeeVideoEncoder(VideoEncoder(settings), VideoEncoder(replace(settings, codec="h264")))
    tee.reconfigure(replace(settings, width=160, height=120, bitrate=500_000))
    assert tee.record.settings == replace(settings, width=160, height=120, bitrate=500_000)
    assert tee.publish.settings == replace(tee.record.settings, codec="h264")
    assert tee.settings.width == 160  # what the pipeline reads
