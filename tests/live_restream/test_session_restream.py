"""Go Live with restream switched on: the session takes the keys from the OS keyring (or
saves the typed ones there) and restreams the show beside its recording."""

import asyncio
from pathlib import Path

from harness.nginx_rtmp import NginxRtmp
from media.rtmp_output import RtmpDestination
from studio.live.restream import StreamKeyVault
from studio.live.session import LiveOptions, LiveSession
from tests.live_capture.conftest import decode_video, dominant_frequency
from tests.live_restream.conftest import read_back
from tests.support.waiting import wait_until


async def test_show_restreams_with_keys_from_the_keyring(
    nginx_rtmp: NginxRtmp, stream_keys: StreamKeyVault, tmp_path: Path
) -> None:
    stream_keys.save_key("custom", "saved-custom-key")
    session = LiveSession(stream_keys=stream_keys)
    server = nginx_rtmp.server_url
    options = LiveOptions(
        width=320, height=180, fps=30, video_bitrate=500_000, video_codec="vp8",
        audio=["tone:1000"], record_path=tmp_path / "show.mkv",
        restream=[
            RtmpDestination("YouTube", server, "typed-youtube-key"),
            RtmpDestination("Twitch", server),  # no key typed, none saved
            RtmpDestination("Custom", server),  # the saved key
        ],
    )  # fmt: skip
    await session.start(options)
    try:
        await wait_until(
            lambda: session.restream_states == {"YouTube": "live", "Custom": "live"},
            timeout=30,
            what="YouTube and Custom live",
        )
        loop = asyncio.get_running_loop()
        youtube, custom = await asyncio.gather(
            loop.run_in_executor(None, read_back, nginx_rtmp.url("typed-youtube-key"), 60),
            loop.run_in_executor(None, read_back, nginx_rtmp.url("saved-custom-key"), 60),
        )
        stats = session.stats()
    finally:
        await session.stop()

    for got in (youtube, custom):
        assert got.error is None and got.frames == 60 and got.video_codec == "h264"
        assert abs(dominant_frequency(got.samples(), got.audio_rate) - 1000) < 20
    assert stats["restream"] == {"YouTube": "live", "Custom": "live"}
    assert stream_keys.key("youtube") == "typed-youtube-key"  # kept for the next show
    assert any(m.startswith("Not restreaming to Twitch: no stream key") for m in session.messages)
    assert "Restreaming to Custom." in session.messages
    assert not any("typed-youtube" in m or "saved-custom" in m for m in session.messages)
    # the show itself stayed VP8 (the restream's H.264 is one extra encode) and recorded
    assert session.pipeline is not None and session.pipeline.video_encoder is not None
    assert session.pipeline.video_encoder.codec_name == "vp8"
    assert len(session.pipeline.side_video_encoders) == 1
    assert len(decode_video(tmp_path / "show.mkv")) > 60
