"""The first-run guide's source check on real sources (test pattern and tone): a preview with
its level, a short recording that holds both, played back (sound on a private PulseAudio,
pictures decoded at their pace); no check while the show is on air."""

import asyncio
from pathlib import Path

import av
import pytest

from media.sources import list_microphones
from studio.first_run import SourceCheck, Sources
from studio.live.session import LiveSession

pytestmark = pytest.mark.slow

TEST_SOURCES = Sources(video="testsrc", overlay="none", audio="tone")


async def until(check, what: str, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_preview_record_and_play_back(tmp_path: Path, pulse) -> None:  # type: ignore[no-untyped-def]
    list_microphones(refresh=True)  # PortAudio finds the private PulseAudio
    check = SourceCheck(tmp_path / "test.mkv")
    states: list[str] = []
    check.changed.connect(states.append)
    try:
        await check.preview(TEST_SOURCES)
        assert check.state == "previewing"
        await until(lambda: check.picture() is not None, "a preview picture")
        await until(lambda: check.meters is not None, "the level")
        assert check.meters.program.rms_db[0] > -40, "the tone is on the meter"
        assert not (tmp_path / "test.mkv").exists(), "a preview records nothing"

        recorded = await check.record(TEST_SOURCES, seconds=1.0)
        assert recorded == tmp_path / "test.mkv" and check.state == "recorded"
        with av.open(str(recorded)) as container:
            kinds = {s.type for s in container.streams}
            assert kinds == {"video", "audio"}
            assert float(container.duration or 0) / av.time_base >= 0.8
        assert check.picture() is None, "the sources are closed after the test"

        check.play()
        assert check.state == "playing"
        await until(lambda: check.picture() is not None, "the recording's pictures")
        await until(lambda: check.state == "recorded", "the playback's end")
        assert check.message.startswith("Played back"), check.message
        assert states.count("playing") == 1 and "failed" not in states
    finally:
        await check.stop()


async def test_a_recording_left_before_its_end_is_dropped(tmp_path: Path) -> None:
    check = SourceCheck(tmp_path / "test.mkv")
    recording = asyncio.ensure_future(check.record(TEST_SOURCES, seconds=2.0))
    await until(lambda: check.state == "recording", "the recording")
    await check.stop()  # the page was left
    assert await recording is None
    assert check.recorded is None and check.state == "idle"
    await check.preview(TEST_SOURCES)  # the next page's preview is not stopped by it
    await asyncio.sleep(0.3)
    assert check.state == "previewing" and check.session.state == "live"
    await check.stop()


async def test_no_check_while_the_show_is_on_air(tmp_path: Path) -> None:
    show = LiveSession()
    show.state = "live"  # the Go Live page's session, on air
    check = SourceCheck(tmp_path / "test.mkv", show)
    await check.preview(TEST_SOURCES)
    assert check.state == "idle" and "You are live" in check.message
    assert await check.record(TEST_SOURCES, seconds=0.5) is None
    assert check.session.state == "idle", "no device was opened"


async def test_the_check_takes_the_devices_over_from_the_go_live_preview(tmp_path: Path) -> None:
    from studio.live.session import LiveOptions

    show = LiveSession()
    await show.start_preview(LiveOptions(width=320, height=240, audio=["tone:440"]))
    assert show.previewing  # the Go Live tab was open behind the guide
    check = SourceCheck(tmp_path / "test.mkv", show)
    try:
        await check.preview(TEST_SOURCES)
        assert check.state == "previewing"
        assert not show.previewing, "one opener per camera: the Go Live preview let go"
    finally:
        await check.stop()
        await show.stop_preview()
