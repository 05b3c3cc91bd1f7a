"""The Scenes box of the Go Live panel (offscreen) and scene edits reaching a running
session: a refused value says why and changes nothing; a media file added to the scenes
while the preview runs opens in the background and shows when its scene is put on."""

import asyncio
import time
from pathlib import Path

import av
import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QPixmap
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from media.scenes import Scene, SceneSet, SceneSource, default_scenes
from studio.live.options import LiveOptions
from studio.live.scenes import load_scenes
from studio.live.session import LiveSession
from studio.settings import Settings
from widgets.live.golive_panel import GoLivePanel
from widgets.live.scene_editor import ScenesSection


def type_into(field, text: str) -> None:  # type: ignore[no-untyped-def]
    field.selectAll()
    QTest.keyClicks(field, text)
    QTest.keyClick(field, Qt.Key.Key_Return)


def kinds(scene: Scene) -> list[str]:
    return [s.kind for s in scene.sources]


def test_the_scenes_box_edits_scenes_and_refuses_wrong_values(qtbot) -> None:  # type: ignore[no-untyped-def]
    section = ScenesSection(default_scenes())
    qtbot.addWidget(section.scenes_pane)  # the Scenes dock's
    qtbot.addWidget(section.sources_pane)  # the Sources dock's
    edits: list[SceneSet] = []
    chosen: list[str] = []
    section.edited.connect(edits.append)
    section.chosen.connect(chosen.append)
    assert section.scene_list.count() == 3
    assert section.scene_list.item(0).font().bold()  # the scene on the air

    section.kind_actions["colour"].trigger()
    assert kinds(section.shown_scene) == ["video", "overlay", "alerts", "colour"]
    assert section.source_list.currentRow() == 0  # the new source, top of the list
    type_into(section.colour, "#ff0000")
    assert section.shown_scene.sources[-1].colour == "#ff0000"
    type_into(section.colour, "red")
    assert "#rrggbb" in section.problem.text()
    assert section.shown_scene.sources[-1].colour == "#ff0000"  # nothing changed
    assert section.colour.text() == "#ff0000"  # the field shows what the scene holds

    section.opacity.setValue(50)
    assert section.shown_scene.sources[-1].opacity == 0.5
    assert section.problem.text() == ""
    section.source_down.click()
    assert kinds(section.shown_scene) == ["video", "overlay", "colour", "alerts"]
    assert section.source_list.currentRow() == 1  # the moved source stays selected
    section.source_up.click()
    assert kinds(section.shown_scene) == ["video", "overlay", "alerts", "colour"]
    section.box[2].setValue(150)  # wider than the frame: allowed, it is clipped
    assert section.shown_scene.sources[-1].rect.w == 1.5
    section.remove_source.click()
    assert kinds(section.shown_scene) == ["video", "overlay", "alerts"]

    item = section.scene_list.item(1)
    item.setText("camera over screen")  # another scene's name, in other capitals
    assert "Two scenes are called" in section.problem.text()
    qtbot.waitUntil(lambda: section.scene_list.item(1).text() == "Main only")
    assert (
        section.scenes.names[1] == "Main only" and section.scene_list.item(1).text() == "Main only"
    )

    section.add_scene.click()
    assert section.scenes.names[-1] == "Scene 4"
    QTest.mouseClick(
        section.scene_list.viewport(),
        Qt.MouseButton.LeftButton,
        pos=section.scene_list.visualItemRect(section.scene_list.item(3)).center(),
    )
    assert chosen == ["Scene 4"]  # the panel switches (and saves) when told
    section.transition.setCurrentIndex(section.transition.findData("cut"))
    assert section.scenes.transition == "cut"
    for _ in range(3):
        section.scene_list.setCurrentRow(0)
        if section.remove_scene.isEnabled():
            section.remove_scene.click()
    assert len(section.scenes.scenes) == 1 and not section.remove_scene.isEnabled()
    assert all(isinstance(e, SceneSet) for e in edits) and edits[-1] == section.scenes


def test_the_panel_switches_saves_and_restores_scenes(qtbot, qasync_loop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "settings.toml"
    session = LiveSession()
    panel = GoLivePanel(session, settings=Settings.open(path), runner=qasync_loop.create_task)
    qtbot.addWidget(panel)
    panel.install_hotkeys(panel)
    assert len(panel.hotkeys) == 9 and panel.hotkeys[1].key().toString() == "Ctrl+2"
    panel.activate_scene_at(2)
    assert panel.active_scene() == "Overlay only"
    panel.activate_scene_at(7)  # no eighth scene: nothing happens
    assert panel.active_scene() == "Overlay only"
    assert panel.options().scenes is not None and panel.options().scenes.active == "Overlay only"
    saved, problem = load_scenes(Settings.open(path))
    assert problem is None and saved.active == "Overlay only"
    again = GoLivePanel(LiveSession(), settings=Settings.open(path))
    qtbot.addWidget(again)
    assert again.active_scene() == "Overlay only" and again.scene_names() == saved.names


def mouse(widget, kind: QEvent.Type, x: float, y: float) -> None:  # type: ignore[no-untyped-def]
    """A left-button press, a move with it held, or its release, at (x, y) on the widget."""
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    button = none if kind == QEvent.Type.MouseMove else left
    held = none if kind == QEvent.Type.MouseButtonRelease else left
    point = QPointF(x, y)
    event = QMouseEvent(
        kind, point, widget.mapToGlobal(point), button, held, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, event)


def test_a_source_dragged_on_the_preview_moves_and_is_saved_when_dropped(
    qtbot, qasync_loop, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "settings.toml"
    panel = GoLivePanel(LiveSession(), settings=Settings.open(path), runner=qasync_loop.create_task)
    qtbot.addWidget(panel)
    section = panel.scenes_section
    panel.preview.resize(480, 270)
    panel.preview.setPixmap(QPixmap(480, 270))  # as the composed picture fills it
    section.source_list.setCurrentRow(1)  # the camera in the corner (the list: top first)
    camera = section.selected_source()
    assert camera is not None and camera.kind == "overlay"
    start = camera.rect
    grab_x, grab_y = (start.x + start.w / 2) * 480, (start.y + start.h / 2) * 270
    mouse(panel.preview, QEvent.Type.MouseButtonPress, grab_x, grab_y)
    mouse(panel.preview, QEvent.Type.MouseMove, grab_x - 100, grab_y - 50)
    moving = section.selected_source().rect  # type: ignore[union-attr]
    assert moving.x == pytest.approx(start.x - 100 / 480, abs=0.01)
    assert load_scenes(Settings.open(path))[0].current.sources[1].rect == start  # not yet
    mouse(panel.preview, QEvent.Type.MouseMove, grab_x - 240, grab_y - 135)
    mouse(panel.preview, QEvent.Type.MouseButtonRelease, grab_x - 240, grab_y - 135)
    dropped = load_scenes(Settings.open(path))[0].current.sources[1].rect
    assert dropped.x == pytest.approx(start.x - 0.5, abs=0.01)
    assert dropped.y == pytest.approx(start.y - 0.5, abs=0.01)
    assert (dropped.w, dropped.h) == (start.w, start.h)
    assert section.box[0].value() == round(dropped.x * 100)  # the editor shows it
    # a press outside the selected source's box drags nothing
    mouse(panel.preview, QEvent.Type.MouseButtonPress, 470, 265)
    mouse(panel.preview, QEvent.Type.MouseMove, 10, 10)
    mouse(panel.preview, QEvent.Type.MouseButtonRelease, 10, 10)
    assert section.selected_source().rect == dropped  # type: ignore[union-attr]


def solid_clip(path: Path, colour: tuple[int, int, int], frames: int = 10) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        picture = np.empty((48, 64, 3), np.uint8)
        picture[...] = colour
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


async def until(predicate, what: str, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def preview_colour(session: LiveSession) -> np.ndarray | None:
    picture = session.preview()
    return None if picture is None else picture.reshape(-1, 3).mean(axis=0)


def near(value: np.ndarray | None, colour: tuple[int, int, int]) -> bool:
    return value is not None and bool(np.all(np.abs(value - colour) < 30))


async def test_a_media_file_added_while_previewing_opens_and_shows(tmp_path: Path) -> None:
    clip = solid_clip(tmp_path / "green.mkv", (0, 255, 0))
    red = Scene("Red", (SceneSource("colour", colour="#ff0000"),))
    scenes = SceneSet((red,), transition="cut")
    session = LiveSession()
    await session.start_preview(LiveOptions(video="none", audio=["none"], scenes=scenes))
    try:
        await until(lambda: near(preview_colour(session), (255, 0, 0)), "the red scene")
        clip_scene = Scene("Clip", (SceneSource("media", target=str(clip), stretch=True),))
        gone = Scene("Gone", (SceneSource("media", "Old video", str(tmp_path / "gone.mkv")),))
        session.set_scenes(scenes.adding(clip_scene).adding(gone))
        pipeline = session.preview_pipeline
        assert pipeline is not None
        await until(lambda: f"media:{clip}" in pipeline.video_feeds, "the clip opened")
        await until(lambda: any("Old video is left out" in m for m in session.messages), "why")
        session.switch_scene("Clip")
        await until(lambda: near(preview_colour(session), (0, 255, 0)), "the clip's picture")
        assert session.preview_pipeline is pipeline, "the same preview all along"
        with pytest.raises(ValueError, match="no scene called"):
            session.switch_scene("Nowhere")
    finally:
        await session.stop_preview()
