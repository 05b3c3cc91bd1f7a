"""The preview before the show (sources, compositor, mixer and meters, no encoder) and the
show's health: dropped and late frames when the picture cannot be made in time, and the
plain-word warnings the Stats dock shows."""

import asyncio
import time
from pathlib import Path

import av
import pytest

from media.pipeline import Meters
from studio.live.health import ShowHealth
from studio.live.session import LiveSession

from .conftest import decode_video
from .test_live_session import small


async def test_preview_shows_picture_and_levels_without_encoding_then_the_show_takes_over(
    tmp_path: Path,
) -> None:
    session = LiveSession()
    meters: list[Meters] = []
    session.meters_changed.connect(meters.append)
    await session.start_preview(small(audio=["tone:1000"]))
    assert session.previewing and session.state == "idle"
    await asyncio.sleep(1.0)
    preview = session.preview_pipeline
    assert preview is not None
    assert preview.video_encoder is None and preview.audio_encoder is None  # nothing encoded
    assert session.preview() is not None and session.preview().shape == (180, 320, 3)
    assert preview.frames_encoded > 5  # composed
    assert meters and meters[-1].program.peak_db[0] == pytest.approx(-20.0, abs=0.5)
    session.set_gain("Tone 1000 Hz", -6.0)  # the controls act on the preview too
    await asyncio.sleep(0.3)
    assert meters[-1].program.peak_db[0] == pytest.approx(-26.0, abs=0.5)

    path = tmp_path / "show.webm"
    await session.start(small(audio=["tone:1000"], record_path=path))
    assert not session.previewing and preview._stop.is_set()  # the show took over
    await asyncio.sleep(1.0)
    await session.stop()
    assert len(decode_video(path)) >= 20
    # a preview after the show, then stopped: nothing left running
    await session.start_preview(small(audio=["none"]))
    assert session.previewing
    await session.stop_preview()
    assert not session.previewing and session.preview() is None


async def test_start_and_stop_preview_racing_leaves_no_preview_running() -> None:
    session = LiveSession()
    starting = asyncio.ensure_future(session.start_preview(small(audio=["tone:440"])))
    await asyncio.sleep(0)
    await session.stop_preview()  # the tab was hidden while the preview opened
    await starting
    assert not session.previewing


def sleeping_filter(seconds: float):  # type: ignore[no-untyped-def]
    def draw(frame: av.VideoFrame) -> av.VideoFrame:
        time.sleep(seconds)  # a picture filter too slow for the frame rate
        return frame

    return draw


async def test_a_starved_video_clock_counts_dropped_and_late_frames_and_warns(
    tmp_path: Path,
) -> None:
    session = LiveSession()
    stats: list[dict] = []
    session.stats_changed.connect(stats.append)
    await session.start(small(audio=["none"], record_path=tmp_path / "slow.webm"))
    assert session.pipeline is not None
    session.pipeline.picture_filters.append(sleeping_filter(0.1))  # 10 fps at most
    for _ in range(60):
        await asyncio.sleep(0.25)
        if len(stats) >= 3:
            break
    await session.stop()
    last = stats[-1]
    assert last["frames_skipped"] > 20 and last["frames_late"] > 5, last
    health = session.health
    assert health.dropped_total == int(last["frames_skipped"])
    assert health.repeated_total == int(last["frames_repeated"])
    assert any(d and d > 5 for d in health.series("dropped"))
    warning = " ".join(health.warnings())
    assert "cannot keep up" in warning and "frames dropped" in warning


def second(sent: int, lost: int, rtt: float = 20.0, **outputs: dict) -> dict:
    """One second of `LiveSession.stats()` with the WHIP output live."""
    whip = {"kind": "whip", "state": "live", "bitrate_kbps": 2480.0, "fps": 30.0,
            "rtt_ms": rtt, "packets_sent": sent, "packets_lost": lost}  # fmt: skip
    return {"video_bitrate": 2_372_000.0, "audio_bitrate": 128_000.0, "fps": 30.0,
            "frames_skipped": 0, "outputs": {"WHIP": whip, **outputs}}  # fmt: skip


def test_health_turns_counters_into_per_second_figures_and_network_warnings() -> None:
    health = ShowHealth()
    assert health.warnings() == []
    health.add(second(1000, 0))
    health.add(second(1900, 100))
    whip = health.outputs["WHIP"]
    assert whip.latest("loss_pct") == pytest.approx(10.0)
    assert whip.latest("bitrate_kbps") == 2480.0 and whip.latest("rtt_ms") == 20.0
    assert health.latest("bitrate_kbps") == pytest.approx(2500.0)  # what the encoders make
    assert health.latest("dropped") == 0
    [warning] = health.warnings()
    assert warning.startswith("The network is dropping packets: 10.0 % lost")
    assert warning.endswith("A wired connection or a lower bitrate in Settings › Video helps.")
    assert health.warnings(steps_down=True)[0].endswith(
        "The studio lowers the bitrate if this goes on."
    )
    for n in range(6):  # no more loss for a while: the warning goes
        health.add(second(2000 + 900 * (n + 1), 100))
    assert health.warnings() == []
    health.add(second(9000, 100, rtt=900.0))
    assert "900 ms round trip" in health.warnings()[0]
    # a new connection restarts the counters: no negative loss
    health.add(second(50, 0))
    assert whip.latest("loss_pct") == 0.0
    health.clear()
    assert health.series("fps") == [] and health.dropped_total == 0 and health.outputs == {}


def test_health_follows_each_rtmp_destination_and_names_the_one_that_drops_frames() -> None:
    health = ShowHealth()
    for n in range(4):
        youtube = {"kind": "rtmp", "state": "live", "bytes_sent": 250_000 * n,
                   "frames_sent": 30 * n, "frames_dropped": 0, "frames_late": 0}  # fmt: skip
        twitch = {**youtube, "frames_dropped": 12 * n, "frames_late": 3 * n}
        health.add(second(1000 * n, 0, YouTube=youtube, Twitch=twitch))
    assert list(health.outputs) == ["WHIP", "YouTube", "Twitch"]
    youtube_row = health.outputs["YouTube"]
    assert youtube_row.latest("bitrate_kbps") == pytest.approx(2000.0)  # 250 kB in a second
    assert youtube_row.latest("fps") == 30.0 and youtube_row.latest("dropped") == 0
    assert health.outputs["Twitch"].series("dropped") == [0.0, 12.0, 12.0, 12.0]
    assert health.outputs["Twitch"].latest("late") == 3.0
    [warning] = health.warnings()
    assert warning.startswith("Twitch: 36 frames dropped in the last 5 s")
    # a destination reconnecting shows no bitrate or frame rate, not the last known ones
    health.add(second(5000, 0, YouTube={**youtube, "state": "reconnecting"}))
    assert youtube_row.state == "reconnecting" and youtube_row.latest("bitrate_kbps") is None


def test_health_warns_of_an_encoder_that_stays_over_the_limit() -> None:
    health = ShowHealth()
    for _ in range(9):
        health.add({"encoder_load_pct": 111.0})
    assert health.warnings() == []  # not yet ten seconds
    health.add({"encoder_load_pct": 111.0})
    [warning] = health.warnings()
    assert "the encoder has been over 90 % busy for 10 s" in warning
    assert "turn on 'Step down automatically'" in warning
    assert "The studio lowers the resolution" in health.warnings(steps_down=True)[0]
    # not publishing: the bitrate is the encoders' own
    health.add({"video_bitrate": 2_000_000.0, "audio_bitrate": 128_000.0})
    assert health.latest("bitrate_kbps") == pytest.approx(2128.0)
