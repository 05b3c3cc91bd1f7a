"""A real X server (Xvfb) with a system-tray host (trayer), for tests that need a display."""

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.processes import end


@dataclass
class XServer:
    display: str
    env: dict[str, str]


def _free_display() -> int:
    for number in range(90, 200):
        if (
            not Path(f"/tmp/.X11-unix/X{number}").exists()
            and not Path(f"/tmp/.X{number}-lock").exists()
        ):
            return number
    raise RuntimeError("no free X display number")


def _wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


def _x_answers(env: dict[str, str]) -> bool:
    out = subprocess.run(["xprop", "-root"], env=env, capture_output=True)
    return out.returncode == 0


@contextmanager
def xvfb_with_tray(width: int = 1600, height: int = 900) -> Iterator[XServer]:
    for tool in ("Xvfb", "trayer", "xprop"):
        if shutil.which(tool) is None:
            raise FileNotFoundError(tool)
    number = _free_display()
    display = f":{number}"
    xvfb = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # the tray must be the X one trayer hosts
    trayer = None
    try:
        _wait_for(lambda: Path(f"/tmp/.X11-unix/X{number}").exists(), 10, "Xvfb")
        _wait_for(lambda: _x_answers(env), 10, "X server to answer")
        trayer = subprocess.Popen(
            [
                "trayer",
                "--edge",
                "top",
                "--align",
                "right",
                "--widthtype",
                "request",
                "--height",
                "24",
                "--SetDockType",
                "true",
                "--transparent",
                "false",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        if trayer.poll() is not None:
            raise RuntimeError(f"trayer exited with {trayer.returncode}")
        yield XServer(display=display, env=env)
    finally:
        for process in (trayer, xvfb):
            end(process)
