"""The Settings window, driven as a person does: every key round-trips between the window and
the TOML (both ways), bad values are refused beside the field and never written, File >
Settings (Ctrl+,) opens it, and each page is photographed into test-artifacts/."""

import tomllib
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QCheckBox, QLabel
from pytestqt.qtbot import QtBot

from studio.core import Studio
from studio.profiles import load_profile
from studio.settings import Settings, split_key
from studio.settings_schema import GROUPS, Field, fields_for
from widgets.main_window import MainWindow
from widgets.settings.settings_dialog import SettingsDialog
from widgets.theme import apply_dark_theme


def toml_value(path: Path, key: str) -> Any:
    node: Any = tomllib.loads(path.read_text())
    for part in split_key(key):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def typed(field: Field, tmp_path: Path) -> str:
    """A valid value that differs from the default (a checkbox writes only a change)."""
    if field.kind == "bool":
        return "false" if field.default else "true"
    if field.key == "recording.folder":
        return str(tmp_path / "shows")
    if field.key == "profile":
        return "testnet"
    return field.example


@pytest.fixture
def dialog(qtbot: QtBot, tmp_path: Path) -> SettingsDialog:
    dialog = SettingsDialog(Settings.open(tmp_path / "settings.toml"), "local")
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_every_key_set_in_the_window_is_in_the_toml(dialog: SettingsDialog, tmp_path: Path) -> None:
    fields = fields_for("local")
    assert set(dialog.rows) == {f.key for f in fields}, "every setting has a row"
    for field in fields:
        dialog.rows[field.key].set_text(typed(field, tmp_path))
        assert dialog.rows[field.key].error.text() == "", field.key
    written = dialog.save()
    assert {f.key for f in written} == {f.key for f in fields}
    assert str(dialog.settings.path) in dialog.status.text()
    for field in fields:
        assert toml_value(dialog.settings.path, field.key) == field.parse(typed(field, tmp_path)), (
            field.key
        )
    # and the studio's own reader sees them
    again = Settings.open(dialog.settings.path)
    assert again.get("video")["bitrate_kbps"] == 2500
    assert again.profile_overrides("local")["chain"]["chain_id"] == 1114


def test_every_key_edited_in_the_toml_shows_in_the_window(qtbot: QtBot, tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    settings = Settings.open(path)
    fields = fields_for("local")
    for field in fields:
        field.write(settings, field.parse(typed(field, tmp_path)))
    settings.save()
    text = path.read_text()
    path.write_text(text.replace("fps = 30", "fps = 24"))  # a hand edit after the save
    dialog = SettingsDialog(Settings.open(tmp_path / "other.toml"), "local")
    qtbot.addWidget(dialog)
    dialog.settings.path = path
    dialog.reload()  # what opening the window does with the file as it is now
    for field in fields:
        expected = typed(field, tmp_path) if field.key != "video.fps" else "24"
        assert dialog.rows[field.key].text() == field.format(field.parse(expected)), field.key
        assert not dialog.rows[field.key].dirty


def test_a_hand_edit_while_the_window_is_open_shows_at_the_next_opening(
    qtbot: QtBot, tmp_path: Path
) -> None:
    studio = Studio(
        load_profile("local"), Settings.open(tmp_path / "settings.toml"), tmp_path / "d", tmp_path
    )
    window = MainWindow(studio)
    qtbot.addWidget(window)
    first = window.open_settings()
    first.close()
    (tmp_path / "settings.toml").write_text('artist_name = "Edited by hand"\n')
    second = window.open_settings()
    assert second.rows["artist_name"].text() == "Edited by hand"


def test_bad_values_are_refused_beside_the_field_and_never_written(
    dialog: SettingsDialog,
) -> None:
    path = dialog.settings.path
    path.write_text('whip_url = "https://ingest.example.org/whip"\n')
    dialog.reload()
    bitrate, url, name = (dialog.rows[k] for k in ("video.bitrate_kbps", "whip_url", "artist_name"))
    bitrate.set_text("fast")
    url.set_text("ftp://ingest.example.org")
    name.set_text("Nina")
    dialog.show_page("Video")
    assert "not a whole number" in bitrate.error.text() and bitrate.error.isVisible()
    assert "http" in url.error.text()
    assert "Check:" in dialog.status.text()
    written = dialog.save()
    assert [f.key for f in written] == ["artist_name"], "the good one is saved"
    saved = tomllib.loads(path.read_text())
    assert saved["whip_url"] == "https://ingest.example.org/whip", "the old value stays"
    assert "video" not in saved
    assert "Not saved" in dialog.status.text() and "Video bitrate" in dialog.status.text()
    bitrate.set_text("100000")
    assert "between 100 and 50000" in bitrate.error.text()
    bitrate.set_text("3000")
    assert bitrate.error.text() == ""
    dialog.save()
    assert tomllib.loads(path.read_text())["video"] == {"bitrate_kbps": 3000}


def test_an_unreadable_file_is_never_overwritten(qtbot: QtBot, tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("profile = [unclosed")
    dialog = SettingsDialog(Settings.open(path), "local")
    qtbot.addWidget(dialog)
    assert not dialog.save_button.isEnabled()
    assert "damaged" in dialog.status.text()
    dialog.rows["artist_name"].set_text("Nina")
    assert dialog.save() == []
    assert path.read_text() == "profile = [unclosed"


def test_a_hand_edited_bad_value_is_shown_with_its_reason(qtbot: QtBot, tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('tip_sound = "maybe"\n[video]\nfps = 500\ncodec = "av1"\n')
    dialog = SettingsDialog(Settings.open(path), "local")
    qtbot.addWidget(dialog)
    assert "between 1 and 60" in dialog.rows["video.fps"].error.text()
    assert "Choose one of vp8, h264" in dialog.rows["video.codec"].error.text()
    assert "maybe" in dialog.rows["tip_sound"].error.text()


def test_restart_and_live_notes(dialog: SettingsDialog) -> None:
    notes = {k: r.note.text() for k, r in dialog.rows.items()}
    assert notes["video.fps"] == "applies at the next Go Live"
    assert notes["profile"] == "restart needed"
    dialog.rows["profile"].set_text("mainnet")
    dialog.rows["video.fps"].set_text("25")
    dialog.save()
    assert "Restart the studio to apply: Profile." in dialog.status.text()
    assert "next Go Live" in dialog.status.text()


def test_file_settings_opens_the_window_with_ctrl_comma(qtbot: QtBot, tmp_path: Path) -> None:
    studio = Studio(
        load_profile("local"), Settings.open(tmp_path / "settings.toml"), tmp_path / "d", tmp_path
    )
    window = MainWindow(studio)
    qtbot.addWidget(window)
    file_menu = window.menuBar().actions()[0].menu()
    assert window.settings_action in file_menu.actions()
    assert window.settings_action.shortcut().toString() == "Ctrl+,"
    extra = QLabel("rules editor goes here")
    window.settings_extras["Alerts"] = [lambda: extra]
    window.settings_action.trigger()
    dialog = window.settings_dialog
    assert isinstance(dialog, SettingsDialog) and dialog.isVisible()
    assert extra.parent() is not None and dialog.pages["Alerts"].isAncestorOf(extra)
    with qtbot.waitSignal(window.settings_saved):
        dialog.rows["artist_name"].set_text("Nina")
        dialog.save()


def test_screenshot_of_every_page(qtbot: QtBot, tmp_path: Path, artifacts_dir: Path) -> None:
    from tests.window_journeys.conftest import distinct_colours

    apply_dark_theme(QApplication.instance())
    path = tmp_path / "settings.toml"
    path.write_text(
        'artist_name = "Nina Blue"\n[video]\nbitrate_kbps = 2500\n[tips]\nfiat_per_coin = "0.85"\n'
    )
    dialog = SettingsDialog(Settings.open(path), "local")
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.rows["video.fps"].set_text("120")  # one refusal shows on the Video page
    out = artifacts_dir
    for group in GROUPS:
        dialog.show_page(group)
        qtbot.wait(20)
        image = dialog.grab().toImage()
        slug = group.lower().replace(" ", "-")
        assert image.save(str(out / f"settings-{slug}.png"))
        assert distinct_colours(image) > 5, group
    assert isinstance(dialog.rows["tip_sound"].editor, QCheckBox)


def test_go_live_takes_the_saved_video_settings_at_the_next_show(
    dialog: SettingsDialog, qtbot: QtBot, tmp_path: Path
) -> None:
    from studio.live.session import LiveSession
    from widgets.live.golive_panel import GoLivePanel

    for key, text in (
        ("video.width", "640"), ("video.height", "360"), ("video.fps", "24"),
        ("video.bitrate_kbps", "900"), ("video.codec", "h264"), ("audio.bitrate_kbps", "96"),
        ("recording.folder", str(tmp_path / "shows")), ("recording.enabled", "false"),
    ):  # fmt: skip
        dialog.rows[key].set_text(text)
    dialog.save()
    panel = GoLivePanel(LiveSession(), settings=dialog.settings)
    qtbot.addWidget(panel)
    assert panel.codec_picker.currentData() == "h264"
    assert not panel.record.isChecked()
    assert panel.record_path.text() == str(tmp_path / "shows" / "harmonie-live.mkv")
    options = panel.options()
    assert (options.width, options.height, options.fps) == (640, 360, 24)
    assert (options.video_bitrate, options.audio_bitrate) == (900_000, 96_000)
    dialog.rows["video.fps"].set_text("50")  # changed while the panel is open...
    dialog.save()
    assert panel.options().fps == 50, "...taken at the next Go Live, no restart"
