"""The real studio (`widgets.app.run_gui`) with a scripted artist at the controls.

    python -m tests.window_wallet.studio_driver --password PW [--decline]

Once the window is up the artist unlocks the wallet (when it is locked) and, as soon as the
Revenue page's Withdraw button can be pressed, presses it once; a confirmation dialog is
accepted (or declined with --decline). SIGUSR1 chooses File > Quit in the menu. Each step
and every message box the studio shows is logged (`driver_*` events) to the studio's log,
next to the studio's own events.
"""

import argparse
import asyncio
import logging
import signal
import sys

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMessageBox

from studio.cli import parse_args
from studio.logs import event
from widgets.app import run_gui
from widgets.main_window import MainWindow
from widgets.tx_confirm_dialog import TxConfirmDialog

log = logging.getLogger("tests.window_wallet.driver")


class MessageBoxes(QObject):
    """Logs each message box as it is shown: what a person would see pop up."""

    def eventFilter(self, watched: QObject, ev: QEvent) -> bool:
        if ev.type() == QEvent.Type.Show and isinstance(watched, QMessageBox):
            event(log, "driver_message_box", title=watched.windowTitle(), text=watched.text())
        return False


class Artist:
    def __init__(self, app: QApplication, password: str, accept: bool) -> None:
        self.app = app
        self.password = password
        self.accept = accept
        self.unlocking: asyncio.Future[None] | None = None
        self.clicked = False
        self.answered: set[int] = set()
        self.timer = QTimer(app)
        self.timer.timeout.connect(self.step)
        self.timer.start(100)

    def window(self) -> MainWindow | None:
        return next((w for w in self.app.topLevelWidgets() if isinstance(w, MainWindow)), None)

    def step(self) -> None:
        window = self.window()
        session = window.studio.wallet if window is not None else None
        if window is None or session is None or session.address is None:
            return
        if not session.unlocked and self.unlocking is None:
            self.unlocking = asyncio.ensure_future(session.unlock(self.password))
            event(log, "driver_unlocking")
        dashboard = window.pages.get("revenue")
        button = getattr(dashboard, "withdraw_button", None)
        if not self.clicked and session.unlocked and button is not None and button.isEnabled():
            self.clicked = True
            event(log, "driver_clicked_withdraw", wei=str(dashboard.withdrawable_wei))
            button.click()
        for dialog in window.findChildren(TxConfirmDialog):
            if dialog.isVisible() and id(dialog) not in self.answered:
                self.answered.add(id(dialog))
                event(log, "driver_confirmation", accepted=self.accept)
                dialog.accept() if self.accept else dialog.reject()

    def press_quit(self) -> None:
        window = self.window()
        assert window is not None
        quit_action = next(a for a in window.findChildren(QAction) if a.text() == "&Quit")
        event(log, "driver_quit_pressed")
        quit_action.trigger()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--password", required=True)
    parser.add_argument("--decline", action="store_true")
    args = parser.parse_args(argv)
    app = QApplication(sys.argv[:1])
    boxes = MessageBoxes(app)
    app.installEventFilter(boxes)
    artist = Artist(app, args.password, accept=not args.decline)
    signal.signal(signal.SIGUSR1, lambda *_: QTimer.singleShot(0, artist.press_quit))
    return run_gui(parse_args([]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
