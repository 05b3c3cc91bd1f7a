"""Scene hotkeys from any window: the studio grabs Ctrl+Alt+1…9 on a real X server (Xvfb)
while another X window has the keyboard focus; `xdotool key ctrl+alt+5` puts scene 5 on the
air of the live show and a WHEP viewer sees it. A key another program grabbed first is named,
and the others still work; on Wayland the studio says it cannot, and grabs nothing."""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel

from harness.xinput import have_xdotool
from harness.xserver import XServer, xvfb_with_tray
from studio.live.global_hotkeys import SceneHotkeys, parse_modifiers
from tests.window_journeys.conftest import Desk, wait_until
from tests.window_journeys.test_golive_scenes import (
    BLUE,
    RED,
    Viewer,
    add_colour_scene,
    click_scene,
)
from tests.window_journeys.test_golive_window import end_show, prepare, unannounced_if_asked

pytestmark = pytest.mark.slow


@pytest.fixture
def xserver(monkeypatch: pytest.MonkeyPatch) -> Iterator[XServer]:
    """Xvfb as the session's display (the studio's Qt stays offscreen: not an X window)."""
    if not have_xdotool():
        pytest.skip("xdotool is not installed (packaging/debian-test-deps.txt)")
    try:
        with xvfb_with_tray() as server:
            monkeypatch.setenv("DISPLAY", server.display)
            monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
            monkeypatch.setenv("XDG_SESSION_TYPE", "x11")
            yield server
    except FileNotFoundError as missing:
        pytest.skip(f"{missing} is not installed (make system-deps installs it)")


class OtherWindow:
    """Another program's window, mapped and given the keyboard focus (no window manager)."""

    def __init__(self) -> None:
        from Xlib import X
        from Xlib.display import Display

        self.display = Display()
        root = self.display.screen().root
        self.window = root.create_window(
            10, 10, 200, 100, 0, X.CopyFromParent, event_mask=X.KeyPressMask
        )
        self.window.map()
        self.display.sync()
        self.window.set_input_focus(X.RevertToParent, X.CurrentTime)
        self.display.sync()

    def focused(self) -> bool:
        return self.display.get_input_focus().focus == self.window

    def keys_seen(self) -> int:
        from Xlib import X

        seen = 0
        while self.display.pending_events():
            if self.display.next_event().type == X.KeyPress:
                seen += 1
        return seen

    def close(self) -> None:
        self.display.close()


def press(server: XServer, keys: str) -> None:
    subprocess.run(["xdotool", "key", keys], env=server.env, check=True, timeout=20)


def test_ctrl_alt_digit_switches_the_live_scene_from_another_window(
    on_desk, xserver: XServer, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    other = OtherWindow()

    async def scenario(desk: Desk) -> None:
        panel = desk.golive
        hotkeys = desk.journeys.scene_hotkeys
        assert hotkeys.grabbed == list(range(1, 10)), hotkeys.status
        assert "Ctrl+Alt+1…9" in hotkeys.status
        settings = desk.window.open_settings()  # File > Settings says what works
        said = settings.findChild(QLabel, "sceneHotkeysStatus")
        assert said is not None and "Ctrl+Alt+1…9 put scenes 1…9" in said.text()
        settings.close()
        prepare(desk, None)
        section = panel.scenes_section
        await add_colour_scene(panel, "Red", "#ff0000")  # scene 4
        await add_colour_scene(panel, "Blue", "#0000ff")  # scene 5
        section.transition.setCurrentIndex(section.transition.findData("cut"))
        click_scene(section, "Red")
        panel.go_live.click()
        await unannounced_if_asked()
        live = desk.studio.live
        await wait_until(lambda: live.publish_state == "live", 90, "publishing")
        viewer = Viewer(panel.whip_url.text().replace("/whip/", "/whep/"))
        await viewer.player.start()
        try:
            await viewer.until(RED, live, "red at the viewer")
            assert other.focused(), "the other window lost the focus"
            press(xserver, "ctrl+alt+5")
            await wait_until(lambda: live.pipeline.compositor.active == "Blue", 20, "Blue on")
            assert section.scenes.active == "Blue"  # the list shows it, and it is saved
            await viewer.until(BLUE, live, "blue after Ctrl+Alt+5")
            press(xserver, "ctrl+alt+4")
            await wait_until(lambda: live.pipeline.compositor.active == "Red", 20, "Red on")
            await viewer.until(RED, live, "red after Ctrl+Alt+4")
            press(xserver, "ctrl+alt+9")  # no ninth scene: nothing changes
            press(xserver, "5")  # a bare digit is not ours: the focused window gets it
            await wait_until(lambda: other.keys_seen() >= 1, 10, "the other window's key")
            assert live.pipeline.compositor.active == "Red"
            assert live.pipeline.compositor.switches == 2
        finally:
            await viewer.player.stop()
        await end_show(desk)

    try:
        on_desk(scenario, {"video": {"width": 320, "height": 180, "fps": 15}})
    finally:
        other.close()


def test_a_key_taken_by_another_program_is_named_and_the_others_still_work(
    xserver: XServer,
) -> None:
    import asyncio

    from Xlib import XK, X
    from Xlib.display import Display

    other = Display()  # another program that grabbed Ctrl+Alt+3 first
    three = other.keysym_to_keycode(XK.string_to_keysym("3"))
    other.screen().root.grab_key(
        three, X.ControlMask | X.Mod1Mask, True, X.GrabModeAsync, X.GrabModeAsync
    )
    other.sync()
    loop = asyncio.new_event_loop()
    hotkeys = SceneHotkeys("Ctrl+Alt")
    try:
        status = hotkeys.start(loop)
        assert hotkeys.grabbed == [1, 2, 4, 5, 6, 7, 8, 9]
        assert "Ctrl+Alt+3: taken by another program" in status, status
        pressed: list[int] = []
        hotkeys.pressed.connect(pressed.append)
        press(xserver, "ctrl+alt+2")
        press(xserver, "ctrl+alt+3")  # the other program's
        loop.run_until_complete(asyncio.sleep(0))

        async def until_pressed() -> None:
            while not pressed:
                await asyncio.sleep(0.05)

        loop.run_until_complete(asyncio.wait_for(until_pressed(), 10))
        loop.run_until_complete(asyncio.sleep(0.3))
        assert pressed == [2]
        assert "is not a modifier" in SceneHotkeys("Ctrl+Hyper").start(loop)
        assert "off" in SceneHotkeys("off").start(loop)
    finally:
        hotkeys.stop()
        other.close()
        loop.close()


def test_on_wayland_it_says_so_and_grabs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_SESSION_TYPE", "wayland")
    hotkeys = SceneHotkeys()
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        status = hotkeys.start(loop)
    finally:
        loop.close()
    assert "need an X11 session" in status and "Ctrl+1…9" in status
    assert hotkeys.grabbed == []
    assert parse_modifiers("ctrl + alt") == ("Ctrl", "Alt")
