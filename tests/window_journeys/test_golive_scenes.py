"""Scenes in the real window: an artist builds a red scene and a blue one in the Go Live
panel, goes live to the local ingest, and switches between them with Ctrl+2, the tray's
Scenes menu and the scene list; a WHEP viewer of the show sees the picture change colour
each time. The settings file holds the scenes for the next start."""

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLineEdit

from studio.live.scenes import load_scenes
from studio.settings import Settings
from tests.window_journeys.conftest import Desk, wait_until
from tests.window_journeys.test_golive_window import end_show, prepare, unannounced_if_asked

pytestmark = pytest.mark.slow

RED, BLUE = (255, 0, 0), (0, 0, 255)


def click_scene(section, name: str) -> None:  # type: ignore[no-untyped-def]
    """A real click on the scene's row in the list."""
    items = section.scene_list.findItems(name, Qt.MatchFlag.MatchExactly)
    assert items, f"no scene {name} in {section.scenes.names}"
    rect = section.scene_list.visualItemRect(items[0])
    QTest.mouseClick(section.scene_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def type_into(field, text: str) -> None:  # type: ignore[no-untyped-def]
    field.selectAll()
    QTest.keyClicks(field, text)
    QTest.keyClick(field, Qt.Key.Key_Return)


async def add_colour_scene(panel, name: str, colour: str) -> None:  # type: ignore[no-untyped-def]
    """Add a scene, rename it in place, put it on, and give it a full-frame colour on top."""
    section = panel.scenes_section
    before = list(section.scenes.names)
    section.add_scene.click()
    (added,) = [n for n in section.scenes.names if n not in before]
    item = section.scene_list.findItems(added, Qt.MatchFlag.MatchExactly)[0]
    section.scene_list.setCurrentItem(item)
    section.rename_scene.click()  # opens the in-place editor
    (editor,) = [e for e in section.scene_list.findChildren(QLineEdit) if e.isVisible()]
    type_into(editor, name)  # the list takes the name up once the editor has closed
    await wait_until(lambda: name in section.scenes.names, 10, f"the scene renamed {name}")
    click_scene(section, name)
    assert section.scenes.active == name, panel.message_label.text()
    section.kind_actions["colour"].trigger()
    assert section.shown_scene.sources[-1].kind == "colour"
    type_into(section.colour, colour)
    assert section.shown_scene.sources[-1].colour == colour, section.problem.text()


class Viewer:
    """The colour a WHEP viewer of the show sees: the mean RGB of its latest decoded frame."""

    def __init__(self, url: str) -> None:
        from media.whep import WhepPlayer

        self.seen: np.ndarray | None = None
        self.frames = 0
        self.player = WhepPlayer(url, decode=True, on_frame=self._frame)

    def _frame(self, kind: str, frame: object) -> None:
        if kind == "video":
            picture = frame.to_ndarray(format="rgb24")  # type: ignore[attr-defined]
            self.seen = picture.reshape(-1, 3).mean(axis=0)
            self.frames += 1

    def sees(self, colour: tuple[int, int, int]) -> bool:
        return self.seen is not None and bool(np.all(np.abs(self.seen - colour) < 40))

    async def until(self, colour: tuple[int, int, int], live, what: str) -> None:  # type: ignore[no-untyped-def]
        """Until the viewer sees `colour`; failing, say what the show and the viewer had."""
        try:
            await wait_until(lambda: self.sees(colour), 30, what)
        except AssertionError:
            compositor = live.pipeline.compositor
            raise AssertionError(
                f"{what}: the show is on {compositor.active} ({compositor.switches} switches), "
                f"the viewer saw {self.seen} after {self.frames} frames"
            ) from None


def test_two_scenes_switched_while_live_reach_the_viewer_and_are_kept(
    on_desk, tmp_path: Path, artifacts_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    recording = tmp_path / "scenes.mkv"

    async def scenario(desk: Desk) -> None:
        from widgets.tray import StudioTray

        panel = desk.golive
        section = panel.scenes_section
        prepare(desk, recording)  # the test pattern and a tone, to the local ingest
        # before scenes this studio had three layouts: they are its first scenes
        assert section.scenes.names == ["Camera over screen", "Main only", "Overlay only"]
        await add_colour_scene(panel, "Red", "#ff0000")
        await add_colour_scene(panel, "Blue", "#0000ff")
        click_scene(section, "Red")
        # cuts: after a fade this in-process viewer was seen stuck on a mid-fade picture in 2 of
        # 6 runs on a loaded machine (not diagnosed); fades are covered in test_scenes.py
        section.transition.setCurrentIndex(section.transition.findData("cut"))
        assert section.scenes.transition == "cut"
        assert section.scenes.names[3:] == ["Red", "Blue"]  # Ctrl+4 and Ctrl+5
        panel.go_live.click()
        await unannounced_if_asked()
        live = desk.studio.live
        await wait_until(lambda: live.publish_state == "live", 90, "publishing")
        viewer = Viewer(panel.whip_url.text().replace("/whip/", "/whep/"))
        await viewer.player.start()
        try:
            await viewer.until(RED, live, "red at the viewer")
            encoder = live.pipeline.video_encoder
            # the hotkey, in the window
            desk.window.activateWindow()
            await wait_until(lambda: desk.window.isActiveWindow(), 10, "the window active")
            QTest.keyClick(desk.window, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)
            assert section.scenes.active == "Blue"
            await viewer.until(BLUE, live, "blue after Ctrl+5")
            # the tray's Scenes menu
            tray = StudioTray(desk.window)
            tray.follow_live(panel)
            tray._refresh_labels()  # as when the menu opens
            actions = {a.text(): a for a in tray.scenes_menu.actions()}
            assert actions["Blue"].isChecked() and not actions["Red"].isChecked()
            actions["Red"].trigger()
            await viewer.until(RED, live, "red after the tray")
            # the scene list
            click_scene(section, "Blue")
            await viewer.until(BLUE, live, "blue after a click")
            assert live.pipeline.video_encoder is encoder, "one encode all along"
            assert live.pipeline.compositor.switches == 3
            panel.grab().save(str(artifacts_dir / "window-golive-scenes.png"))
        finally:
            await viewer.player.stop()
        await end_show(desk)

    # a light show: the viewer decodes in this process, on a shared machine
    on_desk(scenario, {"video": {"width": 480, "height": 270, "fps": 15}})
    saved, problem = load_scenes(Settings.open(tmp_path / "desk" / "settings.toml"))
    assert problem is None and saved.names[3:] == ["Red", "Blue"] and saved.active == "Blue"
    assert saved.scene("Red").sources[-1].colour == "#ff0000"
    assert recording.stat().st_size > 10_000
