"""Controls of the alert queue: Skip / Pause / Mute / Drop buttons for the Alerts dock, the same
in the tray menu, and keyboard shortcuts.

The shortcuts are application-wide QShortcuts (they work while any studio window has focus),
not system-wide hotkeys: grabbing keys from the whole X11 session would need a key grab on the
root window that Qt does not offer, and Wayland sessions forbid it.
"""

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QPushButton, QVBoxLayout, QWidget

from studio.tips.alert_queue import AlertQueue

HOTKEYS = {
    "skip": "Ctrl+Alt+K",
    "pause": "Ctrl+Alt+P",
    "mute": "Ctrl+Alt+M",
    "drop": "Ctrl+Alt+D",
}


class _Changed(QObject):
    """AlertQueue.changed (from asyncio callbacks) re-emitted on the GUI thread."""

    fired = Signal()


class AlertControls(QWidget):
    """The buttons above the alert feed; each shows the queue's state."""

    def __init__(self, queue: AlertQueue, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self.skip = QPushButton("Skip")
        self.skip.setToolTip(f"End the alert playing now ({HOTKEYS['skip']})")
        self.pause = QPushButton("Pause")
        self.pause.setCheckable(True)
        self.mute = QPushButton("Mute")
        self.mute.setCheckable(True)
        self.drop = QPushButton("Drop")
        self.drop.setToolTip(
            f"Drop the alert waiting for moderation, so it never plays ({HOTKEYS['drop']})"
        )
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        for button in (self.skip, self.pause, self.mute, self.drop):
            row.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self.skip.clicked.connect(queue.skip)
        self.pause.clicked.connect(lambda: queue.set_paused(self.pause.isChecked()))
        self.mute.clicked.connect(lambda: queue.set_muted(self.mute.isChecked()))
        self.drop.clicked.connect(lambda: queue.drop())
        self._changed = _Changed(self)
        self._changed.fired.connect(self.refresh)
        queue.changed.connect(self._changed.fired.emit)
        self.refresh()

    def refresh(self) -> None:
        queue = self.queue
        paused, muted = queue.paused, queue.muted
        self.pause.setChecked(paused)
        self.pause.setText("Resume" if paused else "Pause")
        self.pause.setToolTip(
            ("Play alerts again" if paused else "Finish this alert, then hold the rest")
            + f" ({HOTKEYS['pause']})"
        )
        self.mute.setChecked(muted)
        self.mute.setText("Unmute" if muted else "Mute")
        self.mute.setToolTip(
            ("Sound and speech back on" if muted else "Alerts play without sound or speech")
            + f" ({HOTKEYS['mute']})"
        )
        self.skip.setEnabled(queue.current is not None)
        self.drop.setEnabled(queue.held is not None)
        self.status.setText(self.status_text())

    def status_text(self) -> str:
        queue = self.queue
        waiting = queue.waiting_count
        parts = []
        if queue.current is not None:
            parts.append(f"Playing: {queue.current.text}")
        if queue.held is not None:
            parts.append(f"Waiting for moderation: {queue.held.text}")
        if queue.paused:
            parts.append(f"Paused ({waiting} waiting)")
        elif waiting and queue.held is None:
            parts.append(f"{waiting} waiting")
        if queue.muted:
            parts.append("Muted")
        return " · ".join(parts) or "No alert playing"

    def close_link(self) -> None:
        self.queue.changed.disconnect(self._changed.fired.emit)


def remove_hotkeys(shortcuts: dict[str, QShortcut]) -> None:
    """Disable now (two live shortcuts on one key are ambiguous: neither fires), delete later."""
    for shortcut in shortcuts.values():
        shortcut.setEnabled(False)
        shortcut.setKey(QKeySequence())
        shortcut.deleteLater()
    shortcuts.clear()


def install_hotkeys(window: QWidget, queue: AlertQueue) -> dict[str, QShortcut]:
    """Application-wide shortcuts for the queue, parented to the main window."""
    actions = {
        "skip": queue.skip,
        "pause": queue.toggle_pause,
        "mute": queue.toggle_mute,
        "drop": queue.drop,
    }
    shortcuts = {}
    for name, slot in actions.items():
        shortcut = QShortcut(QKeySequence(HOTKEYS[name]), window)
        shortcut.setContext(Qt.ShortcutContext.ApplicationShortcut)
        shortcut.activated.connect(lambda slot=slot: slot())
        shortcuts[name] = shortcut
    return shortcuts


class TrayAlertActions(QObject):
    """Skip / Pause / Mute at the top of the tray icon's menu, labelled with the queue's state."""

    def __init__(self, menu: QMenu, queue: AlertQueue) -> None:
        super().__init__(menu)
        self.queue = queue
        self.skip = QAction("Skip alert", menu)
        self.pause = QAction("Pause alerts", menu)
        self.mute = QAction("Mute alerts", menu)
        self.skip.triggered.connect(queue.skip)
        self.pause.triggered.connect(queue.toggle_pause)
        self.mute.triggered.connect(queue.toggle_mute)
        first = menu.actions()[0] if menu.actions() else None
        for action in (self.skip, self.pause, self.mute):
            menu.insertAction(first, action)
        self.separator = menu.insertSeparator(first)
        self.menu = menu
        menu.aboutToShow.connect(self.refresh)
        self.refresh()

    def remove(self) -> None:
        """Take the actions out of the menu (the tips being watched change)."""
        self.menu.aboutToShow.disconnect(self.refresh)
        for action in (self.skip, self.pause, self.mute, self.separator):
            self.menu.removeAction(action)

    def refresh(self) -> None:
        self.skip.setEnabled(self.queue.current is not None)
        self.pause.setText("Resume alerts" if self.queue.paused else "Pause alerts")
        self.mute.setText("Unmute alerts" if self.queue.muted else "Mute alerts")
