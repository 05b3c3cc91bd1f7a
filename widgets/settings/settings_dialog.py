"""File > Settings: every setting of studio.settings_schema, one page per group.

The TOML stays the storage: opening the window reads the file again (a hand edit shows up),
Save writes only the fields the person changed and that pass their checks; a refused field
keeps the file's value and says why beside it. Fields the running studio cannot take up say
"restart needed"; Video and Audio apply at the next Go Live.

Other parts of the window add their own widgets to a page with `add_to_page(group, widget)`
or the `extra_widgets` argument (the Alerts page's rules editor goes there).
"""

from collections.abc import Mapping, Sequence

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from studio.settings import Settings
from studio.settings_schema import GROUPS, Field, fields_for
from widgets.settings.field_row import FieldRow

INTROS = {
    "Profile and servers": "Who you are and which servers the studio talks to.",
    "Video": "The picture Go Live sends and records.",
    "Audio": "The sound of your shows and of the tracks you publish.",
    "Recording": "The copy of each show kept on this computer.",
    "Wallet": "Your wallet and how coin amounts are shown.",
    "Alerts": "What happens when a fan tips you.",
    "Sales and subscriptions": "Your track editions for sale, and the supporter tiers fans "
    "subscribe to (up to 5, each a price per 30 days).",
    "Advanced": "Error reports, and the chain and network details of this profile (change "
    "these only if you know why).",
    "Restream": "Where Go Live can restream the show over RTMP beside your own stream. "
    "Stream keys are typed in Go Live and kept in the system keyring, never here.",
}


class SettingsDialog(QDialog):
    saved = Signal(list)  # the Fields written

    def __init__(
        self,
        settings: Settings,
        profile_name: str,
        parent: QWidget | None = None,
        extra_widgets: Mapping[str, Sequence[QWidget]] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.settings = settings
        self.profile_name = profile_name
        self.rows: dict[str, FieldRow] = {}
        self.pages: dict[str, QWidget] = {}
        self._page_layouts: dict[str, QVBoxLayout] = {}

        self.group_list = QListWidget()
        self.group_list.setObjectName("settingsGroups")
        self.group_list.setFixedWidth(170)
        self.stack = QStackedWidget()
        for group in GROUPS:
            self.group_list.addItem(group)
            fields = [f for f in fields_for(profile_name) if f.group == group]
            self.stack.addWidget(self._build_page(group, fields))
        self.group_list.currentRowChanged.connect(self.stack.setCurrentIndex)
        for group, widgets in (extra_widgets or {}).items():
            for widget in widgets:
                self.add_to_page(group, widget)

        self.status = QLabel("")
        self.status.setObjectName("settingsStatus")
        self.status.setWordWrap(True)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("settingsSave")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        self.folder_button = QPushButton("Open settings folder")
        self.folder_button.setToolTip(str(settings.path))
        self.folder_button.clicked.connect(self.open_folder)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)

        body = QHBoxLayout()
        body.addWidget(self.group_list)
        body.addWidget(self.stack, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.folder_button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.close_button)
        root = QVBoxLayout(self)
        root.addLayout(body, 1)
        root.addWidget(self.status)
        root.addLayout(buttons)
        self.resize(900, 560)
        self.group_list.setCurrentRow(0)
        self.reload()

    def _build_page(self, group: str, fields: list[Field]) -> QWidget:
        page = QWidget()
        page.setObjectName(f"settingsPage:{group}")
        layout = QVBoxLayout(page)
        intro = QLabel(INTROS[group])
        intro.setWordWrap(True)
        layout.addWidget(intro)
        if any(f.key.startswith("profiles.") for f in fields):
            note = QLabel(
                "Backend, IPFS API (this profile), ICE and chain fields apply to the profile "
                f"'{self.profile_name}' (a profile .toml file holds the same keys)."
            )
            note.setWordWrap(True)
            note.setStyleSheet("color: #8b949e;")
            layout.addWidget(note)
        form = QFormLayout()
        for field in fields:
            row = FieldRow(field, page)
            row.edited.connect(self._render_status)
            self.rows[field.key] = row
            label = QLabel(field.label)
            label.setToolTip(field.help)
            label.setBuddy(row.editor)
            form.addRow(label, row)
        layout.addLayout(form)
        layout.addStretch(1)
        self._page_layouts[group] = layout
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(page)
        self.pages[group] = page
        return scroll

    # ---- pages --------------------------------------------------------------------------

    def add_to_page(self, group: str, widget: QWidget) -> None:
        """Place another module's widget on a page (before the page's closing stretch)."""
        layout = self._page_layouts[group]
        layout.insertWidget(layout.count() - 1, widget)

    def show_page(self, group: str) -> None:
        self.group_list.setCurrentRow(GROUPS.index(group))

    # ---- file in and out ----------------------------------------------------------------

    def reload(self) -> None:
        """Show what the file holds now (a hand edit included)."""
        self.settings.reload()
        for row in self.rows.values():
            row.load(row.field.read(self.settings))
        self._render_status()
        if self.settings.load_error is not None:
            self.status.setText(str(self.settings.load_error))

    def save(self) -> list[Field]:
        """Write every changed field that passes its checks; returns the fields written."""
        if self.settings.read_only:
            self.status.setText(str(self.settings.load_error))
            return []
        written: list[Field] = []
        refused: list[str] = []
        for row in self.rows.values():
            if not row.dirty:
                continue
            if row.reason() is not None:
                refused.append(row.field.label)
                continue
            row.field.write(self.settings, row.value())
            written.append(row.field)
        if written:
            self.settings.save()
            for field in written:
                self.rows[field.key].mark_saved()
        parts = []
        if written:
            parts.append(f"Saved to {self.settings.path}.")
            restart = [f.label for f in written if f.restart]
            if restart:
                parts.append(f"Restart the studio to apply: {', '.join(restart)}.")
            if any(not f.restart for f in written):
                parts.append("Video and audio changes apply at the next Go Live.")
        elif not refused:
            parts.append("Nothing changed.")
        if refused:
            parts.append(f"Not saved: {', '.join(refused)} (the reason is beside each).")
        self.status.setText(" ".join(parts))
        if written:
            self.saved.emit(written)
        return written

    def open_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.settings.path.parent)))

    def _render_status(self) -> None:
        self.save_button.setEnabled(not self.settings.read_only)
        self.save_button.setToolTip(
            "Write the changed settings to the file."
            if not self.settings.read_only
            else "The settings file could not be read: fix it first (see below)."
        )
        bad = [r.field.label for r in self.rows.values() if r.dirty and r.reason()]
        if bad:
            self.status.setText(f"Check: {', '.join(bad)}.")
        elif self.status.text().startswith("Check:"):
            self.status.setText("")
