"""A WHIP ingest refusing the show's codec while the show restreams: the restream keeps its
H.264 (never left without pictures), and never costs a third encode."""

import asyncio

from harness.nginx_rtmp import NginxRtmp
from media.rtmp_output import RtmpDestination
from studio.live.session import LiveOptions, LiveSession
from tests.live_capture.test_codec_fallback import Ingest
from tests.live_restream.conftest import read_back
from tests.support.waiting import wait_until


def options(ingest: Ingest, nginx: NginxRtmp, codec: str, key: str) -> LiveOptions:
    return LiveOptions(
        width=320, height=180, video_bitrate=400_000, keyframe_interval_s=1.0,
        video_codec=codec, whip_url=f"{ingest.url}/take/{key}", whip_token=ingest.token,
        restream=[RtmpDestination("Bench", nginx.server_url, key)],
    )  # fmt: skip


async def test_h264_show_switching_whip_to_vp8_keeps_the_restream(
    ingest: Ingest, nginx_rtmp: NginxRtmp
) -> None:
    ingest.takes = {"VP8"}
    session = LiveSession()
    await session.start(options(ingest, nginx_rtmp, "h264", "solo"))
    try:
        await wait_until(lambda: session.publish_state == "live", 30, "publishing in VP8")
        assert ingest.offers == ["H264", "VP8"]
        got = await asyncio.get_running_loop().run_in_executor(
            None, read_back, nginx_rtmp.url("solo"), 60
        )
    finally:
        await session.stop()
    # not recording, yet the H.264 encoder stays: the restream is fed from it
    assert got.error is None and got.frames == 60 and got.video_codec == "h264"


async def test_vp8_show_switching_whip_to_h264_shares_the_restream_encoder(
    ingest: Ingest, nginx_rtmp: NginxRtmp
) -> None:
    ingest.takes = {"H264"}
    session = LiveSession()
    await session.start(options(ingest, nginx_rtmp, "vp8", "shared"))
    try:
        await wait_until(lambda: session.publish_state == "live", 30, "publishing in H.264")
        assert ingest.offers == ["VP8", "H264"]
        pipeline, restream = session.pipeline, session.restream
        assert pipeline is not None and restream is not None
        # one encode again: the restream's H.264 is the show's only encoder now
        assert pipeline.video_encoder is restream.video
        assert pipeline.side_video_encoders == []
        got = await asyncio.get_running_loop().run_in_executor(
            None, read_back, nginx_rtmp.url("shared"), 60
        )
    finally:
        await session.stop()
    assert got.error is None and got.frames == 60
