"""Save a PNG of the X screen: `python -m tests.support.screenshot OUT.png`, DISPLAY set."""

import sys

from PySide6.QtGui import QGuiApplication


def main(path: str) -> int:
    app = QGuiApplication(["screenshot", "-platform", "xcb"])
    pixmap = app.primaryScreen().grabWindow(0)
    return 0 if pixmap.save(path, "PNG") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
