"""The Qt binding does not corrupt reference counts (the 90-second live crash of issue 10)."""

import subprocess
import sys
import textwrap

from widgets import qt_binding

LIVE_PATH = textwrap.dedent(
    """
    import asyncio, sys, threading
    import qasync
    from PySide6.QtWidgets import QApplication
    from studio.signals import Signal
    from widgets.bridge import SignalBridge

    app = QApplication([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    meters = Signal()
    bridge = SignalBridge(meters)
    seen = []
    bridge.fired.connect(seen.append)
    N = 30_000  # about four minutes of a show: meters and packets handed to the loop

    async def main():
        def media_thread():
            for i in range(N):
                loop.call_soon_threadsafe(meters.emit, i)
        thread = threading.Thread(target=media_thread)
        thread.start()
        while len(seen) < N:
            await asyncio.sleep(0.05)
        thread.join()

    with loop:
        loop.run_until_complete(main())
    print("delivered", len(seen))
    """
)


def test_signal_emits_keep_reference_counts() -> None:
    assert qt_binding.emit_refcount_drift(5_000) == 0
    assert qt_binding.broken_binding_message() is None


def test_a_show_worth_of_cross_thread_signals_does_not_crash(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", LIVE_PATH],
        capture_output=True,
        text=True,
        timeout=300,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
             "PYTHONPATH": ":".join(p for p in sys.path if p)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "delivered 30000" in result.stdout


def test_a_leaking_binding_is_refused_with_a_sentence(monkeypatch) -> None:
    monkeypatch.setattr(qt_binding, "emit_refcount_drift", lambda emits=0: 2_000)
    message = qt_binding.broken_binding_message()
    assert message is not None and "PySide6" in message and "reference" in message


def test_a_fatal_error_leaves_its_stack_in_the_log_dir(tmp_path) -> None:
    code = (
        "import faulthandler, pathlib, sys\n"
        "from studio.logs import setup_logging\n"
        f"setup_logging(pathlib.Path({str(tmp_path)!r}))\n"
        "faulthandler._sigabrt()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert result.returncode != 0
    dump = (tmp_path / "crash.log").read_text()
    assert "Fatal Python error" in dump and "most recent call first" in dump
