"""A button that does nothing useful in a state is disabled in that state, and says why."""

import pytest

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
        golive.record.setChecked(False)
        assert not golive.record_path.isEnabled() and "Record to" in golive.record_path.toolTip()
        golive.record.setChecked(True)
        assert golive.record_path.isEnabled()

        # Library: nothing selected, nothing to play, copy, open, retry or remove.
        for button in (
            library.play_button, library.copy_button, library.open_button,
            library.retry_button, library.remove_button,
        ):  # fmt: skip
            assert not button.isEnabled(), button.text()
            assert "Select" in button.toolTip(), button.text()

    on_desk(scenario)
