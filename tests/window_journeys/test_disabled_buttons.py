"""A button that does nothing useful in a state is disabled in that state, and says why."""

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent
from PySide6.QtWidgets import QApplication

from tests.window_journeys.conftest import Desk

pytestmark = pytest.mark.slow


def test_buttons_that_would_do_nothing_are_disabled_with_a_reason(on_desk) -> None:  # type: ignore[no-untyped-def]
    async def scenario(desk: Desk) -> None:
        golive, library = desk.golive, desk.library
        # Go Live: End while not live; Go Live with nothing to send; the recording path
        # while not recording.
        assert not golive.end.isEnabled() and "not live" in golive.end.toolTip()
        for picker in (golive.video_picker, golive.overlay_picker, golive.audio_picker):
            picker.setCurrentIndex(picker.findData("none"))
        assert not golive.go_live.isEnabled()
        assert "source" in golive.go_live.toolTip()
        golive.audio_picker.setCurrentIndex(golive.audio_picker.findData("tone"))
        assert golive.go_live.isEnabled()
        golive.title.clear()  # a show needs a title
        assert not golive.go_live.isEnabled() and "title" in golive.go_live.toolTip()
        golive.title.setText("Soundcheck")
        assert golive.go_live.isEnabled()
        assert not golive.share.isEnabled() and "when you are live" in golive.share.toolTip()
        golive.record.setChecked(False)
        assert not golive.record_path.isEnabled() and "Record to" in golive.record_path.toolTip()
        golive.record.setChecked(True)
        assert golive.record_path.isEnabled()
        golive.record_path.setText("/a/long/folder/name/that/the/field/cuts/show.mkv")
        assert golive.record_path.toolTip() == golive.record_path.text(), "the whole path"

        # Library: nothing selected, nothing to play, copy, open, retry or remove.
        for button in (
            library.play_button, library.copy_button, library.open_button,
            library.retry_button, library.remove_button,
        ):  # fmt: skip
            assert not button.isEnabled(), button.text()
            assert "Select" in button.toolTip(), button.text()

        # The drop zone lights up while files are dragged over it (its stylesheet rule).
        zone = library.drop_zone
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile("/tmp/x.flac")])
        enter = QDragEnterEvent(
            QPoint(5, 5), Qt.DropAction.CopyAction, mime,
            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
        )  # fmt: skip
        QApplication.sendEvent(zone, enter)
        assert zone.property("dragging") is True
        QApplication.sendEvent(zone, QDragLeaveEvent())
        assert zone.property("dragging") is False

    on_desk(scenario)
