"""A GUI thread that stops turning is logged, and a long stall leaves every thread's stack in
crash.log: the WebRTC publisher runs on that thread's loop, so a hang there drops the show."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from PySide6.QtCore import QCoreApplication, QTimer
    from studio.logs import setup_logging
    from widgets.main_thread_watchdog import MainThreadWatchdog

    setup_logging(Path(sys.argv[1]))
    app = QCoreApplication([])
    watchdog = MainThreadWatchdog()

    def sync_call_that_hangs():  # what a blocking call on the GUI thread looks like
        time.sleep(float(sys.argv[2]))

    QTimer.singleShot(600, sync_call_that_hangs)
    QTimer.singleShot(600 + int(float(sys.argv[2]) * 1000) + 800, app.quit)
    app.exec()
    watchdog.stop()
    print("stalls", watchdog.stalls, "longest", round(watchdog.longest_stall_ms))
    """
)


def run(log_dir: Path, stall_s: float) -> tuple[list[dict], str]:  # type: ignore[type-arg]
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(log_dir), str(stall_s)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": str(log_dir),
             "PYTHONPATH": ":".join(p for p in sys.path if p)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    lines = (log_dir / "studio.log").read_text().splitlines()
    stalls = [e for e in map(json.loads, lines) if e.get("event") == "main_thread_stall"]
    return stalls, (log_dir / "crash.log").read_text()


def test_a_long_stall_is_logged_and_leaves_the_stalled_stack_behind(tmp_path: Path) -> None:
    stalls, crash = run(tmp_path, stall_s=4.5)
    assert len(stalls) == 1 and 4000 <= stalls[0]["ms"] <= 6000, stalls
    assert "Timeout" in crash and "sync_call_that_hangs" in crash, crash


def test_a_short_stall_is_logged_without_a_dump(tmp_path: Path) -> None:
    stalls, crash = run(tmp_path, stall_s=1.0)
    assert len(stalls) == 1 and 700 <= stalls[0]["ms"] <= 2900, stalls
    assert "Timeout" not in crash, crash
