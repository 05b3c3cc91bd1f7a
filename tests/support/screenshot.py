"""Save a PNG of the X screen.

From a test: `save_screen(path, env)` (env carries DISPLAY). It runs this module in its own
process, `python -m tests.support.screenshot OUT.png`: a test process may already hold a
QApplication of another kind, or none may be allowed there.
"""

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from PySide6.QtGui import QGuiApplication


def save_screen(path: Path, env: Mapping[str, str] | None = None) -> Path:
    """Grab the whole screen of env's DISPLAY into `path` (PNG); returns the path."""
    subprocess.run(
        [sys.executable, "-m", "tests.support.screenshot", str(path)],
        env=dict(env if env is not None else os.environ), check=True, timeout=30,
    )  # fmt: skip
    return path


def main(path: str) -> int:
    app = QGuiApplication(["screenshot", "-platform", "xcb"])
    pixmap = app.primaryScreen().grabWindow(0)
    return 0 if pixmap.save(path, "PNG") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
