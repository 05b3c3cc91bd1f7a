"""Scene hotkeys that work from any window: an X key grab on the root window (XGrabKey,
python-xlib) of <modifiers>+1…9, read on the asyncio loop (`add_reader` on the X connection:
nothing blocks). `pressed(int)` says which digit; the window bridges it to the Go Live panel.

On Wayland a client cannot grab other programs' keys (an XWayland grab only sees keys while
an X window of ours has the focus): `start()` says so instead of pretending. A key another
program already grabbed is named in the status, and the others still work.
"""

import asyncio
import logging
import os
from typing import Any

from studio.signals import Signal

log = logging.getLogger(__name__)

DEFAULT_MODIFIERS = "Ctrl+Alt"
OFF = "off"
MODIFIER_NAMES = ("Ctrl", "Alt", "Shift", "Super")
DIGITS = range(1, 10)


class HotkeyError(ValueError):
    """A modifier setting that cannot be grabbed; str() says why, in words."""


def parse_modifiers(text: str) -> tuple[str, ...]:
    """ "ctrl+alt" -> ("Ctrl", "Alt"); "off" -> (). At least one modifier: a bare digit
    grabbed from every program would stop anyone typing it."""
    text = text.strip()
    if text.lower() == OFF:
        return ()
    names: list[str] = []
    for part in (p.strip() for p in text.split("+")):
        name = next((n for n in MODIFIER_NAMES if n.lower() == part.lower()), None)
        if name is None:
            raise HotkeyError(
                f"“{part}” is not a modifier: use Ctrl, Alt, Shift or Super joined by +, "
                f"e.g. {DEFAULT_MODIFIERS}, or {OFF}."
            )
        if name not in names:
            names.append(name)
    if names == ["Shift"]:
        raise HotkeyError("Shift alone would take the symbols above the digits: add Ctrl or Alt.")
    return tuple(names)


def check_modifiers(text: str) -> str | None:
    """The settings schema's rule: a reason, or None."""
    try:
        parse_modifiers(text)
    except HotkeyError as exc:
        return str(exc)
    return None


def keys_text(modifiers: tuple[str, ...]) -> str:
    return "+".join(modifiers) + "+1…9"


def wayland_without_x() -> bool:
    """A Wayland session: an X grab (through XWayland) would not see other windows' keys."""
    return os.environ.get("XDG_SESSION_TYPE", "").lower() == "wayland" or (
        bool(os.environ.get("WAYLAND_DISPLAY")) and not os.environ.get("DISPLAY")
    )


class SceneHotkeys:
    """<modifiers>+1…9 grabbed on the X display; `pressed(digit)` on the asyncio loop."""

    def __init__(self, modifiers: str = DEFAULT_MODIFIERS, display: str | None = None) -> None:
        self.pressed = Signal()  # int: 1…9
        self.status = ""  # what works, in words (the Settings window shows it)
        self.grabbed: list[int] = []  # the digits this client holds
        self._modifiers_text = modifiers
        self._display_name = display
        self._display: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd = -1
        self._keycodes: dict[int, int] = {}  # keycode -> digit

    def start(self, loop: asyncio.AbstractEventLoop) -> str:
        """Grab the keys; the status in words (also in `self.status`). Never raises."""
        self.status = self._start(loop)
        log.info("scene hotkeys: %s", self.status)
        return self.status

    def _start(self, loop: asyncio.AbstractEventLoop) -> str:
        try:
            modifiers = parse_modifiers(self._modifiers_text)
        except HotkeyError as exc:
            return f"Scene hotkeys are off: {exc}"
        if not modifiers:
            return "Scene hotkeys from any window are off (Settings: Video)."
        window_keys = "Ctrl+1…9 work while the studio's window has the focus"
        if wayland_without_x():
            return (
                "Scene hotkeys from any window need an X11 session: on Wayland a program "
                f"cannot listen to other programs' keys. {window_keys}; the tray's Scenes "
                "menu works too."
            )
        from Xlib import XK, X, error
        from Xlib.display import Display

        try:
            display = Display(self._display_name)
        except (error.DisplayError, error.DisplayConnectionError, OSError) as exc:
            return f"No X display to grab scene hotkeys on ({exc}). {window_keys}."
        masks = {"Ctrl": X.ControlMask, "Alt": X.Mod1Mask, "Shift": X.ShiftMask,
                 "Super": X.Mod4Mask}  # fmt: skip
        mask = 0
        for name in modifiers:
            mask |= masks[name]
        root = display.screen().root
        taken: list[int] = []
        for digit in DIGITS:
            keycode = display.keysym_to_keycode(XK.string_to_keysym(str(digit)))
            if not keycode:
                taken.append(digit)
                continue
            catcher = error.CatchError(error.BadAccess)
            # the same key with Caps Lock and Num Lock on too: X tells them apart
            for locks in (0, X.LockMask, X.Mod2Mask, X.LockMask | X.Mod2Mask):
                root.grab_key(keycode, mask | locks, True, X.GrabModeAsync, X.GrabModeAsync,
                              onerror=catcher)  # fmt: skip
            display.sync()  # the errors of those requests arrive now
            if catcher.get_error() is not None:
                root.ungrab_key(keycode, mask)
                for locks in (X.LockMask, X.Mod2Mask, X.LockMask | X.Mod2Mask):
                    root.ungrab_key(keycode, mask | locks)
                taken.append(digit)
            else:
                self._keycodes[keycode] = digit
                self.grabbed.append(digit)
        display.sync()
        if not self.grabbed:
            display.close()
            names = ", ".join(f"{'+'.join(modifiers)}+{d}" for d in taken)
            return f"{names}: taken by another program. Choose other keys in Settings (Video)."
        self._display, self._loop, self._fd = display, loop, display.fileno()
        loop.add_reader(self._fd, self._read)
        status = f"{keys_text(modifiers)} put scenes 1…9 on the air from any window."
        if taken:
            names = ", ".join(f"{'+'.join(modifiers)}+{d}" for d in taken)
            status += (
                f" {names}: taken by another program, so those scenes switch from the "
                "window (Ctrl+digit) or the tray only."
            )
        return status

    def _read(self) -> None:
        """The X connection has data: take every queued event without waiting for more."""
        from Xlib import X

        display = self._display
        if display is None:
            return
        try:
            while display.pending_events():
                event = display.next_event()
                if event.type == X.KeyPress and event.detail in self._keycodes:
                    self.pressed.emit(self._keycodes[event.detail])
        except Exception:  # the X server went away: stop listening, keep the studio up
            log.exception("scene hotkeys: the X connection failed")
            self.stop()

    def stop(self) -> None:
        display, self._display = self._display, None
        if display is None:
            return
        if self._loop is not None:
            self._loop.remove_reader(self._fd)
        try:
            display.close()  # the server drops this client's grabs with it
        except Exception:
            log.debug("scene hotkeys: closing the X connection", exc_info=True)
        self.grabbed.clear()
        self._keycodes.clear()
