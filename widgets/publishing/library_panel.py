"""The Library tab: drop zone, the publish queue with progress, the published tracks.

It renders `PublishService` state and calls its methods; every update arrives through the
queue's signals (bridged onto the GUI thread). No I/O happens here.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDropEvent,
    QGuiApplication,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from media.probe import ACCEPTED_EXTENSIONS, ACCEPTED_LIST
from studio.publishing.publisher import WAITING_NO_WALLET
from studio.publishing.service import PublishService
from studio.publishing.track_player import TrackPlayer
from studio.publishing.upload_queue import QueuedTrack, Refused, State
from studio.signals import Signal as StudioSignal
from widgets.bridge import SignalBridge

STATE_LABELS = {
    State.QUEUED: "Queued",
    State.ANALYSING: "Analysing",
    State.UPLOADING: "Uploading",
    State.PINNED: "Pinned",
    State.REGISTERING: "Registering",
    State.WAITING: "Waiting",
    State.LISTED: "Listed",
    State.FAILED: "Failed",
    State.PREVIOUS_CHAIN: "On a previous local chain",
}
STOPPED = (State.FAILED, State.WAITING, State.PREVIOUS_CHAIN)
NO_TRACK_SELECTED = "Select a track in the list first."
NO_PUBLISHED_SELECTED = "Select one of your published tracks first."
RETRY_WHY = "Only a failed or waiting track, or one on a previous chain, can be tried again."
REMOVE_WHY = "This track is being registered on chain; wait for it to finish."
UNLOCK_WHY = (
    "Your tracks are on IPFS and wait for your wallet: unlock it to register them on chain."
)
EDIT_FIELDS = (
    ("title", "Title"),
    ("artist", "Artist"),
    ("album", "Album"),
    ("genre", "Genre"),
    ("isrc", "ISRC"),
    ("release_date", "Release date"),
)


class DropZone(QFrame):
    """Accepts files and folders dropped on it, or chosen with the file picker."""

    dropped = Signal(list)  # list[Path]

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dropZone")
        self.setAcceptDrops(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumHeight(110)
        label = QLabel(f"Drop tracks or folders here\n{ACCEPTED_LIST}")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.choose_files = QPushButton("Choose files…")
        self.choose_folder = QPushButton("Choose a folder…")
        self.choose_files.clicked.connect(self._pick_files)
        self.choose_folder.clicked.connect(self._pick_folder)
        buttons = QHBoxLayout()
        buttons.addStretch()
        buttons.addWidget(self.choose_files)
        buttons.addWidget(self.choose_folder)
        buttons.addStretch()
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addLayout(buttons)

    def _set_dragging(self, dragging: bool) -> None:
        """The stylesheet's `QFrame#dropZone[dragging="true"]` lights the zone up."""
        self.setProperty("dragging", dragging)
        self.style().unpolish(self)
        self.style().polish(self)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
            self._set_dragging(True)

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._set_dragging(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self._set_dragging(False)
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.dropped.emit(paths)

    def _pick_files(self) -> None:
        patterns = " ".join(f"*{ext}" for ext in sorted(ACCEPTED_EXTENSIONS))
        files, _ = QFileDialog.getOpenFileNames(
            self, "Choose tracks", "", f"Audio ({patterns});;All files (*)"
        )
        if files:
            self.dropped.emit([Path(f) for f in files])

    def _pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder of tracks")
        if folder:
            self.dropped.emit([Path(folder)])


class LibraryPanel(QWidget):
    def __init__(self, service: PublishService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        # the player reports from its own thread: a bridge hops onto the GUI thread
        self._player_signal = StudioSignal()
        self.player = TrackPlayer(on_state=self._player_state_from_thread)
        self._items: dict[int, QTreeWidgetItem] = {}
        self._bars: dict[int, QProgressBar] = {}

        self.drop_zone = DropZone()
        self.drop_zone.dropped.connect(self.add_paths)
        self.refusals = QLabel()
        self.refusals.setObjectName("refusals")
        self.refusals.setWordWrap(True)
        self.refusals.hide()
        self.overall = QProgressBar()
        self.overall.setRange(0, 1000)
        self.overall.setFormat("No tracks yet")

        self.queue_view = QTreeWidget()
        self.queue_view.setHeaderLabels(["Track", "Status", "Progress", "CID"])
        self.queue_view.setRootIsDecorated(False)
        self.queue_view.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.queue_view.currentItemChanged.connect(self._selection_changed)
        self.retry_button = QPushButton("Retry")
        self.remove_button = QPushButton("Remove")
        self.retry_button.clicked.connect(self._retry_selected)
        self.remove_button.clicked.connect(self._remove_selected)
        # Shown while tracks wait for the wallet; the window connects it to its unlock dialog.
        self.on_unlock: Callable[[], object] | None = None
        self.unlock_button = QPushButton("Unlock wallet to register…")
        self.unlock_button.setToolTip(UNLOCK_WHY)
        self.unlock_button.clicked.connect(self._unlock)
        self.unlock_button.hide()

        self.editor = QGroupBox("Details of the selected track")
        form = QFormLayout(self.editor)
        self.fields: dict[str, QLineEdit] = {}
        for key, label in EDIT_FIELDS:
            self.fields[key] = QLineEdit()
            form.addRow(label, self.fields[key])
        self.artwork_button = QPushButton("Artwork from file…")
        self.artwork_button.clicked.connect(self._choose_artwork)
        self.save_button = QPushButton("Save details")
        self.save_button.clicked.connect(self._save_details)
        self.editor_message = QLabel()
        self.editor_message.setWordWrap(True)
        form.addRow(self.artwork_button, self.save_button)
        form.addRow(self.editor_message)
        self.editor.setEnabled(False)

        self.library_view = QTreeWidget()
        self.library_view.setHeaderLabels(["Published track", "CID"])
        self.library_view.setRootIsDecorated(False)
        self.library_view.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.library_view.currentItemChanged.connect(lambda *_: self._render_library_buttons())
        self.play_button = QPushButton("Play")
        self.copy_button = QPushButton("Copy CID")
        self.open_button = QPushButton("Open in gateway")
        self.play_button.clicked.connect(self._toggle_play)
        self.copy_button.clicked.connect(self._copy_cid)
        self.open_button.clicked.connect(self._open_gateway)
        self.player_status = QLabel()
        # Mint as NFT: the window sets the action (widgets.market.mint_action.MintAction)
        self.mint_action: Any = None
        self.mint_button = QPushButton("Mint as NFT…")
        self.mint_button.setObjectName("mint_nft")
        self.mint_button.clicked.connect(self._mint_selected)
        self.mint_button.hide()
        self.market_status = QLabel()
        self.market_status.setObjectName("market_status")
        self.market_status.setWordWrap(True)

        queue_buttons = QHBoxLayout()
        queue_buttons.addWidget(self.retry_button)
        queue_buttons.addWidget(self.remove_button)
        queue_buttons.addStretch()
        queue_buttons.addWidget(self.unlock_button)
        queue_box = QGroupBox("Publishing")
        queue_layout = QVBoxLayout(queue_box)
        queue_layout.addWidget(self.overall)
        queue_layout.addWidget(self.queue_view)
        queue_layout.addLayout(queue_buttons)
        # the details scroll (up and down only) rather than make the window taller than a
        # laptop's screen (with the Scenes and Sources docks under the pages)
        details = QScrollArea()
        details.setWidget(self.editor)
        details.setWidgetResizable(True)
        details.setFrameShape(QFrame.Shape.NoFrame)
        details.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        details.setMinimumWidth(
            self.editor.minimumSizeHint().width() + details.verticalScrollBar().sizeHint().width()
        )
        queue_layout.addWidget(details)

        library_buttons = QHBoxLayout()
        for button in (self.play_button, self.copy_button, self.open_button):
            library_buttons.addWidget(button)
        library_buttons.addStretch()
        library_buttons.addWidget(self.mint_button)
        library_box = QGroupBox("Your published tracks")
        library_layout = QVBoxLayout(library_box)
        library_layout.addWidget(self.library_view)
        library_layout.addLayout(library_buttons)
        library_layout.addWidget(self.player_status)
        library_layout.addWidget(self.market_status)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(queue_box)
        splitter.addWidget(library_box)
        layout = QVBoxLayout(self)
        layout.addWidget(self.drop_zone)
        layout.addWidget(self.refusals)
        layout.addWidget(splitter, 1)

        self._bridges = [
            SignalBridge(service.changed, self),
            SignalBridge(service.removed, self),
            SignalBridge(service.refused, self),
            SignalBridge(self._player_signal, self),
        ]
        self._bridges[0].fired.connect(self.show_track)
        self._bridges[1].fired.connect(self._forget)
        self._bridges[2].fired.connect(self.show_refused)
        self._bridges[3].fired.connect(self._show_player_state)
        for track in service.tracks():
            self.show_track(track)
        self._render_overall()
        self._render_queue_buttons(None)
        self._render_library_buttons()

    def _player_state_from_thread(self, state: str, detail: str) -> None:
        self._player_signal.emit((state, detail))

    # --- rendering -----------------------------------------------------------------------

    def add_paths(self, paths: list[Path]) -> None:
        self.refusals.hide()
        self.service.add(paths)

    def show_refused(self, refused: list[Refused]) -> None:
        lines = [item.reason for item in refused[:8]]
        if len(refused) > 8:
            lines.append(f"…and {len(refused) - 8} more files that are not audio.")
        self.refusals.setText("Not added:\n" + "\n".join(lines))
        self.refusals.show()

    def show_track(self, track: QueuedTrack) -> None:
        item = self._items.get(track.id)
        if item is None:
            item = QTreeWidgetItem(self.queue_view)
            item.setData(0, Qt.ItemDataRole.UserRole, track.id)
            self._items[track.id] = item
        item.setText(0, track.title)
        item.setToolTip(0, str(track.path))
        status = STATE_LABELS[track.state]
        item.setText(1, status)
        item.setToolTip(1, track.detail or status)
        item.setText(3, track.cid or "")
        # A stopped row says why in words (elided to the column, whole in the tooltip): a
        # sentence drawn inside a progress bar spilled over the rows below it. Its bar is
        # taken out, not hidden: the view shows its item widgets again at each layout.
        stopped = track.state in STOPPED
        bar = self._bars.get(track.id)
        if stopped and bar is not None:
            self.queue_view.removeItemWidget(item, 2)
            del self._bars[track.id]
        elif not stopped:
            if bar is None:
                bar = self._bars[track.id] = QProgressBar()
                bar.setRange(0, 1000)
                bar.setTextVisible(True)
                self.queue_view.setItemWidget(item, 2, bar)
            bar.setValue(int(track.progress * 1000))
        # the row already names the file: the column starts with what happened to it
        reason = track.detail.removeprefix(f"{track.path.name}: ")
        item.setText(2, reason if stopped else "")
        item.setToolTip(2, track.detail if stopped else "")
        self._render_overall()
        self._refresh_library()
        self._render_unlock()
        if self.queue_view.currentItem() is item:
            self._selection_changed(item, None)

    def _render_overall(self) -> None:
        """The bar counts failed tracks apart: "All tracks: 100%" must not hide two failures."""
        tracks = self.service.tracks()
        failed = [t for t in tracks if t.state is State.FAILED]
        previous = [t for t in tracks if t.state is State.PREVIOUS_CHAIN]
        stopped = failed + previous
        said = " · ".join(
            [f"{len(failed)} failed"] * bool(failed)
            + [f"{len(previous)} on a previous chain"] * bool(previous)
        )
        self.overall.setValue(0 if stopped and len(stopped) == len(tracks) else
                              int(self.service.overall_progress() * 1000))  # fmt: skip
        if not stopped:
            self.overall.setFormat("All tracks: %p%" if tracks else "No tracks yet")
        elif len(stopped) == len(tracks):
            self.overall.setFormat(said)
        else:
            self.overall.setFormat(f"Other tracks: %p% · {said}")
        self.overall.setToolTip("\n".join(f"{t.title}: {t.detail}" for t in stopped))

    def _forget(self, track_id: int) -> None:
        item = self._items.pop(track_id, None)
        self._bars.pop(track_id, None)
        if item is not None:
            self.queue_view.takeTopLevelItem(self.queue_view.indexOfTopLevelItem(item))
        self._render_overall()
        self._refresh_library()
        self._render_unlock()
        if self.queue_view.currentItem() is None:
            self._selection_changed(None, None)

    def set_unlock_action(self, unlock: Callable[[], object] | None) -> None:
        """What "Unlock wallet to register…" opens (None: there is no wallet to unlock)."""
        self.on_unlock = unlock
        self._render_unlock()

    def _render_unlock(self) -> None:
        waiting = any(
            t.state is State.WAITING and t.detail == WAITING_NO_WALLET
            for t in self.service.tracks()
        )
        self.unlock_button.setVisible(waiting and self.on_unlock is not None)

    def _unlock(self) -> None:
        if self.on_unlock is not None:
            self.on_unlock()

    def _render_queue_buttons(self, track: QueuedTrack | None) -> None:
        """Retry and Remove do something only for a selected track in some states."""
        can_retry = track is not None and track.state in STOPPED
        can_remove = track is not None and track.state is not State.REGISTERING
        again = track is not None and track.state is State.PREVIOUS_CHAIN
        self.retry_button.setText("Register again" if again else "Retry")
        self.retry_button.setEnabled(can_retry)
        self.retry_button.setToolTip(
            "Register this track on the current chain." if again
            else "Try this track again." if can_retry
            else NO_TRACK_SELECTED if track is None
            else RETRY_WHY
        )  # fmt: skip
        self.remove_button.setEnabled(can_remove)
        self.remove_button.setToolTip(
            "Take this track off the list (the file stays where it is)." if can_remove
            else NO_TRACK_SELECTED if track is None else REMOVE_WHY
        )  # fmt: skip

    def set_mint_action(self, action: Any) -> None:
        """Mint as NFT (a MintAction: callable with the track, `blocked_reason()`,
        `state_changed`); None hides the button (no chain in this profile)."""
        self.mint_action = action
        if action is not None:
            action.state_changed = self._render_library_buttons
        self.mint_button.setVisible(action is not None)
        self._render_library_buttons()

    def show_market_status(self, text: str) -> None:
        self.market_status.setText(text)

    def _mint_selected(self) -> None:
        cid = self._selected_library_cid()
        track = next((t for t in self.service.published() if t.cid == cid), None)
        if track is not None and self.mint_action is not None:
            self.mint_action(track)

    def _render_library_buttons(self) -> None:
        selected = self._selected_library_cid() is not None
        if self.mint_action is not None:
            blocked = self.mint_action.blocked_reason()
            self.mint_button.setEnabled(selected and blocked is None)
            self.mint_button.setToolTip(
                NO_PUBLISHED_SELECTED if not selected else blocked
                or "Mint editions of this track as NFTs and put them on sale."
            )  # fmt: skip
        for button, does in (
            (self.copy_button, "Copy the track's CID to the clipboard."),
            (self.open_button, "Open the track in the IPFS gateway."),
        ):
            button.setEnabled(selected)
            button.setToolTip(does if selected else NO_PUBLISHED_SELECTED)
        playing = self.player.playing
        self.play_button.setEnabled(selected or playing)
        self.play_button.setToolTip(
            "Stop playing." if playing else "Listen to the selected track." if selected
            else NO_PUBLISHED_SELECTED
        )  # fmt: skip

    def _refresh_library(self) -> None:
        published = self.service.published()
        current = self._selected_library_cid()
        self.library_view.clear()
        seen: set[str] = set()
        for track in published:
            if not track.cid or track.cid in seen:
                continue
            seen.add(track.cid)
            item = QTreeWidgetItem(self.library_view, [track.title, track.cid])
            item.setData(0, Qt.ItemDataRole.UserRole, track.cid)
            item.setToolTip(0, str(track.path))
            if track.cid == current:
                self.library_view.setCurrentItem(item)
        self._render_library_buttons()

    # --- queue actions -------------------------------------------------------------------

    def _selected_track_id(self) -> int | None:
        item = self.queue_view.currentItem()
        return None if item is None else int(item.data(0, Qt.ItemDataRole.UserRole))

    def _retry_selected(self) -> None:
        track_id = self._selected_track_id()
        if track_id is not None:
            self.service.retry(track_id)

    def _remove_selected(self) -> None:
        track_id = self._selected_track_id()
        if track_id is None:
            return
        try:
            self.service.remove(track_id)
        except ValueError as exc:
            self.editor_message.setText(str(exc))

    def _selection_changed(self, current: QTreeWidgetItem | None, _previous: object) -> None:
        track_id = None if current is None else int(current.data(0, Qt.ItemDataRole.UserRole))
        if track_id is None:
            self.editor.setEnabled(False)
            self._render_queue_buttons(None)
            return
        track = self.service.queue.get(track_id)
        editable = track.state not in (State.REGISTERING, State.LISTED)
        self.editor.setEnabled(editable)
        self._render_queue_buttons(track)
        metadata = track.metadata
        for key, edit in self.fields.items():
            if not edit.hasFocus():
                edit.setText(metadata.get(key, ""))
        self.editor_message.setText(track.detail)

    def _save_details(self) -> None:
        track_id = self._selected_track_id()
        if track_id is None:
            return
        values = {key: edit.text() for key, edit in self.fields.items()}
        try:
            self.service.edit(track_id, **values)
        except ValueError as exc:
            self.editor_message.setText(str(exc))

    def _choose_artwork(self) -> None:
        track_id = self._selected_track_id()
        if track_id is None:
            return
        path, _ = QFileDialog.getOpenFileName(
            self, "Artwork", "", "Images (*.png *.jpg *.jpeg *.webp)"
        )
        if path:
            self.service.edit(track_id, artwork_path=path)

    # --- library actions -----------------------------------------------------------------

    def _selected_library_cid(self) -> str | None:
        item = self.library_view.currentItem()
        return None if item is None else str(item.data(0, Qt.ItemDataRole.UserRole))

    def _copy_cid(self) -> None:
        cid = self._selected_library_cid()
        if cid:
            QGuiApplication.clipboard().setText(cid)
            self.player_status.setText(f"Copied {cid}")

    def _open_gateway(self) -> None:
        cid = self._selected_library_cid()
        if cid:
            QDesktopServices.openUrl(QUrl(self.service.gateway_link(cid)))

    def _toggle_play(self) -> None:
        if self.player.playing:
            self.player.stop()
            self.play_button.setText("Play")
            self._render_library_buttons()
            return
        cid = self._selected_library_cid()
        if not cid:
            return
        local = next(
            (t for t in self.service.published() if t.cid == cid and t.path.exists()), None
        )
        self.player.play(str(local.path) if local else self.service.gateway_link(cid))
        self.play_button.setText("Stop")
        self._render_library_buttons()

    def _show_player_state(self, value: tuple[str, str]) -> None:
        state, detail = value
        if state != "playing":
            self.play_button.setText("Play")
        self._render_library_buttons()
        self.player_status.setText(detail if state == "error" else state.capitalize())

    def closeEvent(self, event: QCloseEvent) -> None:
        self.player.stop()
        for bridge in self._bridges:
            bridge.close()
        super().closeEvent(event)
