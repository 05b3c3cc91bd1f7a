"""Qt objects in reference cycles die on the GUI thread, never on a media or worker thread
(the segfault of the in-process window tests: a timer left registered by an object the
collector destroyed on an analysis thread)."""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import gc, sys, threading
    from PySide6.QtCore import QCoreApplication, QObject, QTimer
    from widgets import qt_messages
    from widgets.main_thread_gc import MainThreadCollector

    app = QCoreApplication([])
    qt_messages.install()
    collector = MainThreadCollector() if sys.argv[1] == "guarded" else None

    class Panel(QObject):
        def __init__(self):
            super().__init__()
            self.ticker = QTimer(self)
            self.ticker.start(60_000)
            self.me = self  # a cycle: only the cyclic collector can free it

    for _ in range(200):
        Panel()

    def worker():  # an analysis thread allocating as the publisher does
        junk = [[i] for i in range(300_000)]
        del junk

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    QTimer.singleShot(1200, app.quit)  # a few collector ticks
    app.exec()
    gc.collect()
    print("violations", len(qt_messages.violations()))
    """
)


def run(mode: str, tmp_path) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        capture_output=True,
        text=True,
        timeout=120,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
             "PYTHONPATH": ":".join(p for p in sys.path if p)},
    )  # fmt: skip


def test_cycles_holding_qt_timers_are_collected_on_the_gui_thread(tmp_path) -> None:
    result = run("guarded", tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "violations 0" in result.stdout, result.stdout + result.stderr[-2000:]


def test_without_the_guard_a_worker_thread_destroys_them(tmp_path) -> None:
    """The failure the guard prevents, so this test proves it can see it."""
    result = run("unguarded", tmp_path)
    assert result.returncode != 0 or "violations 0" not in result.stdout, result.stdout
