"""The Review page: held tracks, oldest first, each listed or kept off with a reason.

Shown to a backend's reviewers only (studio.review.review_queue). Listing asks for a yes;
rejecting asks for the reason the artist will read, and refuses an empty one. Decisions and
failures are said in the status line: never a box per failure.
"""

import asyncio
from datetime import UTC

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from backend.wire import Track
from studio.review.review_queue import ReviewError, ReviewQueue
from widgets.bridge import SignalBridge
from widgets.buttons import enable, start_once
from widgets.dialogs import ask, confirm

REFRESH_MS = 60_000  # new held tracks arrive as other artists upload
COLUMNS = ("Title", "Artist", "Uploaded (UTC)", "Why it is held")
MAX_REASON = 300  # the backend's limit (backend.wire.ReviewIn)


def reason_dialog(parent: QWidget | None, track: Track) -> QInputDialog:
    """Asks why `track` is kept off; OK stays off while the reason is empty."""
    dialog = QInputDialog(parent)
    dialog.setObjectName("reject_reason_dialog")
    dialog.setWindowTitle("Reject a held track")
    dialog.setLabelText(
        f"Why is “{track.title}” by {track.artist_name} kept off?\nIts artist is shown this reason."
    )
    dialog.setInputMode(QInputDialog.InputMode.TextInput)
    dialog.setOkButtonText("Reject")
    edit = dialog.findChild(QLineEdit)
    if edit is not None:
        edit.setMaxLength(MAX_REASON)
        edit.setPlaceholderText("e.g. the same master as Nova's Moonrise")

    def reason_given(text: str) -> None:
        box = dialog.findChild(QDialogButtonBox)
        if box is not None:
            box.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(text.strip()))

    dialog.textValueChanged.connect(reason_given)
    QTimer.singleShot(0, lambda: reason_given(dialog.textValue()))  # once its buttons exist
    return dialog


class ReviewPanel(QWidget):
    def __init__(self, queue: ReviewQueue, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("review_panel")
        self.queue = queue
        self.loading: asyncio.Future[None] | None = None
        self.deciding: asyncio.Future[None] | None = None
        self._setup_ui()
        self._bridge = SignalBridge(queue.changed, self)
        self._bridge.fired.connect(self._show_tracks)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._refresh_if_shown)
        self._timer.start()
        self._show_tracks(queue.tracks)

    def _setup_ui(self) -> None:
        intro = QLabel(
            "These tracks match another artist's recording, so fans do not see them until a "
            "reviewer decides. List one that is the artist's own (a licensed cover, a new "
            "master); reject one that is not, saying why: its artist is told either way."
        )
        intro.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("held_tracks")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self.update_actions)
        self.list_button = QPushButton("List it")
        self.list_button.setObjectName("review_list")
        self.list_button.clicked.connect(lambda: self._decide("list"))
        self.reject_button = QPushButton("Reject…")
        self.reject_button.setObjectName("review_reject")
        self.reject_button.clicked.connect(lambda: self._decide("reject"))
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setObjectName("review_refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.status = QLabel("")
        self.status.setObjectName("review_status")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        buttons = QHBoxLayout()
        buttons.addWidget(self.list_button)
        buttons.addWidget(self.reject_button)
        buttons.addStretch(1)
        buttons.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)

    # -- showing ------------------------------------------------------------------------------

    def _show_tracks(self, tracks: list[Track]) -> None:
        chosen = self.selected()
        self.table.setRowCount(len(tracks))
        for row, track in enumerate(tracks):
            uploaded = track.created_at
            if uploaded.tzinfo is not None:
                uploaded = uploaded.astimezone(UTC)
            cells = (
                track.title,
                f"{track.artist_name} ({track.artist_address[:6]}…{track.artist_address[-4:]})",
                uploaded.strftime("%Y-%m-%d %H:%M"),
                track.held_reason or "",
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, track.id)
                item.setToolTip(text)
                self.table.setItem(row, column, item)
            if chosen is not None and track.id == chosen.id:
                self.table.selectRow(row)
        if not tracks and not self.status.text():
            self.status.setText("No track is waiting for a decision.")
        self.update_actions()

    def selected(self) -> Track | None:
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        if len(rows) != 1:
            return None
        item = self.table.item(rows.pop(), 0)
        track_id = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return next((t for t in self.queue.tracks if t.id == track_id), None)

    def select_track(self, track_id: int) -> None:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == track_id:
                self.table.selectRow(row)
                return

    def update_actions(self) -> None:
        busy = self.deciding is not None and not self.deciding.done()
        chosen = self.selected()
        why = "A decision is on its way." if busy else "Choose a held track first."
        enable(
            self.list_button,
            chosen is not None and not busy,
            "Show this track to fans; its artist is told.",
            why,
        )
        enable(
            self.reject_button,
            chosen is not None and not busy,
            "Keep this track off, saying why; its artist is shown the reason.",
            why,
        )
        loading = self.loading is not None and not self.loading.done()
        enable(self.refresh_button, not loading, "Read the held tracks again.", "Reading…")

    # -- loading and deciding -----------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()

    def _refresh_if_shown(self) -> None:
        if self.isVisible():
            self.refresh()

    def refresh(self) -> None:
        self.loading = start_once(self.loading, self._load, self.update_actions)

    async def _load(self) -> None:
        try:
            tracks = await self.queue.refresh()
        except ReviewError as exc:
            self.status.setText(str(exc))
            return
        if self.queue.allowed is False:
            self.status.setText("This backend no longer names you as a reviewer.")
        elif not tracks:
            self.status.setText("No track is waiting for a decision.")
        else:
            more = " (the oldest shown; more are waiting)" if self.queue.more else ""
            waiting = "1 track is" if len(tracks) == 1 else f"{len(tracks)} tracks are"
            self.status.setText(f"{waiting} waiting for a decision{more}.")

    def _decide(self, decision: str) -> None:
        track = self.selected()
        if track is not None:
            self.deciding = start_once(
                self.deciding, lambda: self._ask_and_decide(track, decision), self.update_actions
            )

    async def _ask_and_decide(self, track: Track, decision: str) -> None:
        note = ""
        if decision == "list":
            question = (
                f"List “{track.title}” by {track.artist_name}? Fans will see it, and its "
                "artist is told it was listed on review."
            )
            if not await confirm(self, "List a held track", question):
                return
        else:
            dialog = reason_dialog(self, track)
            if not await ask(dialog):
                return
            note = dialog.textValue()
        try:
            await self.queue.decide(track, decision, note)
        except ReviewError as exc:
            self.status.setText(str(exc))
            return
        done = "Listed" if decision == "list" else "Rejected"
        self.status.setText(f"{done} “{track.title}” by {track.artist_name}; its artist is told.")


def page_title(waiting: int) -> str:
    """The Review tab's title: how many tracks wait."""
    return f"Review ({waiting})" if waiting else "Review"
