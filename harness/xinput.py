"""Real X input events (xdotool, Debian `xdotool`): what a person's mouse and keyboard send."""

import shutil
import subprocess

from harness.atspi import Widget


def have_xdotool() -> bool:
    return shutil.which("xdotool") is not None


def click(env: dict[str, str], widget: Widget) -> None:
    """Move the pointer to the widget's centre and press the left button there."""
    x, y = widget.centre
    subprocess.run(
        ["xdotool", "mousemove", "--sync", str(x), str(y), "click", "1"],
        env=env, check=True, timeout=20,
    )  # fmt: skip


def type_text(env: dict[str, str], text: str) -> None:
    """Type into the focused widget; the text goes over stdin, never into argv."""
    subprocess.run(
        ["xdotool", "type", "--delay", "20", "--file", "-"],
        input=text.encode(), env=env, check=True, timeout=60,
    )  # fmt: skip


def press(env: dict[str, str], key: str) -> None:
    subprocess.run(["xdotool", "key", key], env=env, check=True, timeout=20)
