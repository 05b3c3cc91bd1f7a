"""Go Live as an artist does it, in the real window: the panel's own buttons, the local
backend's WHIP ingest, a recording on disk; and what the panel says when things go wrong."""

import asyncio
from pathlib import Path

import av
import pytest

from tests.window_journeys.conftest import Desk, distinct_colours, wait_until

pytestmark = pytest.mark.slow


def choose(picker, spec: str) -> None:  # type: ignore[no-untyped-def]
    index = picker.findData(spec)
    assert index >= 0, f"{spec} is not offered"
    picker.setCurrentIndex(index)


def prepare(desk: Desk, recording: Path | None, *, whip: bool = True) -> None:
    """Test pattern + tone, a title, the recording target; WHIP to the local ingest or none."""
    panel = desk.golive
    desk.window.tabs.setCurrentWidget(panel)
    choose(panel.video_picker, "testsrc")
    choose(panel.audio_picker, "tone")
    panel.title.setText("Window journey")
    if not whip:
        panel.whip_url.clear()
    panel.record.setChecked(recording is not None)
    if recording is not None:
        panel.record_path.setText(str(recording))


async def end_show(desk: Desk) -> None:
    panel = desk.golive
    assert panel.end.isEnabled()
    panel.end.click()
    await wait_until(lambda: desk.studio.live.state == "ended", 60, "the show to end")
    assert panel.live_badge.text() == "OFF AIR"
    assert panel.go_live.isEnabled() and not panel.end.isEnabled()


async def unannounced_if_asked() -> None:
    """With the wallet locked, Go Live asks whether to unlock and announce: these shows go
    out unannounced (test_golive_announce.py covers the other answers)."""
    from PySide6.QtWidgets import QApplication, QMessageBox

    for _ in range(40):  # the question opens at once, or not at all
        for box in QApplication.topLevelWidgets():
            if isinstance(box, QMessageBox) and box.isVisible():
                for button in box.buttons():
                    if button.text() == "Go live unannounced":
                        button.click()
                        return
        await asyncio.sleep(0.05)


def stream_kinds(path: Path) -> set[str]:
    with av.open(str(path)) as container:
        return {s.type for s in container.streams}


def test_go_live_to_the_local_ingest_shows_live_and_pictures_then_end_saves(
    on_desk, tmp_path: Path, artifacts_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    recording = tmp_path / "show.mkv"

    async def scenario(desk: Desk) -> None:
        panel = desk.golive
        prepare(desk, recording)
        assert panel.whip_url.text().endswith("/whip/live")
        assert panel.stream_key.text(), "the local ingest's key is filled in"
        # the tab is open: the picture and the levels before going live, nothing sent
        await wait_until(
            lambda: distinct_colours(panel.preview.grab().toImage()) > 64, 30, "the preview"
        )
        await wait_until(lambda: min(panel.meter.rms_db) > -40, 10, "the meter before the show")
        live = desk.studio.live
        assert live.state == "idle" and live.previewing and live.publish_state == "not publishing"
        desk.window.grab().save(str(artifacts_dir / "window-golive-preview.png"))
        assert panel.go_live.isEnabled() and not panel.end.isEnabled()
        panel.go_live.click()
        await unannounced_if_asked()
        await wait_until(lambda: panel.live_badge.text() == "● LIVE", 90, "the LIVE badge")
        assert panel.end.isEnabled() and not panel.go_live.isEnabled()
        assert not live.previewing  # the show took the sources over
        await wait_until(
            lambda: distinct_colours(panel.preview.grab().toImage()) > 64,
            30,
            "pictures in the preview",
        )
        await wait_until(
            lambda: "LUFS" in panel.loudness.text() and "M –" not in panel.loudness.text(),
            30,
            "loudness",
        )
        await wait_until(
            lambda: (
                " 0 kbit/s" not in panel.stats_label.text() and "kbit/s" in panel.stats_label.text()
            ),
            30,
            "bitrate",
        )
        # the tone (-20 dBFS peak) shows on the meter, not only in the LUFS figures
        await wait_until(lambda: min(panel.meter.rms_db) > -40, 10, "the meter's level")
        meter = panel.meter.grab().toImage()
        assert distinct_colours(meter, step=2) > 2, "the meter draws the level"
        stats = desk.journeys.stats_dock
        desk.window.docks["stats"].raise_()
        await wait_until(lambda: stats.values["fps"].text() != "–", 30, "the Stats dock")
        await wait_until(lambda: "WHIP" in stats.outputs, 30, "the WHIP output's figures")
        whip = stats.outputs["WHIP"]
        await wait_until(lambda: whip.values["rtt_ms"].text() != "–", 30, "the round trip")
        assert whip.title() == "WHIP · live" and whip.values["fps"].text() != "–"
        assert stats.status.text().startswith("Live · video 1280×720 at 2,500 kbit/s")
        panel.grab().save(str(artifacts_dir / "window-golive-live.png"))
        desk.window.grab().save(str(artifacts_dir / "window-golive-live-window.png"))
        await end_show(desk)
        assert "Recording saved" in panel.message_label.text()
        # after End: the show's figures are cleared, not frozen
        assert panel.stats_label.text() == "" and panel.timer_label.text() == "00:00:00"
        assert stats.values["fps"].text() == "–" and stats.graphs["fps"].values == []
        assert stats.outputs == {}

    on_desk(scenario)
    assert recording.stat().st_size > 10_000
    assert stream_kinds(recording) >= {"video", "audio"}


def test_record_only_show(on_desk, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    recording = tmp_path / "record-only.webm"

    async def scenario(desk: Desk) -> None:
        panel = desk.golive
        prepare(desk, recording, whip=False)
        panel.go_live.click()
        await unannounced_if_asked()
        await wait_until(lambda: panel.live_badge.text() == "● RECORDING", 90, "RECORDING")
        assert "recording only" in panel.message_label.text()
        await wait_until(lambda: desk.studio.live.elapsed_s > 2, 30, "two seconds of show")
        await end_show(desk)
        assert "Recording saved" in panel.message_label.text()

    on_desk(scenario)
    assert recording.stat().st_size > 10_000
    assert stream_kinds(recording) >= {"video", "audio"}


def test_ingest_refusing_the_key_says_so_once_and_the_recording_goes_on(
    on_desk, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    recording = tmp_path / "refused.mkv"

    async def scenario(desk: Desk) -> None:
        panel = desk.golive
        prepare(desk, recording)
        panel.stream_key.setText("not-the-key")
        panel.go_live.click()
        await unannounced_if_asked()
        live = desk.studio.live
        await wait_until(lambda: live.publish_state == "failed", 60, "the ingest's refusal")
        await wait_until(lambda: live.elapsed_s > 3, 30, "the show to go on")
        assert live.state == "live" and panel.live_badge.text() == "● RECORDING"
        shown = panel.message_label.text()
        assert "does not allow this key" in shown and "The recording goes on" in shown
        refusals = [m for m in live.messages if m.startswith("Publishing stopped")]
        assert len(refusals) == 1, live.messages
        assert "not-the-key" not in " ".join(live.messages)
        await end_show(desk)

    on_desk(scenario)
    assert recording.stat().st_size > 10_000


def test_backend_stopped_while_live(on_desk, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    recording = tmp_path / "orphan.mkv"

    async def scenario(desk: Desk) -> None:
        panel, studio = desk.golive, desk.studio
        status = desk.window.status_bar.backend_label
        prepare(desk, recording)
        panel.go_live.click()
        await unannounced_if_asked()
        live = studio.live
        await wait_until(lambda: live.publish_state == "live", 90, "publishing")
        assert status.text() == "Backend: connected"
        process = studio.local_backend.process
        process.kill()
        process.wait()
        await wait_until(lambda: live.publish_state == "reconnecting", 90, "the loss noticed")
        assert "reconnecting" in panel.message_label.text()
        assert "The recording goes on" in panel.message_label.text()
        await wait_until(lambda: status.text() == "Backend: unreachable", 30, "the status bar")
        assert live.state == "live" and panel.end.isEnabled()
        await end_show(desk)

    on_desk(scenario)
    assert recording.stat().st_size > 10_000


def test_a_missing_recording_folder_is_made(on_desk, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "new folder" / "show.mkv"

    async def scenario(desk: Desk) -> None:
        prepare(desk, target, whip=False)
        desk.golive.go_live.click()
        await unannounced_if_asked()
        await wait_until(lambda: desk.studio.live.elapsed_s > 1, 60, "the show")
        await end_show(desk)

    on_desk(scenario)
    assert target.stat().st_size > 1_000


def test_a_recording_path_that_cannot_be_written_says_why(on_desk, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a file").write_text("not a folder")
    target = tmp_path / "a file" / "show.mkv"

    async def scenario(desk: Desk) -> None:
        panel = desk.golive
        prepare(desk, target, whip=False)
        panel.go_live.click()
        await unannounced_if_asked()
        await wait_until(lambda: desk.studio.live.state == "failed", 60, "the start to fail")
        assert str(target) in panel.message_label.text()
        assert panel.live_badge.text() == "OFF AIR"
        assert panel.go_live.isEnabled() and not panel.end.isEnabled()

    on_desk(scenario)
