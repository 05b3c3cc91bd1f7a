"""WHIP ingest -> built-in relay -> WHEP viewers, aiortc on both ends, over loopback."""

import asyncio

import numpy as np
import pytest

from media.whep import WhepPlayer
from media.whip import WhipPublisher
from tests.live_relay.conftest import wait_until
from tests.live_relay.packet_source import EncodedTestSource

pytestmark = pytest.mark.slow


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    window = samples * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(window))
    spectrum[0] = 0
    return float(np.argmax(spectrum) * rate / len(samples))


async def test_viewers_get_the_artists_encoded_frames_unchanged(relay_server, http) -> None:
    source = EncodedTestSource(width=320, height=240, fps=30, tone_hz=1000.0)
    source.start()
    publisher = WhipPublisher(
        f"{relay_server.url}/whip/show", relay_server.token, [source.audio, source.video]
    )
    await publisher.start()
    assert publisher.codecs == {"audio": "opus", "video": "VP8"}

    audio: list[np.ndarray] = []
    rates: list[int] = []

    def on_frame(kind: str, frame) -> None:  # type: ignore[no-untyped-def]
        if kind == "audio":
            audio.append(frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0])
            rates.append(frame.sample_rate)

    received: list[bytes] = []
    decoding = WhepPlayer(f"{relay_server.url}/whep/show", on_frame=on_frame)
    raw = WhepPlayer(
        f"{relay_server.url}/whep/show",
        decode=False,
        on_encoded=lambda kind, codec, data, ts: received.append(data) if kind == "video" else None,
    )
    try:
        await decoding.start()
        await raw.start()
        live = (await http.get(f"{relay_server.url}/relay/live")).json()
        assert [(s["stream"], s["viewers"], s["video_codec"]) for s in live] == [("show", 2, "VP8")]

        await wait_until(
            lambda: decoding.counts.frames["video"] >= 45 and len(received) >= 45,
            what="45 video frames at both viewers",
        )
        await wait_until(lambda: len(audio) >= 50, what="1 s of audio")
        assert decoding.counts.video_size == (320, 240)

        # Byte for byte what the encoder produced: forwarded, never decoded and re-encoded.
        sent = set(source.sent_video)
        assert all(frame in sent for frame in received)

        pcm = np.concatenate(audio[-50:]).astype(np.float64)
        assert abs(dominant_frequency(pcm, rates[-1]) - 1000.0) < 25

        await publisher.stats()
        for _ in range(50):  # RTT needs a sender report answered by a receiver report
            await asyncio.sleep(0.2)
            stats = await publisher.stats()
            if stats.rtt_ms is not None:
                break
        assert stats.state == "live" and stats.codecs["video"] == "VP8"
        assert stats.rtt_ms is not None and stats.rtt_ms >= 0
        assert stats.bitrate_kbps > 0 and stats.fps > 0
        assert stats.packets_lost >= 0 and 0 <= stats.loss_pct <= 100
    finally:
        await raw.stop()
        await decoding.stop()
        await publisher.stop()
        source.stop()
    assert (await http.get(f"{relay_server.url}/relay/live")).json() == []


async def test_viewer_of_a_stream_that_is_not_live_is_told(relay_server, http) -> None:
    player = WhepPlayer(f"{relay_server.url}/whep/nobody")
    from media.whip_errors import WhipRejected

    with pytest.raises(WhipRejected, match="not live"):
        await player.start()
    await player.stop()


async def test_h264_is_forwarded_and_a_player_without_it_is_refused(relay_server) -> None:
    source = EncodedTestSource(width=320, height=240, fps=30, codec="h264")
    source.start()
    publisher = WhipPublisher(
        f"{relay_server.url}/whip/h264show", relay_server.token, [source.audio, source.video]
    )
    await publisher.start()
    assert publisher.codecs["video"] == "H264"
    player = WhepPlayer(f"{relay_server.url}/whep/h264show")
    vp8_only = WhepPlayer(f"{relay_server.url}/whep/h264show", video_codecs=["VP8"])
    try:
        await player.start()
        await wait_until(lambda: player.counts.frames["video"] >= 20, what="H.264 frames")
        assert player.counts.video_size == (320, 240)

        from media.whip_errors import WhipNoCommonCodec

        with pytest.raises(WhipNoCommonCodec, match="H264"):
            await vp8_only.start()
    finally:
        await vp8_only.stop()
        await player.stop()
        await publisher.stop()
        source.stop()


async def test_a_joining_viewer_gets_a_keyframe_requested_from_the_artist(relay_server) -> None:
    source = EncodedTestSource(width=160, height=120, fps=30, keyframe_interval_s=30.0)
    source.start()
    publisher = WhipPublisher(
        f"{relay_server.url}/whip/kf", relay_server.token, [source.audio, source.video]
    )
    await publisher.start()
    player = WhepPlayer(f"{relay_server.url}/whep/kf", decode=False)
    try:
        await asyncio.sleep(1.0)  # past the keyframe the publisher asked for when connecting
        before = source.keyframe_requests
        await player.start()
        # With a 30 s keyframe interval, only the relay's request brings the picture quickly.
        await wait_until(lambda: player.counts.frames["video"] >= 5, what="frames", timeout=10)
        assert source.keyframe_requests > before
    finally:
        await player.stop()
        await publisher.stop()
        source.stop()


async def test_viewers_are_let_go_when_the_artist_ends_the_stream(relay_server) -> None:
    relay = relay_server.relay
    relay.offline_grace_s = 0.5
    relay.max_viewers = 1
    source = EncodedTestSource(width=160, height=120, fps=30)
    source.start()
    publisher = WhipPublisher(f"{relay_server.url}/whip/gone", relay_server.token, [source.video])
    await publisher.start()
    player = WhepPlayer(f"{relay_server.url}/whep/gone", kinds=["video"], decode=False)
    second = WhepPlayer(f"{relay_server.url}/whep/gone", kinds=["video"], decode=False)
    try:
        await player.start()
        from media.whip_errors import WhipServerError

        with pytest.raises(WhipServerError, match="full"):
            await second.start()
        await publisher.stop()  # DELETE: the artist ends the stream
        assert relay.live_streams() == []
        await wait_until(lambda: relay.broadcast("gone") is None, 10, "viewers to be let go")
        assert not relay._viewers
    finally:
        await second.stop()
        await player.stop()
        source.stop()


async def test_a_dropped_artist_who_does_not_return_ends_the_stream(relay_server) -> None:
    relay = relay_server.relay
    relay.offline_grace_s = 0.5
    ended: list[str] = []
    counts: list[tuple[str, int]] = []

    async def on_ended(stream: str) -> None:
        ended.append(stream)

    async def on_viewers(stream: str, count: int) -> None:
        counts.append((stream, count))

    relay.on_ended, relay.on_viewers = on_ended, on_viewers
    source = EncodedTestSource(width=160, height=120, fps=30)
    source.start()
    publisher = WhipPublisher(f"{relay_server.url}/whip/drop", relay_server.token, [source.video])
    await publisher.start()
    player = WhepPlayer(f"{relay_server.url}/whep/drop", kinds=["video"], decode=False)
    try:
        await player.start()
        await wait_until(lambda: ("drop", 1) in counts, 5, "the viewer count")
        # The artist vanishes without a DELETE (crash, cable pulled): the relay notices...
        ingest = relay._ingests["drop"]
        publisher._location = None
        await publisher.stop()
        await relay._end_ingest(ingest)
        assert ended == []  # ...waits for a reconnection first...
        await wait_until(lambda: ended == ["drop"], 10, "the stream to end after the grace")
        assert counts[-1] == ("drop", 0) and not relay._viewers  # ...then lets viewers go
    finally:
        await player.stop()
        source.stop()
