"""The system-tray icon: show/hide, go live/stop, switch scenes, quit; keeps the studio alive
when hidden."""

from typing import Any

from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from widgets.main_window import MainWindow
from widgets.theme import app_icon


class StudioTray(QSystemTrayIcon):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(app_icon(), window)
        self.window = window
        self.setToolTip("HarmonieCORE Studio")
        self._told_about_hiding = False

        menu = QMenu()
        self.toggle_action = QAction("Hide window", menu)
        self.toggle_action.triggered.connect(self.toggle_window)
        self.live_action = QAction("Go Live", menu)
        self.live_action.setEnabled(False)  # until the Go Live panel is there
        self.live_action.triggered.connect(self._toggle_live)
        self._golive: Any = None
        self.scenes_menu = QMenu("Scenes", menu)
        self.scenes_menu.setEnabled(False)  # until the Go Live panel is there
        self._scene_actions = QActionGroup(self.scenes_menu)
        quit_action = QAction("Quit", menu)
        quit_action.triggered.connect(window.quit_requested.emit)
        menu.addAction(self.toggle_action)
        menu.addAction(self.live_action)
        menu.addMenu(self.scenes_menu)
        menu.addSeparator()
        menu.addAction(quit_action)
        self.setContextMenu(menu)
        self._menu = menu
        menu.aboutToShow.connect(self._refresh_labels)

        self.activated.connect(self._on_activated)
        window.hidden_to_tray.connect(self._on_hidden)

    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    def install(self) -> bool:
        """Show the icon if a tray host exists; only then may closing the window hide it."""
        if not self.available():
            return False
        self.show()
        self.window.can_hide_to_tray = True
        return True

    def toggle_window(self) -> None:
        if self.window.isVisible():
            self.window.hide()
        else:
            self.window.showNormal()
            self.window.raise_()
            self.window.activateWindow()
        self._refresh_labels()

    def follow_live(self, golive_panel: Any) -> None:
        """Go Live / End from the tray press the Go Live panel's own buttons."""
        self._golive = golive_panel
        self._refresh_labels()

    def _toggle_live(self) -> None:
        panel = self._golive
        if panel is None:
            return
        button = panel.go_live if panel.go_live.isEnabled() else panel.end
        if button.isEnabled():
            button.click()

    def _refresh_scenes(self, panel: Any) -> None:
        """One checkable entry per scene (the one on the air checked), as the panel has them."""
        self.scenes_menu.clear()
        self._scene_actions = QActionGroup(self.scenes_menu)
        active = panel.active_scene()
        for index, name in enumerate(panel.scene_names()):
            action = self.scenes_menu.addAction(name)
            action.setCheckable(True)
            action.setChecked(name == active)
            if index < 9:
                action.setToolTip(f"Ctrl+{index + 1} in the window")
            action.triggered.connect(lambda _c=False, n=name: panel.activate_scene(n))
            self._scene_actions.addAction(action)
        self.scenes_menu.setEnabled(bool(panel.scene_names()))

    def _refresh_labels(self) -> None:
        self.toggle_action.setText("Hide window" if self.window.isVisible() else "Show window")
        panel = self._golive
        if panel is None:
            return
        live = not panel.go_live.isEnabled() and panel.end.isEnabled()
        self.live_action.setText("End the show" if live else "Go Live")
        self.live_action.setEnabled(panel.go_live.isEnabled() or panel.end.isEnabled())
        self._refresh_scenes(panel)

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.toggle_window()

    def _on_hidden(self) -> None:
        if not self._told_about_hiding:
            self._told_about_hiding = True
            self.showMessage(
                "HarmonieCORE Studio is still running",
                "You will still be told about tips. Quit from this icon's menu.",
                QSystemTrayIcon.MessageIcon.Information,
                4000,
            )
        self._refresh_labels()
