"""The real window as `widgets/app.py` composes it: `Studio` on the `local` profile (its own
backend child process with the devnet and content store), `MainWindow` + `Journeys`, on a
qasync loop like the app's, with the wallet's keystore in a private gnome-keyring.

Tests are plain functions that run one coroutine each on the module's qasync loop
(`run(scenario())`): clicks go to the widgets, and `wait_until` lets Qt and asyncio run.
"""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QImage
from PySide6.QtWidgets import QApplication, QDialog, QWidget

from studio.core import Studio
from studio.profiles import LOCAL
from studio.settings import Settings
from tests.live_capture.conftest import pulse  # noqa: F401 - a private PulseAudio to play on
from tests.support.secret_service import SecretServiceSession

# The devnet funds the standard test mnemonic's accounts (the ones anvil uses).
ARTIST_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
PASSWORD = "window journeys password"


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARMONIE_ICE_LOOPBACK", "only")  # media stays on 127.0.0.1


@dataclass
class Desk:
    """The artist's desk: the studio, its window and the journeys' panels."""

    studio: Studio
    window: Any  # widgets.main_window.MainWindow
    journeys: Any  # widgets.journeys.Journeys
    home: Path

    @property
    def golive(self) -> Any:
        return self.journeys.golive_panel

    @property
    def library(self) -> Any:
        return self.journeys.library_panel


@pytest.fixture
def vault(secret_service: SecretServiceSession, request: pytest.FixtureRequest, monkeypatch):  # type: ignore[no-untyped-def]
    """The studio's `Wallet()` on the private keyring, one service name per test, with the
    artist's key imported (locked). A quick scrypt: the suite runs on 2 shared cores."""
    from keyring.backends import SecretService

    import chain.wallet
    from chain.wallet import KeyringVault, Wallet

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service.address)
    vault = KeyringVault(
        backend=SecretService.Keyring(), service=f"harmonie-window-{request.node.name}"
    )
    wallet = Wallet(vault, scrypt_n=2**12)
    wallet.import_private_key(ARTIST_KEY, PASSWORD)
    monkeypatch.setattr(chain.wallet, "Wallet", lambda: wallet)
    return vault


@contextlib.asynccontextmanager
async def open_desk(home: Path, values: dict[str, Any] | None = None) -> AsyncIterator[Desk]:
    """What `widgets.app.run_gui` builds, minus the tray: started, services up, panels in;
    on exit the studio stops (its show, queue, backend) before the window closes. `values`:
    settings sections set before the studio starts (as a settings.toml would hold them)."""
    from widgets.journeys import Journeys
    from widgets.main_window import MainWindow
    from widgets.theme import apply_dark_theme

    apply_dark_theme(QApplication.instance())  # as run_gui does: screenshots show the real look
    home.mkdir(exist_ok=True)  # opened again: the same home, as after a restart
    settings = Settings(home / "settings.toml")
    for name, value in (values or {}).items():
        settings.set(name, value)
    studio = Studio(LOCAL, settings, home / "data", home / "logs")
    window = MainWindow(studio)
    window.show()
    journeys = Journeys(window, None, studio)
    try:
        await studio.start()
        await studio.start_services()
        journeys.install()
        yield Desk(studio, window, journeys, home)
    finally:
        await studio.stop()
        window.can_hide_to_tray = False
        window.close()
        window.deleteLater()


Scenario = Callable[[Desk], Coroutine[Any, Any, None]]
OnDesk = Callable[..., None]  # on_desk(scenario, settings=None)


@pytest.fixture
def on_desk(qasync_loop: asyncio.AbstractEventLoop, vault, tmp_path: Path) -> OnDesk:  # type: ignore[no-untyped-def]
    """Run `scenario(desk)` on the module's qasync loop, the whole studio's life inside it:
    nothing of the studio is left to run when pytest-qt processes events between phases."""

    def on_desk(scenario: Scenario, settings: dict[str, Any] | None = None) -> None:
        async def whole() -> None:
            async with open_desk(tmp_path / "desk", settings) as desk:
                await scenario(desk)

        qasync_loop.run_until_complete(asyncio.wait_for(whole(), 300))

    return on_desk


async def wait_until(
    predicate: Callable[[], object], timeout: float = 60.0, what: str = ""
) -> None:
    """Let Qt and asyncio run until `predicate()` is true; fail saying `what` after timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.05)


async def next_dialog(kind: type[QDialog], timeout: float = 60.0) -> Any:
    """The visible dialog of this class the window opened (without blocking the loop)."""
    found: list[QDialog] = []

    def visible() -> bool:
        found[:] = [
            w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()
        ]
        return bool(found)

    await wait_until(visible, timeout, f"a {kind.__name__}")
    return found[-1]


def drop_files(target: QWidget, paths: list[Path]) -> None:
    """A real drop: QMimeData with file URLs, drag-enter then drop, through Qt's dispatch."""
    from PySide6.QtGui import QDragEnterEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    point = QPointF(target.width() / 2, target.height() / 2)
    enter = QDragEnterEvent(
        point.toPoint(), Qt.DropAction.CopyAction, mime,
        Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted(), "the drop zone refused the drag"
    drop = QDropEvent(
        point, Qt.DropAction.CopyAction, mime,
        Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    QApplication.sendEvent(target, drop)


def distinct_colours(image: QImage, step: int = 8) -> int:
    """How many different colours a sample grid of the image holds (1: blank)."""
    colours = set()
    for y in range(0, image.height(), step):
        for x in range(0, image.width(), step):
            colours.add(image.pixel(x, y))
    return len(colours)
