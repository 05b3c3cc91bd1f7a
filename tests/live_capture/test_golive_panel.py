"""The Go Live panel offscreen (pytest-qt), driving a real LiveSession on a qasync loop."""

import asyncio
import re
from pathlib import Path

import pytest

qasync = pytest.importorskip("qasync")

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
