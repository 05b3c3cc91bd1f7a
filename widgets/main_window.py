"""The studio window: Go Live and Library pages, Wallet/Chat/Alerts/Stats/Scenes/Sources
docks, status bar.

Each journey's panel is a widget of its own module; this window only places them and keeps
the window's geometry, dock layout and current page in the user's settings.
"""

import asyncio
import base64
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio import archive
from studio.core import Studio, StudioStatus
from studio.settings import Settings
from widgets import dialogs
from widgets.about import show_about
from widgets.bridge import SignalBridge
from widgets.dialogs import show
from widgets.settings.settings_dialog import SettingsDialog
from widgets.status_bar import StudioStatusBar

log = logging.getLogger(__name__)
ARCHIVES = "Studio archives (*.zip);;All files (*)"


def placeholder(text: str) -> QWidget:
    """A page whose journey is not in this build yet: says so, pretends nothing."""
    page = QWidget()
    layout = QVBoxLayout(page)
    label = QLabel(text)
    label.setObjectName("placeholder")
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    layout.addWidget(label)
    return page


class MainWindow(QMainWindow):
    quit_requested = Signal()
    first_run_requested = Signal()  # Help > First-run guide
    hidden_to_tray = Signal()
    settings_saved = Signal()  # the Settings window wrote the file

    def __init__(self, studio: Studio) -> None:
        super().__init__()
        self.studio = studio
        self.can_hide_to_tray = False  # set by the tray icon when a tray host exists
        # Widgets other journeys add to a Settings page, e.g. {"Alerts": [make_rules_editor]}.
        self.settings_extras: dict[str, list[Callable[[], QWidget]]] = {}
        self.settings_dialog: SettingsDialog | None = None
        self._archive_job: asyncio.Future[Any] | None = None
        self.setWindowTitle(f"HarmonieCORE Studio — {studio.profile.name}")
        self._fit_to_screen(1440, 900)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.pages: dict[str, QWidget] = {}
        self.set_page("golive", "Go Live", placeholder("Starting the studio…"))
        self.set_page("library", "Library", placeholder("Starting the studio…"))
        self.setCentralWidget(self.tabs)

        self.docks: dict[str, QDockWidget] = {}
        self.set_dock(
            "wallet",
            "Wallet",
            placeholder("Starting the studio…"),
            Qt.DockWidgetArea.RightDockWidgetArea,
        )
        self.set_dock(
            "chat",
            "Chat",
            placeholder("Chat opens when you are live."),
            Qt.DockWidgetArea.RightDockWidgetArea,
        )
        self.set_dock(
            "alerts",
            "Alerts",
            placeholder("Tips will appear here once your wallet is set up."),
            Qt.DockWidgetArea.RightDockWidgetArea,
        )
        self.set_dock(
            "stats",
            "Stats",
            placeholder("The show's figures appear here when you go live."),
            Qt.DockWidgetArea.RightDockWidgetArea,
        )
        # one column of tabs under the Wallet: the window fits a 1366x768 laptop
        self.tabifyDockWidget(self.docks["alerts"], self.docks["stats"])
        self.tabifyDockWidget(self.docks["alerts"], self.docks["chat"])
        self.docks["alerts"].raise_()
        # Scenes and Sources under the pages (as in OBS), the right-hand docks beside them
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.set_dock("scenes", "Scenes", placeholder("Starting the studio…"), bottom)
        self.set_dock("sources", "Sources", placeholder("Starting the studio…"), bottom)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)

        self.status_bar = StudioStatusBar(self)
        self.setStatusBar(self.status_bar)
        self.status_bar.show_status(studio.status)
        self._status_bridge = SignalBridge(studio.status_changed, self)
        self._status_bridge.fired.connect(self._on_status)

        self._build_menus()
        self.restore_layout()

    def _fit_to_screen(self, width: int, height: int) -> None:
        screen = self.screen().availableGeometry() if self.screen() else None
        if screen is not None:
            width, height = min(width, screen.width()), min(height, screen.height())
        self.resize(width, height)

    # -- composition -------------------------------------------------------------------
    def set_page(self, key: str, title: str, widget: QWidget) -> None:
        """Place (or replace) a journey's page in the central tabs."""
        old = self.pages.get(key)
        if old is not None:
            index = self.tabs.indexOf(old)
            self.tabs.removeTab(index)
            self.tabs.insertTab(index, widget, title)
            old.deleteLater()
        else:
            self.tabs.addTab(widget, title)
        self.pages[key] = widget

    def set_dock(self, key: str, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> None:
        dock = self.docks.get(key)
        if dock is None:
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock_{key}")
            self.addDockWidget(area, dock)
            self.docks[key] = dock
        else:
            old = dock.widget()
            if old is not None:
                old.deleteLater()
        dock.setWidget(widget)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.settings_action = QAction("&Settings…", self)
        self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        self.settings_action.triggered.connect(self.open_settings)
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        self.export_action = QAction("&Export studio data…", self)
        self.export_action.triggered.connect(lambda: self._run(self.export_data()))
        file_menu.addAction(self.export_action)
        self.import_action = QAction("&Import studio data…", self)
        self.import_action.triggered.connect(lambda: self._run(self.import_data()))
        file_menu.addAction(self.import_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.quit_requested.emit)
        file_menu.addAction(quit_action)

        view_menu = self.menuBar().addMenu("&View")
        for dock in self.docks.values():
            view_menu.addAction(dock.toggleViewAction())

        help_menu = self.menuBar().addMenu("&Help")
        self.first_run_action = QAction("&First-run guide…", self)
        self.first_run_action.setEnabled(False)  # the app enables it once the studio is up
        self.first_run_action.triggered.connect(self.first_run_requested.emit)
        help_menu.addAction(self.first_run_action)
        about_action = QAction("&About HarmonieCORE Studio", self)
        about_action.triggered.connect(lambda: show_about(self))
        help_menu.addAction(about_action)

    def open_settings(self) -> SettingsDialog:
        """File > Settings; each page's extra widgets come from `settings_extras` factories."""
        extras = {
            group: [make() for make in makers] for group, makers in self.settings_extras.items()
        }
        dialog = SettingsDialog(self.studio.settings, self.studio.profile.name, self, extras)
        dialog.saved.connect(lambda _fields: self.settings_saved.emit())
        self.settings_dialog = dialog
        show(dialog)
        return dialog

    # -- the studio's data as one archive (studio.archive) ---------------------------------
    def _run(self, job: Coroutine[Any, Any, None]) -> None:
        self._archive_job = asyncio.ensure_future(job)  # kept: a task must not be collected

    async def _archive_step(
        self, step: Callable[[Path, Settings, Path], archive.Summary], path: Path, failed: str
    ) -> archive.Summary | None:
        """`step` (export or import) off the GUI thread; its refusal said in a box (None)."""
        try:
            return await asyncio.to_thread(step, path, self.studio.settings, self.studio.data_dir)
        except archive.ArchiveError as exc:
            await dialogs.warn(self, failed, str(exc))
            return None

    async def export_data(self) -> Path | None:
        """File > Export studio data: the queue, tips, settings and scenes; never a key."""
        stamp = datetime.now().strftime("%Y-%m-%d")
        suggested = str(Path.home() / f"harmonie-studio-{stamp}{archive.SUFFIX}")
        path = await dialogs.save_path(self, "Export studio data", suggested, ARCHIVES)
        if path is None:
            return None
        done = await self._archive_step(archive.export_studio, path, "Export failed")
        if done is None:
            return None
        await dialogs.inform(
            self,
            "Studio data exported",
            f"{done.describe().capitalize()} are in {done.path}. Keys and passwords are not "
            "in it: they stay in this computer's keyring.",
        )
        return done.path

    async def import_data(self) -> bool:
        """File > Import studio data: replaces this studio's data once the person agrees, then
        quits (every panel then starts on the imported data, none writes its old state back)."""
        path = await dialogs.open_path(self, "Import studio data", str(Path.home()), ARCHIVES)
        if path is None:
            return False
        agreed = await dialogs.confirm(
            self,
            "Replace studio data?",
            f"The upload queue, tip history, settings and scenes of this studio are replaced "
            f"by those in {path.name}. What is there now is kept in a folder beside them. "
            "The studio closes afterwards; start it again to use the imported data.",
        )
        if not agreed:
            return False
        done = await self._archive_step(archive.import_studio, path, "Import refused")
        if done is None:
            return False
        await dialogs.inform(
            self,
            "Studio data imported",
            f"Imported {done.describe()}. What was there before is kept in {done.kept}. "
            "The studio closes now; start it again.",
        )
        self.quit_requested.emit()
        return True

    def _on_status(self, status: StudioStatus) -> None:
        self.status_bar.show_status(status)

    # -- settings ----------------------------------------------------------------------
    def restore_layout(self) -> None:
        saved = self.studio.settings.get("window", {}) or {}
        if geometry := saved.get("geometry"):
            self.restoreGeometry(QByteArray(base64.b64decode(geometry)))
        if state := saved.get("state"):
            self.restoreState(QByteArray(base64.b64decode(state)))
        page = saved.get("page")
        if page in self.pages:
            self.tabs.setCurrentWidget(self.pages[page])

    def save_layout(self) -> None:
        current = next((k for k, w in self.pages.items() if w is self.tabs.currentWidget()), None)
        self.studio.settings.set(
            "window",
            {
                "geometry": base64.b64encode(bytes(self.saveGeometry())).decode(),
                "state": base64.b64encode(bytes(self.saveState())).decode(),
                "page": current,
            },
        )

    # -- closing -----------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing the window keeps the studio running in the tray when there is one."""
        self.save_layout()
        if self.can_hide_to_tray:
            event.ignore()
            self.hide()
            self.hidden_to_tray.emit()
        else:
            event.accept()
            self.quit_requested.emit()
