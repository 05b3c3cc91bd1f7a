"""Fixtures every test shares: an isolated home for the studio's files.

Area fixtures (backend, chain, live, uploads) live in each area's own conftest.py.
"""

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.secret_service import SecretServiceSession, have_gnome_keyring

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point XDG dirs (settings, data, logs) at a temp dir so no test touches the user's files."""
    home = tmp_path / "home"
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        (home / sub).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(home / sub))
    return home


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def have_root() -> bool:
    return os.geteuid() == 0


@pytest.fixture(scope="session")
def secret_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecretServiceSession]:
    """Real gnome-keyring on a private bus; an area's `vault` points the test process at it."""
    if not have_gnome_keyring() or not shutil.which("dbus-daemon"):
        pytest.skip("gnome-keyring-daemon / dbus-daemon are not installed")
    session = SecretServiceSession(tmp_path_factory.mktemp("keyring-home"))
    session.start()
    yield session
    session.stop()


_closed_loops: list[asyncio.AbstractEventLoop] = []


@pytest.fixture(autouse=True)
def qt_objects_die_on_the_gui_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """A Qt test collects garbage on the GUI thread, as the app does (widgets.main_thread_gc);
    the qasync_loop fixture does the same for its whole module."""
    if "qapp" not in request.fixturenames or "qasync_loop" in request.fixturenames:
        yield
        return
    import gc

    from widgets.main_thread_gc import MainThreadCollector

    request.getfixturevalue("qapp")
    collector = MainThreadCollector()
    try:
        yield
    finally:
        collector.stop()
        collector.deleteLater()
        gc.collect()


@pytest.fixture(scope="module")
def qasync_loop(qapp: Any) -> Iterator[asyncio.AbstractEventLoop]:
    """asyncio on Qt's event loop, as the app runs it: one qasync loop for the module
    (closing one between tests left Qt events aimed at its deleted notifiers, which a
    later processEvents() crashed on)."""
    import qasync
    from PySide6.QtCore import QEvent, QTimer

    from widgets import qt_messages
    from widgets.main_thread_gc import MainThreadCollector

    qt_messages.install()
    qt_messages.clear()
    collector = MainThreadCollector()  # as the app does: Qt objects die on the GUI thread
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    yield loop
    # A panel's ticking timer must not outlive the loop its callbacks schedule work on:
    # a tick into a closed qasync loop crashed a later test (segfault inside Qt).
    for widget in qapp.allWidgets():
        for timer in widget.findChildren(QTimer):
            timer.stop()
        if widget.isWindow():
            widget.close()
            widget.deleteLater()
    qapp.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    qapp.processEvents()
    asyncio.set_event_loop(None)
    loop.close()
    # qasync's close() leaves its pending timers to kill themselves when they next fire;
    # keeping the closed loop alive keeps their owner alive until then.
    _closed_loops.append(loop)
    collector.stop()
    collector.deleteLater()
    found = qt_messages.violations()
    assert not found, "Qt objects were used off the GUI thread:\n" + "\n".join(found)
