"""The GUI process: Qt application, qasync event loop, the studio core and its window."""

import argparse
import asyncio
import logging
import signal
import sys
import time

import qasync
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from studio import paths
from studio.cli import open_settings, resolve_profile
from studio.core import Studio
from studio.errors import StudioError
from studio.logs import event, setup_logging
from widgets.crash import asyncio_exception_handler, install_exception_hooks, show_error
from widgets.journeys import Journeys
from widgets.main_window import MainWindow
from widgets.qt_binding import broken_binding_message
from widgets.theme import apply_dark_theme
from widgets.tray import StudioTray

log = logging.getLogger("studio.gui")


def run_gui(args: argparse.Namespace) -> int:
    setup_logging(paths.log_dir(), logging.DEBUG if args.verbose else logging.INFO)
    settings = open_settings()
    try:
        profile = resolve_profile(args, settings)
    except StudioError as exc:
        print(f"harmonie-studio: {exc}", file=sys.stderr)
        return 2

    app = QApplication.instance() or QApplication(sys.argv[:1])
    unsafe = broken_binding_message()
    if unsafe is not None:
        log.error("refusing to start: %s", unsafe)
        print(f"harmonie-studio: {unsafe}", file=sys.stderr)
        return 3
    app.setApplicationName("HarmonieCORE Studio")
    app.setDesktopFileName("harmonie-studio")
    app.setQuitOnLastWindowClosed(False)  # the tray keeps us alive; quitting is explicit
    apply_dark_theme(app)
    install_exception_hooks()

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    loop.set_exception_handler(asyncio_exception_handler)

    studio = Studio(profile, settings)
    window = MainWindow(studio)
    tray = StudioTray(window)
    window.show()
    tray_available = tray.install()
    event(log, "window_shown", profile=profile.name, tray_available=tray_available)

    if settings.load_error is not None:
        QTimer.singleShot(
            0, lambda: QMessageBox.warning(window, "Settings not loaded", str(settings.load_error))
        )

    quitting = asyncio.Event()
    window.quit_requested.connect(quitting.set)
    _quit_on_signals(loop, quitting)

    journeys = Journeys(window, tray if tray_available else None, studio)

    async def lifetime() -> int:
        try:
            await studio.start()
        except StudioError as exc:
            show_error(window, "The studio could not start its backend", str(exc))
        else:
            await studio.start_services()
            journeys.install()
            tray.follow_live(journeys.golive_panel)
        await quitting.wait()
        event(log, "quitting")
        window.save_layout()
        settings.save()
        tray.hide()
        await studio.stop()
        return 0

    with loop:
        started = time.monotonic()
        code = loop.run_until_complete(lifetime())
        log.info("ran for %.1f s", time.monotonic() - started)
    return code


def _quit_on_signals(loop: asyncio.AbstractEventLoop, quitting: asyncio.Event) -> None:
    """SIGTERM/SIGINT quit cleanly (stopping the backend) instead of killing the process.

    Python runs signal handlers only between bytecodes; a light timer gives it the chance
    while Qt's C++ loop is idle.
    """

    def on_signal(_signum: int, _frame: object) -> None:
        loop.call_soon_threadsafe(quitting.set)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    timer = QTimer(QApplication.instance())
    timer.timeout.connect(lambda: None)
    timer.start(200)
