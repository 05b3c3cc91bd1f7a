"""The Stats dock in the real window while the encoder cannot keep up: dropped frames and a
warning in plain words, then (the artist consented in Settings > Video) the step-down, said in
the dock and the status bar, and the show going on at the smaller picture."""

import tomllib
from pathlib import Path

import pytest
from PySide6.QtWidgets import QCheckBox

from tests.support.slow_encoder import starve_video_encoders
from tests.window_journeys.conftest import Desk, wait_until
from tests.window_journeys.test_golive_window import end_show, prepare, unannounced_if_asked

pytestmark = pytest.mark.slow


def test_a_starved_encoder_shows_in_the_dock_and_the_show_steps_down(
    on_desk, tmp_path: Path, artifacts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    # 80 ms more a 960x540 picture: 120 % of a 15 fps budget; nothing more at 640x360
    starve_video_encoders(monkeypatch, 0.08, (960, 540))
    recording = tmp_path / "starved.mkv"

    async def scenario(desk: Desk) -> None:
        panel, live = desk.golive, desk.studio.live
        stats = desk.journeys.stats_dock
        # the artist's consent: Settings > Video > Step down automatically (off by default)
        desk.window.settings_action.trigger()
        dialog = desk.window.settings_dialog
        assert dialog is not None
        dialog.show_page("Video")
        consent = dialog.rows["video.auto_step_down"]
        assert consent.parent() is dialog.pages["Video"]
        assert isinstance(consent.editor, QCheckBox) and not consent.editor.isChecked()
        consent.editor.setChecked(True)
        dialog.save()
        dialog.grab().save(str(artifacts_dir / "settings-video-step-down.png"))
        assert tomllib.loads((desk.home / "settings.toml").read_text())["video"]["auto_step_down"]
        dialog.close()
        prepare(desk, recording)
        desk.window.docks["stats"].raise_()
        panel.go_live.click()
        await unannounced_if_asked()
        await wait_until(lambda: live.publish_state == "live", 90, "publishing")
        await wait_until(
            lambda: stats.values["dropped"].text() not in ("–", "0/s"), 30, "dropped frames"
        )
        await wait_until(
            lambda: "Your computer cannot keep up with the video" in stats.warnings.text(),
            30,
            "the warning",
        )
        assert stats.warnings.isVisible() and "frames dropped in the last 5 s" in (
            stats.warnings.text()
        )
        assert "The studio lowers the resolution if this goes on." in stats.warnings.text()
        await wait_until(lambda: "WHIP" in stats.outputs, 30, "the WHIP output's figures")
        whip = stats.outputs["WHIP"]
        await wait_until(lambda: stats.step_down.isVisible(), 60, "the step-down")
        said = stats.step_down.text()
        assert said.startswith("Stepped down automatically: the encoder was over 90 % busy")
        assert "now 640×360 (was 960×540)" in said
        assert "Stepped down automatically" in desk.window.status_bar.currentMessage()
        assert stats.status.text() == "Live · video 640×360 at 800 kbit/s"
        assert any(m.startswith("Stepped down") for m in live.messages)
        await wait_until(lambda: whip.values["rtt_ms"].text() != "–", 30, "the round trip")
        assert whip.title() == "WHIP · live"
        frames = live.stats()["frames_encoded"]
        await wait_until(lambda: live.stats()["frames_encoded"] > frames + 45, 30, "the show")
        await wait_until(lambda: float(stats.values["encoder_load_pct"].text()[:-2]) < 90, 30,
                         "the encoder relieved")  # fmt: skip
        # the whole dock, scrolled part included
        stats.body.grab().save(str(artifacts_dir / "stats-dock-step-down.png"))
        assert live.publish_state == "live" and len(live.step_downs) == 1
        await end_show(desk)
        assert stats.outputs == {} and not stats.step_down.isVisible()
        assert not stats.warnings.isVisible()

    on_desk(
        scenario,
        {"video": {"width": 960, "height": 540, "fps": 15, "bitrate_kbps": 800}},
    )  # fmt: skip
    assert recording.stat().st_size > 10_000
