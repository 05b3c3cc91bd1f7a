"""The GUI process: Qt application, qasync event loop, the studio core and its window.

Quitting (File > Quit, the tray's Quit, SIGTERM, SIGINT) always ends the studio and its
backend within QUIT_DEADLINE_S, whatever the window shows: open dialogs are answered "no",
the services get STOP_BUDGET_S to stop cleanly, then the backend is killed; a watchdog
thread ends the process at the deadline if even that did not finish.
"""

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import qasync
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from studio import paths
from studio.cli import open_settings, resolve_profile
from studio.core import Studio
from studio.errors import StudioError
from studio.first_run import needs_first_run
from studio.logs import event, setup_logging
from widgets import qt_messages
from widgets.crash import asyncio_exception_handler, install_exception_hooks, show_error
from widgets.dialogs import close_all, message
from widgets.first_run import open_first_run, restore_sources
from widgets.journeys import Journeys
from widgets.main_thread_gc import MainThreadCollector
from widgets.main_thread_watchdog import MainThreadWatchdog
from widgets.main_window import MainWindow
from widgets.qt_binding import broken_binding_message
from widgets.theme import apply_dark_theme
from widgets.tray import StudioTray

log = logging.getLogger("studio.gui")

QUIT_DEADLINE_S = 5.0  # from the quit request to the process gone, backend included
STOP_BUDGET_S = 3.5  # of which the services may take this long to stop cleanly
EXIT_FORCED = 70  # exit code when the watchdog had to end the process


class StudioGui:
    """The window, tray and journeys over one Studio, and their lifetime until a quit."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.window = MainWindow(studio)
        self.tray = StudioTray(self.window)
        self.journeys: Journeys | None = None
        self.first_run: Any = None  # the first-run guide while it is open
        self.tray_available = False
        self.quitting = asyncio.Event()
        self.quit_started = threading.Event()  # set on the first quit request, any thread
        self.window.quit_requested.connect(self.request_quit)
        self.window.first_run_requested.connect(self.open_first_run)

    def request_quit(self) -> None:
        self.quit_started.set()
        self.quitting.set()

    def show(self) -> None:
        self.window.show()
        self.tray_available = self.tray.install()
        self.journeys = Journeys(
            self.window, self.tray if self.tray_available else None, self.studio
        )
        event(
            log,
            "window_shown",
            profile=self.studio.profile.name,
            tray_available=self.tray_available,
        )

    def backend_process(self) -> subprocess.Popen[bytes] | None:
        backend = self.studio.local_backend
        return backend.process if backend is not None else None

    async def _start(self) -> None:
        try:
            await self.studio.start()
        except StudioError as exc:
            show_error(self.window, "The studio could not start its backend", str(exc))
            return
        await self.studio.start_services()
        assert self.journeys is not None
        self.journeys.install()
        self.tray.follow_live(self.journeys.golive_panel)
        restore_sources(self.studio, self.journeys)
        self.window.first_run_action.setEnabled(True)
        if needs_first_run(self.studio.settings):
            self.open_first_run()

    def open_first_run(self) -> None:
        """The first-run guide (at the first start, and from Help); one at a time."""
        if self.first_run is not None and self.first_run.isVisible():
            self.first_run.raise_()
            return
        self.first_run = open_first_run(self.window, self.studio, self.journeys)

    async def lifetime(self) -> int:
        """Start the studio, run until a quit is requested, then stop within the budget.

        A quit during start-up does not wait for the start to finish."""
        starting = asyncio.ensure_future(self._start())
        waiting = asyncio.ensure_future(self.quitting.wait())
        await asyncio.wait({starting, waiting}, return_when=asyncio.FIRST_COMPLETED)
        await waiting
        started = time.monotonic()
        if not starting.done():
            starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        event(log, "quitting", dialogs_closed=close_all())
        self.window.save_layout()
        self.studio.settings.save()
        self.tray.hide()
        backend = self.backend_process()
        try:
            await asyncio.wait_for(self.studio.stop(), STOP_BUDGET_S)
        except TimeoutError:
            log.warning("the studio did not stop within %.1f s: ending its backend", STOP_BUDGET_S)
            _kill(backend)
        event(log, "quit_done", seconds=round(time.monotonic() - started, 2))
        return 0


def _kill(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None and process.poll() is None:
        process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(1.0)


class QuitWatchdog:
    """Once a quit is requested, the process ends by the deadline, however the UI is stuck
    (a nested Qt loop, a wedged task) and whatever still runs in worker threads (a
    transaction being waited for): a thread of its own, which dies with a process that
    ended in time."""

    def __init__(self, gui: StudioGui, deadline_s: float = QUIT_DEADLINE_S) -> None:
        self.gui = gui
        self.deadline_s = deadline_s
        self.exit_code: int | None = None  # set once the clean quit is done
        threading.Thread(target=self._watch, name="quit-watchdog", daemon=True).start()

    def _watch(self) -> None:
        self.gui.quit_started.wait()
        backend = self.gui.backend_process()
        time.sleep(self.deadline_s - 0.5)  # the rest is for os._exit itself
        backend = backend or self.gui.backend_process()  # quit came while it was starting
        code = EXIT_FORCED if self.exit_code is None else self.exit_code
        log.error("the process was still running %.1f s after quit: ending it", self.deadline_s)
        _kill(backend)
        logging.shutdown()
        os._exit(code)


def run_gui(args: argparse.Namespace) -> int:
    """Run the window until it quits; the process ends here once it started the window."""
    setup_logging(paths.log_dir(), logging.DEBUG if args.verbose else logging.INFO)
    settings = open_settings()
    try:
        profile = resolve_profile(args, settings)
    except StudioError as exc:
        print(f"harmonie-studio: {exc}", file=sys.stderr)
        return 2

    qt_messages.install()
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
    MainThreadCollector(app)  # parented: lives as long as the app

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    loop.set_exception_handler(asyncio_exception_handler)

    gui = StudioGui(Studio(profile, settings))
    gui.show()
    if settings.load_error is not None:
        message(gui.window, "Settings not loaded", str(settings.load_error))
    watchdog = QuitWatchdog(gui)
    _quit_on_signals(loop, gui)
    stalls = MainThreadWatchdog(app)  # from here on the thread only runs the loop

    with loop:
        started = time.monotonic()
        code = loop.run_until_complete(gui.lifetime())
        watchdog.exit_code = code
        log.info("ran for %.1f s", time.monotonic() - started)
    stalls.stop()
    # Everything is saved and stopped. The interpreter's own teardown of Qt and the C
    # extensions took 2-3 s more (measured under Xvfb on 2 cores), past the quit deadline,
    # with nothing left to do: end here.
    log.info("exiting with %d", code)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _quit_on_signals(loop: asyncio.AbstractEventLoop, gui: StudioGui) -> None:
    """SIGTERM/SIGINT quit cleanly (stopping the backend) instead of killing the process.

    Python runs signal handlers only between bytecodes; a light timer gives it the chance
    while Qt's C++ loop is idle.
    """

    def on_signal(_signum: int, _frame: object) -> None:
        gui.quit_started.set()  # the watchdog counts from now, even if the loop is stuck
        loop.call_soon_threadsafe(gui.quitting.set)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    timer = QTimer(QApplication.instance())
    timer.timeout.connect(lambda: None)
    timer.start(200)
