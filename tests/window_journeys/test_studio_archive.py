"""In the real window on `local`: File > Export studio data writes the archive the person
names; File > Import studio data asks before it replaces anything (No changes nothing), then
replaces the queue and settings and closes the studio."""

from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog, QLineEdit, QMessageBox

from studio.live.scenes import Scene, SceneSet, SceneSource, load_scenes, save_scenes
from studio.settings import Settings
from tests.uploads.audio import make_audio
from tests.window_journeys.conftest import Desk, next_dialog, wait_until

pytestmark = pytest.mark.slow


async def answer_file_dialog(path: Path) -> None:
    dialog = await next_dialog(QFileDialog)
    dialog.setDirectory(str(path.parent))
    dialog.findChild(QLineEdit, "fileNameEdit").setText(path.name)  # typed, as a person does
    dialog.accept()


async def answer_box(
    button: QMessageBox.StandardButton, title: str, screenshot: Path | None = None
) -> None:
    box = await next_dialog(QMessageBox)
    assert box.windowTitle() == title, box.text()
    if screenshot is not None:
        box.grab().save(str(screenshot))
    box.button(button).click()


def test_export_and_import_from_the_file_menu(on_desk, tmp_path: Path, artifacts_dir: Path) -> None:  # type: ignore[no-untyped-def]
    archive = tmp_path / "studio.zip"
    scenes = SceneSet((Scene("Only me", (SceneSource("screen", "Desk"),)),), transition="cut")

    async def scenario(desk: Desk) -> None:
        window, settings = desk.window, desk.studio.settings
        queue = desk.studio.publish.queue
        queue.add([make_audio(tmp_path, "wav", seconds=0.2, name="song")])
        settings.set_path("video.fps", 24)
        assert save_scenes(settings, scenes) is None
        quits: list[bool] = []
        window.quit_requested.connect(lambda: quits.append(True))

        window.export_action.trigger()
        await answer_file_dialog(archive)
        await answer_box(QMessageBox.StandardButton.Ok, "Studio data exported")
        assert archive.is_file()

        queue.remove(queue.all()[0].id)  # the studio moves on after the export
        settings.set_path("video.fps", 50)
        settings.save()

        window.import_action.trigger()  # ...and the person thinks better of it
        await answer_file_dialog(archive)
        shot = artifacts_dir / "import_studio_data.png"
        await answer_box(QMessageBox.StandardButton.No, "Replace studio data?", shot)
        await wait_until(lambda: window._archive_job.done(), what="the import to stop")
        assert settings.get_path("video.fps") == 50 and queue.all() == []
        assert not quits

        window.import_action.trigger()
        await answer_file_dialog(archive)
        await answer_box(QMessageBox.StandardButton.Yes, "Replace studio data?")
        await answer_box(QMessageBox.StandardButton.Ok, "Studio data imported")
        await wait_until(lambda: quits, what="the studio to close after the import")
        assert [t.path.name for t in queue.all()] == ["song.wav"]
        assert settings.get_path("video.fps") == 24

    on_desk(scenario)
    saved = Settings.open(Path(tmp_path / "desk" / "settings.toml"))
    assert saved.get_path("video.fps") == 24
    assert load_scenes(saved) == (scenes, None)
