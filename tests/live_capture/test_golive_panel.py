"""The Go Live panel offscreen (pytest-qt), driving a real LiveSession on a qasync loop."""

import asyncio
import re
from pathlib import Path

import pytest

qasync = pytest.importorskip("qasync")

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from studio.live.session import LiveSession  # noqa: E402
from widgets.live.golive_panel import (  # noqa: E402
    NO_TITLE_WHY,
    SHARE_WHY,
    GoLivePanel,
    ShowHost,
    format_elapsed,
)

from .conftest import decode_video  # noqa: E402


@pytest.fixture(scope="module")
def qasync_loop(qapp: QApplication):  # type: ignore[no-untyped-def]
    # one loop per module: a qasync loop closed between tests can leave Qt events aimed at
    # its deleted notifiers, which a later processEvents() crashes on
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.set_event_loop(None)
    loop.close()


def test_go_live_shows_preview_meters_timer_and_ends(qtbot, qasync_loop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    session = LiveSession()
    panel = GoLivePanel(session, runner=qasync_loop.create_task)
    qtbot.addWidget(panel)
    panel.resize(1000, 600)
    panel.show()

    assert panel.video_picker.currentData() == "testsrc"
    assert panel.audio_picker.currentData() == "tone"
    assert panel.live_badge.text() == "OFF AIR" and not panel.end.isEnabled()
    panel.record_path.setText(str(tmp_path / "panel.mkv"))
    panel.title.setText("Late set")

    async def scenario() -> None:
        panel.go_live.click()
        for _ in range(200):
            await asyncio.sleep(0.05)
            if session.state == "live" and session.elapsed_s > 1.5:
                break
        assert session.state == "live"
        assert session.options is not None and session.options.title == "Late set"
        assert panel.live_badge.text() == "● RECORDING"  # no ingest URL: recording only
        assert not panel.go_live.isEnabled() and panel.end.isEnabled()
        assert not panel.video_picker.isEnabled()
        assert not panel.preview.pixmap().isNull()
        assert re.fullmatch(r"00:00:0[1-9]", panel.timer_label.text())
        assert panel.meter.peak_db[0] == pytest.approx(-20.0, abs=0.5)  # the -20 dBFS tone
        assert "LUFS" in panel.loudness.text() and "M –" not in panel.loudness.text()
        assert "recording only" in " ".join(session.messages)
        await asyncio.sleep(1.1)
        assert "fps" in panel.stats_label.text()
        panel.mute.setChecked(True)
        await asyncio.sleep(0.3)
        assert panel.meter.peak_db[0] < -100  # muted
        panel.end.click()
        for _ in range(100):
            await asyncio.sleep(0.05)
            if session.state == "ended":
                break
        panel.hide()  # the page's preview (back after End) stops with the loop still running
        await session.stop_preview()

    qasync_loop.run_until_complete(scenario())
    assert session.state == "ended"
    assert panel.live_badge.text() == "OFF AIR" and panel.go_live.isEnabled()
    assert "Recording saved" in panel.message_label.text()
    assert len(decode_video(tmp_path / "panel.mkv")) >= 30


def test_a_refused_start_is_shown_not_raised(qtbot, qasync_loop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    session = LiveSession()
    panel = GoLivePanel(session, runner=qasync_loop.create_task)
    qtbot.addWidget(panel)
    panel.record_path.setText(str(tmp_path / "show.avi"))
    panel.title.setText("Refused")

    async def scenario() -> None:
        panel.go_live.click()
        for _ in range(100):
            await asyncio.sleep(0.05)
            if session.state == "failed":
                break

    qasync_loop.run_until_complete(scenario())
    assert "use a .mkv, .webm or .mp4 file name" in panel.message_label.text()
    assert panel.go_live.isEnabled()


def test_the_title_defaults_to_the_artist_and_a_show_needs_one(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = GoLivePanel(LiveSession(), host=ShowHost(artist_name=" Ada "))
    qtbot.addWidget(panel)
    assert panel.title.text() == "Ada live"
    assert panel.go_live.isEnabled()
    assert not panel.share.isEnabled() and panel.share.toolTip() == SHARE_WHY
    panel.title.setText("   ")
    assert not panel.go_live.isEnabled() and panel.go_live.toolTip() == NO_TITLE_WHY
    nameless = GoLivePanel(LiveSession())
    qtbot.addWidget(nameless)
    assert nameless.title.text() == "Live now" and nameless.go_live.isEnabled()


def test_elapsed_format() -> None:
    assert format_elapsed(3725.9) == "01:02:05"


async def wait_for(condition, seconds: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


def test_the_page_previews_before_going_live_and_clears_after_end(
    qtbot, qasync_loop, tmp_path: Path, artifacts_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    session = LiveSession()
    panel = GoLivePanel(session, runner=qasync_loop.create_task)
    qtbot.addWidget(panel)
    panel.resize(1100, 620)
    panel.record_path.setText(str(tmp_path / "after.mkv"))
    panel.title.setText("Preview first")

    async def scenario() -> None:
        panel.show()  # the tab opens: picture and levels, nothing encoded or sent
        await wait_for(lambda: not panel.preview.pixmap().isNull())
        await wait_for(lambda: panel.meter.peak_db[0] > -21)
        assert session.state == "idle" and session.previewing
        assert session.preview_pipeline.video_encoder is None
        assert "LUFS" in panel.loudness.text()
        assert panel.live_badge.text() == "OFF AIR" and panel.timer_label.text() == "00:00:00"
        panel.grab().save(str(artifacts_dir / "golive-panel-preview.png"))
        panel.hide()  # another tab: the preview lets go of the devices
        await wait_for(lambda: not session.previewing)
        panel.show()
        await wait_for(lambda: session.previewing)

        panel.go_live.click()
        await wait_for(lambda: session.state == "live" and session.elapsed_s > 1.3)
        assert not session.previewing  # the show took over
        await wait_for(lambda: "fps" in panel.stats_label.text())
        assert panel.timer_label.text() == "00:00:01"
        assert "#d32f2f" in panel.badge.styleSheet()  # the red LIVE badge
        panel.grab().save(str(artifacts_dir / "golive-panel-live.png"))
        panel.end.click()
        await wait_for(lambda: session.state == "ended")
        # cleared, not frozen: no show figures, the timer back at zero, the meter at rest
        assert panel.stats_label.text() == "" and panel.viewers_label.text() == ""
        assert panel.timer_label.text() == "00:00:00"
        assert "#d32f2f" not in panel.badge.styleSheet()
        await asyncio.sleep(1.2)  # a last second's figures do not come back
        assert panel.stats_label.text() == ""
        await wait_for(lambda: session.previewing)  # and the preview runs again
        panel.hide()
        await wait_for(lambda: not session.previewing)

    qasync_loop.run_until_complete(scenario())


def test_the_controls_do_not_move_as_the_figures_change(qtbot) -> None:  # type: ignore[no-untyped-def]
    # no media here: the preview the shown page asks for is not run
    panel = GoLivePanel(LiveSession(), runner=lambda coroutine: coroutine.close())
    qtbot.addWidget(panel)
    panel.resize(1100, 620)
    panel.show()
    qtbot.waitExposed(panel)
    watched = [panel.go_live, panel.end, panel.share, panel.badge, panel.title, panel.stats_label]

    def places() -> list:  # type: ignore[type-arg]
        QApplication.processEvents()
        return [w.mapTo(panel, w.rect().topLeft()) for w in watched] + [w.size() for w in watched]

    panel.session.state = "live"  # the figures a show reports, without running one
    before = places()
    for stats in (
        {"fps": 9, "bitrate_kbps": 8.0, "encoder_load_pct": 3.0, "publish_state": "live"},
        {
            "fps": 30, "bitrate_kbps": 12345.0, "rtt_ms": 1234.0, "loss_pct": 12.5,
            "encoder_load_pct": 111.0, "publish_state": "reconnecting", "viewers": 12345,
        },
    ):  # fmt: skip
        panel._show_stats(stats)
        panel.live_badge.setText("● RECORDING")
        panel.timer_label.setText("12:34:56")
        panel.gain.setValue(-30)
        assert places() == before
    panel.session.state = "idle"


def test_meter_holds_peaks_and_lights_clip_until_reset(qtbot) -> None:  # type: ignore[no-untyped-def]
    from widgets.live.level_meter import HOLD_S, LevelMeter

    meter = LevelMeter(2)
    qtbot.addWidget(meter)
    meter.resize(300, 40)
    meter.set_levels((-6.0, -6.0), (-12.0, -12.0), now=100.0)
    meter.set_levels((-30.0, -30.0), (-36.0, -36.0), now=100.5)
    assert meter.held_db == [-6.0, -6.0]  # held while the level falls
    meter.set_levels((-30.0, -30.0), (-36.0, -36.0), now=100.0 + HOLD_S + 0.5)
    assert meter.held_db[0] == pytest.approx(-16.0)  # then falls at 20 dB/s
    assert not meter.clipped
    meter.set_levels((-0.05, -3.0), (-3.0, -6.0), clipping=True, now=103.0)
    meter.set_levels((-40.0, -40.0), (-50.0, -50.0), now=104.0)
    assert meter.clipped  # stays lit after the level falls
    image = meter.grab().toImage()
    lit = image.pixelColor(meter.width() - 5, 5)
    assert lit.red() > 200 and lit.green() < 120
    qtbot.mouseClick(meter, Qt.MouseButton.LeftButton, pos=QPoint(meter.width() - 10, 10))
    assert not meter.clipped
    meter.clear()
    assert meter.held_db == [-60.0, -60.0]


def test_stats_dock_shows_dropped_frames_and_warns_when_the_picture_cannot_keep_up(
    qtbot, qasync_loop, tmp_path: Path, artifacts_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    import time

    from studio.live.session import LiveOptions
    from widgets.live.stats_dock import IDLE_TEXT, StatsDock

    session = LiveSession()
    dock = StatsDock(session)
    qtbot.addWidget(dock)
    dock.resize(420, 420)
    dock.show()
    assert dock.status.text() == IDLE_TEXT and dock.warnings.isHidden()

    def slow(frame):  # type: ignore[no-untyped-def]
        time.sleep(0.1)  # a picture filter too slow for 30 fps
        return frame

    async def scenario() -> None:
        await session.start(
            LiveOptions(width=320, height=240, fps=30, audio=["none"],
                        record_path=tmp_path / "starved.mkv")
        )  # fmt: skip
        session.pipeline.picture_filters.append(slow)
        await wait_for(lambda: dock.isVisible() and not dock.warnings.isHidden(), 30)
        assert "cannot keep up" in dock.warnings.text()
        assert int(dock.values["dropped"].text().rstrip("/s")) > 5
        assert "frames dropped" in dock.totals.text()
        assert dock.graphs["dropped"].values
        for label in dock.values.values():  # every figure fits its fixed width, none cut
            label.setText("12345 kbit/s")
            assert label.sizeHint().width() <= label.width(), label.objectName()
        dock.render()
        dock.grab().save(str(artifacts_dir / "stats-dock-starved.png"))
        await session.stop()

    qasync_loop.run_until_complete(scenario())
    # after End: blank, nothing frozen
    assert dock.status.text() == IDLE_TEXT and dock.warnings.isHidden()
    assert dock.values["dropped"].text() == "–" and dock.graphs["fps"].values == []


def test_the_preview_is_redrawn_only_for_a_new_picture_or_a_new_size(qtbot) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    # no media: the session's picture is set here, as the show's pipeline hands it out (a new
    # array every third video frame, the same array in between)
    session = LiveSession()
    panel = GoLivePanel(session, runner=lambda coroutine: coroutine.close())
    qtbot.addWidget(panel)
    panel.resize(1100, 620)
    panel.show()
    qtbot.waitExposed(panel)
    pictures: list[np.ndarray | None] = [None]
    session.preview = lambda: pictures[-1]  # type: ignore[method-assign]

    red = np.zeros((180, 320, 3), np.uint8)
    red[..., 0] = 255
    pictures.append(red)
    panel._tick()
    first = panel.preview.pixmap().cacheKey()
    assert (
        panel.preview.pixmap()
        .toImage()
        .pixelColor(panel.preview.pixmap().width() // 2, panel.preview.pixmap().height() // 2)
        .red()
        == 255
    )
    for _ in range(5):
        panel._tick()
    assert panel.preview.pixmap().cacheKey() == first  # the same picture: not redrawn
    assert panel.preview_draws == 1

    blue = np.zeros((180, 320, 3), np.uint8)
    blue[..., 2] = 255
    pictures.append(blue)
    panel._tick()
    panel._tick()
    assert panel.preview_draws == 2 and panel.preview.pixmap().cacheKey() != first
    pixmap = panel.preview.pixmap()
    assert pixmap.toImage().pixelColor(pixmap.width() // 2, pixmap.height() // 2).blue() == 255

    before = panel.preview.pixmap().size()
    panel.resize(1300, 760)  # the window grows: the picture with it
    QApplication.processEvents()
    panel._tick()
    assert panel.preview_draws == 3 and panel.preview.pixmap().size() != before

    pictures.append(None)  # the picture stops: the idle text, then the same picture again
    panel._tick()
    assert panel.preview.pixmap().isNull() and panel.preview.text()
    pictures.append(blue)
    panel._tick()
    assert panel.preview_draws == 4 and not panel.preview.pixmap().isNull()
