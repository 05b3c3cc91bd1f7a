"""The studio's live session end to end: sources -> encoders -> recording (+ WHIP publishing)."""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from media.pipeline import Meters
from studio.live.session import LiveError, LiveOptions, LiveSession

from .audio_gaps import recorded_audio_packets, silent_stretches, timeline_gaps
from .conftest import decode_audio, decode_video, dominant_frequency

ROOT = Path(__file__).resolve().parents[2]
STUDIO = [sys.executable, "-m", "widgets.main"]


def small(**changes: object) -> LiveOptions:
    options = LiveOptions(width=320, height=240, fps=30, video_bitrate=500_000)
    for key, value in changes.items():
        setattr(options, key, value)
    return options


async def test_session_records_meters_and_previews(tmp_path: Path) -> None:
    session = LiveSession()
    meters: list[Meters] = []
    stats: list[dict] = []
    states: list[str] = []
    session.meters_changed.connect(meters.append)
    session.stats_changed.connect(stats.append)
    session.state_changed.connect(lambda s: states.append(s.state))
    path = tmp_path / "show.webm"

    await session.start(small(audio=["tone:1000"], record_path=path))
    await asyncio.sleep(2.2)
    assert session.elapsed_s >= 2.0
    preview = session.preview()
    assert preview is not None and preview.shape == (180, 320, 3)
    session.alert_overlay.show("Ada tipped 5 CORE", "encore!")
    session.set_gain("Tone 1000 Hz", -6.0)
    await asyncio.sleep(0.3)
    await session.stop()

    assert states == ["starting", "live", "ending", "ended"]
    assert session.alert_overlay.shown == 1  # drawn into the live picture
    assert "Not publishing: no WHIP URL given; recording only." in session.messages
    assert len(meters) >= 2.4 * 30  # meters at 30 Hz or faster
    assert meters[-1].program.peak_db[0] == pytest.approx(-26.0, abs=0.2)  # -20 dBFS - 6 dB
    assert meters[-1].inputs["Tone 1000 Hz"].peak_db[0] == pytest.approx(-26.0, abs=0.2)
    assert -40 < meters[-1].program.short_term_lufs < -15
    assert stats and stats[-1]["fps"] > 0 and stats[-1]["publish_state"] == "not publishing"

    pictures = decode_video(path)
    assert {(f.width, f.height) for f in pictures} == {(320, 240)}
    assert len(pictures) >= 30  # 75 expected; a loaded machine skips ticks, never queues
    sound = decode_audio(path)
    assert len(sound) / 48_000 == pytest.approx(2.5, abs=0.3)
    assert dominant_frequency(sound[4800:], 48_000) == pytest.approx(1000, abs=3)


async def test_missing_device_or_bad_target_is_a_clear_refusal(tmp_path: Path) -> None:
    session = LiveSession()
    with pytest.raises(LiveError, match="No camera found at /dev/video-none"):
        await session.start(small(video="camera:/dev/video-none"))
    assert session.state == "failed"
    with pytest.raises(LiveError, match="cannot hold H264"):
        await session.start(small(video_codec="h264", record_path=tmp_path / "x.webm"))
    with pytest.raises(LiveError, match=r"Cannot write the recording to /proc/none/x\.mkv"):
        await session.start(small(record_path=Path("/proc/none/x.mkv")))
    assert session.pipeline is None and session.recorder is None
    with pytest.raises(LiveError, match="Nothing to send"):
        await session.start(small(video="none", audio=["none"]))
    with pytest.raises(LiveError, match="Unknown video source 'webcam'"):
        await session.start(small(video="webcam"))
    assert not session.pipeline or not session.pipeline.started_at


class BrokenIngest:
    def __init__(self, session: LiveSession, tracks: list) -> None:  # type: ignore[type-arg]
        self.tracks = tracks

    async def start(self) -> None:
        raise ConnectionError("ingest exploded")

    async def stop(self) -> None:
        pass


async def test_publishing_failure_keeps_the_recording_going(tmp_path: Path) -> None:
    session = LiveSession(publisher_factory=BrokenIngest)
    path = tmp_path / "kept.mkv"
    await session.start(small(record_path=path, whip_url="http://127.0.0.1:9/whip"))
    await asyncio.sleep(1.5)
    assert session.publish_state == "failed"
    assert any("Publishing stopped: ingest exploded" in m for m in session.messages)
    assert session.state == "live"
    await session.stop()
    assert len(decode_video(path)) >= 30


class SilentIngest(BrokenIngest):
    """Takes the stream, then never answers when told it ended."""

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        await asyncio.Event().wait()


async def test_an_ingest_that_never_answers_does_not_keep_the_show_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio.live import session as session_module

    monkeypatch.setattr(session_module, "PUBLISHER_STOP_S", 1.0)
    session = LiveSession(publisher_factory=SilentIngest)
    path = tmp_path / "ended.mkv"
    await session.start(small(record_path=path, whip_url="http://127.0.0.1:9/whip"))
    await asyncio.sleep(1.0)
    await asyncio.wait_for(session.stop(), 30)
    assert session.state == "ended"
    assert any("did not answer in time" in m for m in session.messages), session.messages
    assert decode_video(path), "the recording was finished"


async def test_the_publisher_runs_on_its_own_thread_and_reports_on_the_sessions(
    tmp_path: Path,
) -> None:
    """On the window, the session's loop is the GUI's: the publisher's packets, reports and
    timers must not wait for painting (and must not cost the GUI thread)."""
    import threading

    seen: dict[str, str] = {}
    state_threads: list[str] = []

    class ThreadNotingIngest(BrokenIngest):
        def __init__(self, session: LiveSession, tracks: list) -> None:  # type: ignore[type-arg]
            super().__init__(session, tracks)
            self.session = session
            seen["made on"] = threading.current_thread().name

        async def start(self) -> None:
            seen["started on"] = threading.current_thread().name
            seen["tracks' loop"] = (
                "ours" if self.tracks[0]._loop is asyncio.get_running_loop() else "another"
            )
            self.session.on_publisher_state("live", None)

        def stats(self) -> dict[str, float]:
            seen["stats on"] = threading.current_thread().name
            return {"bitrate_kbps": 42.0}

        async def stop(self) -> None:
            seen["stopped on"] = threading.current_thread().name

    session = LiveSession(publisher_factory=ThreadNotingIngest)
    session.state_changed.connect(lambda _s: state_threads.append(threading.current_thread().name))
    await session.start(small(record_path=tmp_path / "r.mkv", whip_url="http://127.0.0.1:9/w"))
    for _ in range(60):
        if session.publish_state == "live" and "stats on" in seen:
            break
        await asyncio.sleep(0.1)
    assert session.publish_state == "live"
    assert session.stats()["bitrate_kbps"] == 42.0
    await session.stop()
    here = threading.current_thread().name
    assert seen == {
        "made on": "publisher",
        "started on": "publisher",
        "tracks' loop": "ours",
        "stats on": "publisher",
        "stopped on": "publisher",
    }
    assert set(state_threads) == {here}, "the session's listeners hear it on its own thread"
    assert "publisher" not in {t.name for t in threading.enumerate()}, "its thread ended"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*STUDIO, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, **(env or {})},
    )


def test_headless_live_produces_a_playable_file(tmp_path: Path) -> None:
    out = tmp_path / "out.mkv"
    result = run_cli(
        "live", "--video", "testsrc", "--audio", "tone", "--record", str(out), "--duration", "3"
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["state"] == "ended" and summary["publish_state"] == "not publishing"
    assert summary["duration_s"] == pytest.approx(3.0, abs=0.5)

    pictures = decode_video(out)
    assert {(f.width, f.height) for f in pictures} == {(1280, 720)}
    assert len(pictures) >= 45  # 90 expected; a loaded machine may skip some ticks
    times = np.array([float(f.time) for f in pictures])
    assert times[-1] - times[0] == pytest.approx(3.0, abs=0.3)
    sound = decode_audio(out)
    assert len(sound) / 48_000 == pytest.approx(3.0, abs=0.3)
    assert dominant_frequency(sound, 48_000) == pytest.approx(440, abs=2)


def test_headless_show_has_no_sound_gap_after_its_first_100_ms(tmp_path: Path) -> None:
    # A fresh process, as an artist's show is: what the audio clock first does happens here.
    out = tmp_path / "show.mkv"
    result = run_cli(
        "live", "--video", "testsrc", "--audio", "tone", "--size", "640x360",
        "--record", str(out), "--duration", "4",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    packets, time_base = recorded_audio_packets(out)
    assert float(packets[0][0] * time_base) <= 0.02  # sound from the first picture on
    assert timeline_gaps(packets, time_base) == []
    sound = decode_audio(out)
    assert len(sound) / 48_000 == pytest.approx(4.0, abs=0.3)
    assert silent_stretches(sound, 48_000) == []


def test_headless_live_bad_input_and_unreachable_ingest(tmp_path: Path) -> None:
    refused = run_cli("live", "--video", "camera:/dev/video-none", "--duration", "1")
    assert refused.returncode == 2
    assert "No camera found at /dev/video-none" in refused.stderr

    out = tmp_path / "kept.webm"
    secret = "sk-live-do-not-print"
    result = run_cli(
        "live", "--size", "320x240", "--record", str(out), "--duration", "2",
        "--whip", "http://127.0.0.1:9/whip/show",
        env={"HARMONIE_WHIP_TOKEN": secret},
    )  # fmt: skip
    assert result.returncode == 2  # no ingest to go live to: the show stops at once...
    assert "publishing failed, the show stopped: " in result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["publish_state"] == "failed" and summary["duration_s"] < 2
    assert any("Publishing stopped" in m for m in summary["messages"])
    assert secret not in result.stdout + result.stderr
    assert decode_video(out)  # ...and what was recorded until then is kept, playable


def test_viewer_count_comes_from_our_relay_only() -> None:
    from studio.live.session import relay_live_url

    assert relay_live_url("https://api.example.org/v1/whip/night") == (
        "https://api.example.org/v1/relay/live",
        "night",
    )
    assert relay_live_url("https://ingest.example.net/rtc/v1/whip/?app=live") is None
    assert relay_live_url("https://cdn.example.net/ingest") is None


async def test_ingest_taking_neither_codec_is_told_once_and_recording_goes_on(
    tmp_path: Path,
) -> None:
    from media.whip_errors import WhipNoCommonCodec

    offered: list[str] = []

    class Vp9OnlyIngest(BrokenIngest):
        async def start(self) -> None:
            offered.append(self.tracks[0].mime_type)
            raise WhipNoCommonCodec("The ingest accepts no codec we send for video.")

    session = LiveSession(publisher_factory=Vp9OnlyIngest)
    path = tmp_path / "r.mkv"
    await session.start(small(record_path=path, whip_url="http://127.0.0.1:9/x"))
    await asyncio.sleep(1.5)
    assert session.state == "live" and session.publish_state == "failed"
    await session.stop()
    assert offered == ["video/VP8", "video/H264"]  # the other codec, once
    assert any("publishing in H.264 instead" in m for m in session.messages)
    assert any(
        "no codec we send for video. It takes neither VP8 nor H.264. The recording goes on." in m
        for m in session.messages
    )
    assert len(decode_video(path)) >= 30


def test_headless_lists_devices(xvfb) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("live", "--list-devices", env={"DISPLAY": xvfb.display})
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"spec": "testsrc", "label": "Test pattern"} in listed["video"]
    assert f"Screen ({xvfb.display})" in [d["label"] for d in listed["video"]]
    assert listed["audio"][0]["spec"] == "tone"


async def test_a_show_keeps_what_lived_before_it_out_of_full_collections(tmp_path: Path) -> None:
    import gc

    def in_oldest_generation(thing: object) -> bool:
        return any(o is thing for o in gc.get_objects(generation=2))

    before: list[int] = []  # alive before the show: frozen during it, collectable after
    gc.collect()
    assert gc.get_freeze_count() == 0 and in_oldest_generation(before)
    session = LiveSession()
    await session.start(small(audio=["tone:440"], record_path=tmp_path / "show.webm"))
    try:
        assert gc.get_freeze_count() > 1000
        gc.collect()  # a full collection in the show does not walk what lived before it
        assert not in_oldest_generation(before)
    finally:
        await session.stop()
    assert gc.get_freeze_count() == 0 and in_oldest_generation(before)
