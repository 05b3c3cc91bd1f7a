"""A show whose encoder cannot keep up: the figures show dropped frames and the warning says
so; with the artist's consent the show steps down to a smaller picture and goes on, in one
encode, to the recording, the WHIP viewer and the RTMP server alike; without it, it only warns.
"""

from pathlib import Path

import pytest

from harness.nginx_rtmp import NginxRtmp
from media.rtmp_output import RtmpDestination
from media.whep import WhepPlayer
from studio.live.restream import StreamKeyVault
from studio.live.session import LiveOptions, LiveSession
from studio.live.stepdown import Quality
from tests.live_capture.conftest import decode_video
from tests.live_capture.test_codec_fallback import Ingest
from tests.live_restream.conftest import Player
from tests.support.slow_encoder import starve_video_encoders
from tests.support.waiting import wait_until

BIG, SMALL = (960, 540), (640, 360)


def starved_show(tmp_path: Path, consent: bool, **more: object) -> LiveOptions:
    """960x540 at 15 fps in H.264 (WHIP and RTMP share the one encode), recorded."""
    return LiveOptions(
        width=BIG[0], height=BIG[1], fps=15, video_codec="h264", video_bitrate=800_000,
        audio=["tone:1000"], record_path=tmp_path / "show.mkv", auto_step_down=consent,
        **more,  # type: ignore[arg-type]
    )  # fmt: skip


async def test_with_consent_a_starved_show_steps_down_and_every_output_goes_on(
    nginx_rtmp: NginxRtmp,
    stream_keys: StreamKeyVault,
    ingest: Ingest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 80 ms more a 960x540 picture (120 % of a 15 fps budget), nothing more at 640x360
    starve_video_encoders(monkeypatch, 0.08, BIG)
    session = LiveSession(stream_keys=stream_keys)
    options = starved_show(
        tmp_path, consent=True,
        whip_url=f"{ingest.url}/whip/show", whip_token=ingest.token,
        restream=[RtmpDestination("Custom", nginx_rtmp.server_url, "step-key")],
    )  # fmt: skip
    await session.start(options)
    viewer = WhepPlayer(f"{ingest.url}/whep/show", decode=True)
    player = Player(nginx_rtmp.url("step-key"), frames=10_000, timeout=10)
    try:
        await wait_until(lambda: session.publish_state == "live", 30, "publishing")
        await wait_until(lambda: session.restream_states.get("Custom") == "live", 30, "RTMP")
        await viewer.start()
        await wait_until(lambda: viewer.counts.video_size == BIG, 30, "the big picture")
        await wait_until(lambda: session.health.dropped_total > 0, 30, "dropped frames")
        await wait_until(lambda: bool(session.step_downs), 60, "the step-down")
        [step] = session.step_downs
        assert (step.before, step.after) == (Quality(*BIG, 800_000), Quality(*SMALL, 800_000))
        assert any(
            m.startswith("Stepped down automatically: the encoder") for m in session.messages
        )
        # the show goes on at the small size, everywhere
        await wait_until(lambda: viewer.counts.video_size == SMALL, 30, "the viewer's new size")
        seen = viewer.counts.frames["video"]
        rtmp = session.restream.stats()["Custom"] if session.restream else {}
        await wait_until(lambda: viewer.counts.frames["video"] >= seen + 30, 30, "more frames")
        await wait_until(
            lambda: (
                session.restream.stats()["Custom"]["video_frames"]  # type: ignore[union-attr]
                >= rtmp["video_frames"] + 30
            ),
            30,
            "more RTMP frames",
        )
        await wait_until(
            lambda: (session.health.latest("encoder_load_pct") or 100.0) < 90,
            30,
            "the encoder relieved",
        )
        whip, custom = session.health.outputs["WHIP"], session.health.outputs["Custom"]
        await wait_until(
            lambda: all((o.latest("fps") or 0) > 0 for o in (whip, custom)), 30, "output figures"
        )
        assert (custom.latest("bitrate_kbps") or 0) > 100
        assert session.publish_state == "live" and session.restream_states["Custom"] == "live"
        assert session.pipeline is not None and session.pipeline.video_encoder is not None
        assert session.pipeline.side_video_encoders == []  # still one encode
        assert len(session.step_downs) == 1
    finally:
        await viewer.stop()
        await session.stop()
        nginx_rtmp.stop()  # the player's stream ends
    got = player.join(30)
    assert {BIG, SMALL} <= got.sizes and got.frames > 60, got
    pictures = decode_video(tmp_path / "show.mkv")
    sizes = [(f.width, f.height) for f in pictures]
    first_small = sizes.index(SMALL)
    assert set(sizes[:first_small]) == {BIG} and set(sizes[first_small:]) == {SMALL}
    assert len(sizes) - first_small >= 30  # the recording went on after the change...
    assert float(pictures[-1].time) == pytest.approx(session.elapsed_s, abs=1.0)  # ...to the end


async def test_without_consent_a_starved_show_only_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    starve_video_encoders(monkeypatch, 0.08, BIG)
    session = LiveSession()
    await session.start(starved_show(tmp_path, consent=False))
    try:
        await wait_until(lambda: len(session.health.encoder.samples) >= 14, 40, "14 seconds")
        warnings = " ".join(session.health.warnings())
        assert "cannot keep up with the video" in warnings
        assert "turn on 'Step down automatically'" in warnings
        assert session.step_downs == [] and session.quality == Quality(*BIG, 800_000)
        assert session.pipeline is not None and session.pipeline.video_encoder is not None
        assert session.pipeline.video_encoder.settings.height == BIG[1]
    finally:
        await session.stop()
    assert {(f.width, f.height) for f in decode_video(tmp_path / "show.mkv")} == {BIG}
