"""The Scenes and Sources docks: the scene list (click one to put it on the air; add,
rename in place, remove), the chosen scene's sources (top of the list: top of the picture;
add, remove, move up and down) and the selected source's place, size, crop and opacity.

It edits a `media.scenes.SceneSet` and says so: `edited(SceneSet)` after each change,
`chosen(str)` when a scene is picked, `moving(SceneSet)` while a source is dragged on the
preview (`PreviewDragger`; `edited` when it is dropped). A value the model refuses is said
in words under the editor and changes nothing. The panel saves and applies; this widget does no I/O.
"""

from dataclasses import replace
from typing import Any

from PySide6.QtCore import QEvent, QObject, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QMouseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.live.scenes import (
    FULL,
    SOURCE_KINDS,
    Crop,
    Rect,
    Scene,
    SceneError,
    SceneSet,
    SceneSource,
    scene_summary,
)
from widgets.dialogs import show

FILE_KINDS = {"image": "Images (*.png *.jpg *.jpeg *.webp *.gif *.bmp)",
              "media": "Videos (*.mp4 *.mkv *.webm *.mov *.avi)"}  # fmt: skip
TARGET_HINTS = {
    "camera": "/dev/video0",
    "screen": "display, e.g. :0 (empty: this one)",
    "image": "picture file",
    "media": "video file",
    "text": "the text to show",
}
STARTING = {  # where a new source of a kind starts
    "text": (Rect(0.05, 0.05, 0.9, 0.12), "Your text here", "#ffffff"),
    "colour": (FULL, "", "#101820"),
    "camera": (Rect(0.69, 0.64, 0.28, 0.28), "", "#ffffff"),
    "image": (Rect(0.75, 0.05, 0.2, 0.2), "", "#ffffff"),
}


def _percent(low: int, high: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)  # no " %" suffix: the row's label says it, the dock stays narrow
    box.setKeyboardTracking(False)  # one change per value typed, not per digit
    # as wide as "-100" and its arrows: the room beyond goes to the source list
    box.setFixedWidth(box.fontMetrics().horizontalAdvance("-1000") + 32)
    return box


class ScenesSection(QObject):
    """Edits the scenes through two panes the window docks: `scenes_pane` (the scene list,
    add / rename / remove, the transition) and `sources_pane` (the chosen scene's sources and
    the selected source's properties)."""

    edited = Signal(object)  # SceneSet
    chosen = Signal(str)  # a scene's name
    moving = Signal(object)  # SceneSet, while a source is dragged (not saved yet)

    def __init__(self, scenes: SceneSet, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("scenesSection")
        self.scenes = scenes
        self._rendering = False
        self._setup_ui()
        for pane in (self.scenes_pane, self.sources_pane):
            self.destroyed.connect(pane.deleteLater)  # undocked panes go with their editor
        self._render()

    def _setup_ui(self) -> None:
        self.scenes_pane = QWidget()
        self.scenes_pane.setObjectName("scenesPane")
        self.scene_list = QListWidget()
        self.scene_list.setObjectName("sceneList")
        self.scene_list.setToolTip("Click a scene to put it on the air (Ctrl+1…9 too); "
                                   "double-click to rename it.")  # fmt: skip
        self.scene_list.itemClicked.connect(self._scene_clicked)
        self.scene_list.itemChanged.connect(self._scene_renamed)
        self.add_scene = QPushButton("Add")
        self.add_scene.clicked.connect(self._add_scene)
        self.rename_scene = QPushButton("Rename")
        self.rename_scene.clicked.connect(self._rename_clicked)
        self.remove_scene = QPushButton("Remove")
        self.remove_scene.clicked.connect(self._remove_scene)
        self.transition = QComboBox()
        self.transition.addItem("Cut", "cut")
        self.transition.addItem("Fade (300 ms)", "fade")
        self.transition.setToolTip("How the picture changes when you switch scenes.")
        self.transition.currentIndexChanged.connect(self._transition_changed)
        scene_buttons = QHBoxLayout()
        for button in (self.add_scene, self.rename_scene, self.remove_scene):
            scene_buttons.addWidget(button)
        self.scene_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scene_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        scenes_col = QVBoxLayout(self.scenes_pane)
        scenes_col.setContentsMargins(4, 2, 4, 4)
        scenes_col.addWidget(self.scene_list, 1)
        scenes_col.addLayout(scene_buttons)
        transition_row = QHBoxLayout()
        transition_row.addWidget(QLabel("Transition"))
        transition_row.addWidget(self.transition, 1)
        scenes_col.addLayout(transition_row)

        self.sources_pane = QWidget()
        self.sources_pane.setObjectName("sourcesPane")
        self.source_list = QListWidget()
        self.source_list.setObjectName("sourceList")
        self.source_list.setToolTip("The top of the list is drawn on top.")
        self.source_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.source_list.setTextElideMode(Qt.TextElideMode.ElideRight)  # the whole: its tooltip
        self.source_list.currentRowChanged.connect(lambda _row: self._show_source())
        self.add_source = QToolButton()
        self.add_source.setText("Add…")
        self.add_source.setToolTip("Add a source on top of the scene.")
        self.add_source.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        kinds = QMenu(self.add_source)
        self.kind_actions: dict[str, QAction] = {}
        for kind, label in SOURCE_KINDS.items():
            action = kinds.addAction(label)
            action.triggered.connect(lambda _c=False, k=kind: self.add_source_of(k))
            self.kind_actions[kind] = action
        self.add_source.setMenu(kinds)
        self.remove_source = QPushButton("Remove")
        self.remove_source.clicked.connect(self._remove_source)
        self.source_up = QPushButton("Up")
        self.source_up.clicked.connect(lambda: self._move_source(1))
        self.source_down = QPushButton("Down")
        self.source_down.clicked.connect(lambda: self._move_source(-1))
        # the buttons beside the list, not under it: the dock stays short
        source_buttons = QVBoxLayout()
        for button in (self.add_source, self.remove_source, self.source_up, self.source_down):
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            source_buttons.addWidget(button)
        source_buttons.addStretch(1)
        sources_col = QHBoxLayout()
        sources_col.addWidget(self.source_list, 1)
        sources_col.addLayout(source_buttons)

        self.target = QLineEdit()
        self.target.editingFinished.connect(self._apply_source)
        # as wide as the fields under it, no wider: the rest of the dock is the source list's
        self.target.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.colour = QLineEdit()
        self.colour.setPlaceholderText("#rrggbb")
        self.colour.setMaxLength(7)
        self.colour.setMaximumWidth(self.colour.fontMetrics().horizontalAdvance("#rrggbb__") + 16)
        self.colour.editingFinished.connect(self._apply_source)
        self.box = [_percent(-100, 100), _percent(-100, 100), _percent(1, 200), _percent(1, 200)]
        self.crop = [_percent(0, 95) for _ in range(4)]
        self.opacity = _percent(0, 100)
        self.visible = QCheckBox("Shown")
        for spin in (*self.box, *self.crop, self.opacity):
            spin.valueChanged.connect(lambda _v: self._apply_source())
        self.visible.toggled.connect(lambda _on: self._apply_source())
        self.problem = QLabel("")
        self.problem.setObjectName("sceneProblem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #f0883e;")
        # a long reason wraps under the fields rather than widening them
        self.problem.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        # four fields a row: the properties stay as short and as narrow as the dock
        tips = ("from the left edge", "from the top edge", "width", "height")
        for spin, tip in zip(self.box, tips, strict=True):
            spin.setToolTip(f"{tip.capitalize()}, in % of the picture's (x, y, w, h)")
        for spin, side in zip(self.crop, ("left", "top", "right", "bottom"), strict=True):
            spin.setToolTip(f"Cut from the {side}, in % of the source (left, top, right, bottom)")
        self.opacity.setToolTip("Opacity")
        editor = QGridLayout()
        editor.setVerticalSpacing(4)
        rows: tuple[tuple[str, list[QWidget]], ...] = (
            ("Shows", [self.target]),
            ("Box %", list(self.box)),
            ("Crop %", list(self.crop)),
        )
        for row, (label, fields) in enumerate(rows):
            editor.addWidget(QLabel(label), row, 0)
            if len(fields) == 1:
                editor.addWidget(fields[0], row, 1, 1, 4)
            for column, field in enumerate(fields if len(fields) > 1 else [], start=1):
                editor.addWidget(field, row, column)
        editor.addWidget(QLabel("Colour"), 3, 0)
        editor.addWidget(self.colour, 3, 1)
        editor.addWidget(QLabel("Opacity %"), 3, 2, Qt.AlignmentFlag.AlignRight)
        editor.addWidget(self.opacity, 3, 3)
        editor.addWidget(self.visible, 3, 4)
        rows_used = 4
        editor.addWidget(self.problem, rows_used, 0, 1, 5)
        editor.setRowStretch(rows_used + 1, 1)
        sources_row = QHBoxLayout(self.sources_pane)
        sources_row.setContentsMargins(4, 2, 4, 4)
        properties = QWidget()
        properties.setLayout(editor)
        properties.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)
        sources_row.addLayout(sources_col, 1)
        sources_row.addWidget(properties)

    # --- what the panel calls ------------------------------------------------------------

    def set_scenes(self, scenes: SceneSet) -> None:
        """Show these scenes (the active one may have changed elsewhere: tray, hotkey)."""
        self.scenes = scenes
        self._render()

    @property
    def shown_scene(self) -> Scene:
        return self.scenes.current

    # --- rendering -------------------------------------------------------------------------

    def _render(self, source_row: int | None = None) -> None:
        self._rendering = True
        try:
            self.scene_list.clear()
            for index, scene in enumerate(self.scenes.scenes):
                item = QListWidgetItem(scene.name)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
                item.setData(Qt.ItemDataRole.UserRole, scene.name)
                key = f"Ctrl+{index + 1}" if index < 9 else ""
                item.setToolTip(f"{scene.name} ({key})" if key else scene.name)
                if scene.name == self.scenes.active:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.scene_list.addItem(item)
            self.scene_list.setCurrentRow(self.scenes.index(self.scenes.active))
            self.transition.setCurrentIndex(self.transition.findData(self.scenes.transition))
            self.remove_scene.setEnabled(len(self.scenes.scenes) > 1)
            keep = self.source_list.currentRow() if source_row is None else source_row
            self.source_list.clear()
            sources = self.shown_scene.sources
            for source in reversed(sources):  # top of the picture first
                summary = scene_summary(source)
                row = QListWidgetItem(summary)
                row.setToolTip(summary)
                self.source_list.addItem(row)
            if sources:
                self.source_list.setCurrentRow(min(max(keep, 0), len(sources) - 1))
        finally:
            self._rendering = False
        self._show_source()

    def _selected_index(self) -> int | None:
        """The selected source's index in the scene's stack (0: bottom)."""
        row = self.source_list.currentRow()
        count = len(self.shown_scene.sources)
        return None if row < 0 or row >= count else count - 1 - row

    def _show_source(self) -> None:
        if self._rendering:
            return
        index = self._selected_index()
        editors: list[QWidget] = [self.target, self.colour, *self.box, *self.crop,
                                  self.opacity, self.visible]  # fmt: skip
        for widget in (*editors, self.remove_source, self.source_up, self.source_down):
            widget.setEnabled(index is not None)
        if index is None:
            return
        source = self.shown_scene.sources[index]
        self._rendering = True
        try:
            self.target.setText(source.target)
            self.target.setPlaceholderText(TARGET_HINTS.get(source.kind, "(nothing to set)"))
            self.target.setEnabled(source.kind in TARGET_HINTS)
            self.colour.setText(source.colour)
            self.colour.setEnabled(source.kind in ("text", "colour"))
            for spin, value in zip(self.box, source.rect.as_list(), strict=True):
                spin.setValue(round(value * 100))
            for spin, value in zip(self.crop, source.crop.as_list(), strict=True):
                spin.setValue(round(value * 100))
            self.opacity.setValue(round(source.opacity * 100))
            self.visible.setChecked(source.visible)
        finally:
            self._rendering = False

    # --- editing ---------------------------------------------------------------------------

    def _commit(self, scenes: SceneSet, source_row: int | None = None) -> None:
        self.problem.setText("")
        self.scenes = scenes
        self._render(source_row)
        self.edited.emit(scenes)

    def _refused(self, exc: SceneError) -> None:
        self.problem.setText(str(exc))
        self._show_source()  # back to what the scene holds

    def _edit_scene(self, scene: Scene, source_row: int | None = None) -> None:
        try:
            self._commit(self.scenes.updating(self.shown_scene.name, scene), source_row)
        except SceneError as exc:
            self._refused(exc)

    def _scene_clicked(self, item: QListWidgetItem) -> None:
        name = item.data(Qt.ItemDataRole.UserRole)
        if name != self.scenes.active:
            self.chosen.emit(name)

    def _scene_renamed(self, item: QListWidgetItem) -> None:
        if self._rendering:
            return
        old, new = item.data(Qt.ItemDataRole.UserRole), item.text().strip()
        if new == old:
            return
        # Called from inside the item editor's commit: the list is rebuilt once that is over
        # (clearing it here would delete the item being committed and leave the view editing).
        try:
            scenes = self.scenes.renaming(old, new)
        except SceneError as exc:
            self.problem.setText(str(exc))
            QTimer.singleShot(0, self._render)  # the old name back in the list
            return
        self.problem.setText("")
        self.scenes = scenes
        self._rendering = True
        try:
            item.setData(Qt.ItemDataRole.UserRole, scenes.scene(new).name)
        finally:
            self._rendering = False
        QTimer.singleShot(0, self._render)
        self.edited.emit(scenes)

    def _rename_clicked(self) -> None:
        item = self.scene_list.currentItem()
        if item is not None:
            self.scene_list.editItem(item)

    def _add_scene(self) -> None:
        scene = Scene(self.scenes.unused_name(), (SceneSource("video"), SceneSource("alerts")))
        try:
            self._commit(self.scenes.adding(scene))
        except SceneError as exc:
            self.problem.setText(str(exc))

    def _remove_scene(self) -> None:
        item = self.scene_list.currentItem()
        if item is None:
            return
        try:
            scenes = self.scenes.removing(item.data(Qt.ItemDataRole.UserRole))
        except SceneError as exc:
            self.problem.setText(str(exc))
            return
        self._commit(scenes)

    def _transition_changed(self) -> None:
        if self._rendering:
            return
        how = self.transition.currentData()
        if how != self.scenes.transition:
            self._commit(replace(self.scenes, transition=how))

    def add_source_of(self, kind: str, target: str = "") -> None:
        """A new source on top of the scene's stack (an image or a video file: chosen first)."""
        if kind in FILE_KINDS and not target:
            dialog = QFileDialog(self.sources_pane, f"Choose the {SOURCE_KINDS[kind].lower()}")
            dialog.setNameFilter(FILE_KINDS[kind])
            dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
            dialog.fileSelected.connect(lambda path: self.add_source_of(kind, path))
            show(dialog)
            return
        rect, text, colour = STARTING.get(kind, (FULL, "", "#ffffff"))
        try:
            source = SceneSource(kind, target=target or text, colour=colour, rect=rect)
            self._edit_scene(self.shown_scene.with_source(source), source_row=0)
        except SceneError as exc:
            self.problem.setText(str(exc))

    def _remove_source(self) -> None:
        index = self._selected_index()
        if index is not None:
            self._edit_scene(self.shown_scene.without_source(index))

    def _move_source(self, step: int) -> None:
        index = self._selected_index()
        if index is None:
            return
        moved = self.shown_scene.moving(index, step)
        count = len(moved.sources)
        to = min(max(index + step, 0), count - 1)
        self._edit_scene(moved, source_row=count - 1 - to)

    def selected_source(self) -> SceneSource | None:
        index = self._selected_index()
        return None if index is None else self.shown_scene.sources[index]

    def place_selected(self, x: float, y: float, final: bool) -> None:
        """Move the selected source's box to (x, y) (fractions of the frame); `final`: dropped
        there (saved), else still moving (shown, not saved)."""
        index = self._selected_index()
        if index is None:
            return
        old = self.shown_scene.sources[index]
        rect = old.rect
        x = min(max(x, -rect.w + 0.01, -1.0), 1.0)  # some of it stays on the frame
        y = min(max(y, -rect.h + 0.01, -1.0), 1.0)
        moved = replace(old, rect=Rect(round(x, 3), round(y, 3), rect.w, rect.h))
        scene = self.shown_scene
        scenes = self.scenes.updating(scene.name, scene.replacing(index, moved))
        if final:
            self._commit(scenes)
        else:
            self.scenes = scenes
            self._show_source()
            self.moving.emit(scenes)

    def _apply_source(self) -> None:
        if self._rendering:
            return
        index = self._selected_index()
        if index is None:
            return
        old = self.shown_scene.sources[index]
        values: dict[str, Any] = {
            "target": self.target.text() if old.kind in TARGET_HINTS else old.target,
            "colour": self.colour.text().strip() or old.colour,
            "opacity": self.opacity.value() / 100,
            "visible": self.visible.isChecked(),
        }
        try:
            values["rect"] = Rect(*(spin.value() / 100 for spin in self.box))
            values["crop"] = Crop(*(spin.value() / 100 for spin in self.crop))
            source = replace(old, **values)
        except SceneError as exc:
            self._refused(exc)
            return
        if source != old:
            self._edit_scene(self.shown_scene.replacing(index, source))


class PreviewDragger(QObject):
    """Drag the selected source on the preview: press inside its box, move, release."""

    def __init__(self, preview: QLabel, section: ScenesSection) -> None:
        super().__init__(preview)
        self.preview, self.section = preview, section
        self._grab: tuple[float, float] | None = None  # where in the box it was taken
        preview.installEventFilter(self)

    def _fraction(self, point: QPointF) -> tuple[float, float] | None:
        """A point on the label as fractions of the picture it shows (scaled, centred)."""
        pixmap = self.preview.pixmap()
        if pixmap is None or pixmap.isNull():
            return None
        w, h = pixmap.width(), pixmap.height()
        left, top = (self.preview.width() - w) / 2, (self.preview.height() - h) / 2
        return (point.x() - left) / w, (point.y() - top) / h

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if watched is not self.preview or not isinstance(event, QMouseEvent):
            return False
        where = self._fraction(event.position())
        source = self.section.selected_source()
        if where is None or source is None:
            return False
        x, y = where
        if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            r = source.rect
            if r.x <= x <= r.x + r.w and r.y <= y <= r.y + r.h:
                self._grab = (x - r.x, y - r.y)
                return True
        elif kind in (QEvent.Type.MouseMove, QEvent.Type.MouseButtonRelease) and self._grab:
            dx, dy = self._grab
            final = kind == QEvent.Type.MouseButtonRelease
            if final:
                self._grab = None
            self.section.place_selected(x - dx, y - dy, final)
            return True
        return False
