"""The Chat dock: the show's chat as plain text, a line to write in, and for the artist Delete /
Time out / Ban on a message's menu and a slow-mode control.

It renders a `studio.social.chat_room.ChatRoom` and calls its coroutines on the qasync loop.
Chat text comes from strangers: it only ever goes into QListWidgetItem text and plain-text
labels, never into anything that would interpret markup.
"""

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.social.chat_room import (
    MAX_TEXT,
    SLOW_MODE_CHOICES,
    TIMEOUT_S,
    ChatMessage,
    ChatRoom,
    ChatRoomError,
    sender_label,
    short_address,
)
from widgets.bridge import SignalBridge

Runner = Callable[[Coroutine[Any, Any, Any]], Any]

MESSAGE_ID = Qt.ItemDataRole.UserRole
SENDER = Qt.ItemDataRole.UserRole + 1


def plain_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    return label


class ChatDock(QWidget):
    def __init__(
        self, room: ChatRoom, parent: QWidget | None = None, runner: Runner | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("chatDock")
        self.room = room
        self._run: Runner = runner or asyncio.ensure_future
        self.state_label = plain_label()
        self.state_label.setObjectName("chatState")
        self.messages = QListWidget()
        self.messages.setObjectName("chatMessages")
        self.messages.setWordWrap(True)
        self.messages.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.messages.customContextMenuRequested.connect(self._show_menu)
        self.input = QLineEdit()
        self.input.setPlaceholderText("Say something to your fans")
        self.input.setMaxLength(MAX_TEXT)
        self.input.returnPressed.connect(self.send)
        self.send_button = QPushButton("Send")
        self.send_button.clicked.connect(self.send)
        self.notice_label = plain_label()
        self.notice_label.setObjectName("chatNotice")
        self.slow_mode = QComboBox()
        self.slow_mode.setObjectName("chatSlowMode")
        self.slow_mode.setToolTip("Slow mode: how often each fan may write")
        for seconds in SLOW_MODE_CHOICES:
            self.slow_mode.addItem(
                f"Slow mode: one message every {seconds} s" if seconds else "Slow mode off",
                seconds,
            )
        self.slow_mode.activated.connect(self._slow_mode_chosen)

        row = QHBoxLayout()
        row.addWidget(self.input, 1)
        row.addWidget(self.send_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.state_label)
        layout.addWidget(self.slow_mode)
        layout.addWidget(self.messages, 1)
        layout.addLayout(row)
        layout.addWidget(self.notice_label)

        self._bridges = [
            SignalBridge(room.changed, self),
            SignalBridge(room.message_added, self),
            SignalBridge(room.message_deleted, self),
            SignalBridge(room.notice, self),
        ]
        self._bridges[0].fired.connect(lambda _room: self._render_state())
        self._bridges[1].fired.connect(self._add)
        self._bridges[2].fired.connect(self._remove)
        self._bridges[3].fired.connect(self.notice_label.setText)
        for message in room.messages.values():
            self._add(message)
        self._render_state()

    # -- rendering -------------------------------------------------------------------------

    def _render_state(self) -> None:
        room = self.room
        self.state_label.setText(room.status_text)
        writable = room.state in ("connecting", "open")
        self.input.setEnabled(writable)
        self.send_button.setEnabled(writable)
        self.slow_mode.setEnabled(room.state == "open" and room.is_artist)
        index = self.slow_mode.findData(room.slow_mode_s)
        if index < 0:  # a value set elsewhere (a moderator, the API): show it as it is
            self.slow_mode.addItem(f"Slow mode: one message every {room.slow_mode_s} s")
            self.slow_mode.setItemData(self.slow_mode.count() - 1, room.slow_mode_s)
            index = self.slow_mode.count() - 1
        self.slow_mode.setCurrentIndex(index)
        if room.state == "connecting" and not room.messages:
            self.messages.clear()  # a new show: the previous one's chat goes
            self.notice_label.clear()

    def _add(self, message: ChatMessage) -> None:
        you = " (you)" if message.sender == self.room.client.address else ""
        item = QListWidgetItem(f"{sender_label(message)}{you}: {message.text}")
        item.setData(MESSAGE_ID, message.id)
        item.setData(SENDER, message.sender)
        item.setToolTip(message.sender)  # tooltips are rich-text capable: the address is safe
        self.messages.addItem(item)
        self.messages.scrollToBottom()

    def _remove(self, message_id: int) -> None:
        for row in range(self.messages.count()):
            if self.messages.item(row).data(MESSAGE_ID) == message_id:
                self.messages.takeItem(row)
                return

    def texts(self) -> list[str]:
        return [self.messages.item(row).text() for row in range(self.messages.count())]

    # -- actions ---------------------------------------------------------------------------

    def send(self) -> None:
        text = self.input.text()
        if not text.strip():
            return

        async def run() -> None:
            if await self._attempt(self.room.send(text)):
                self.input.clear()

        self._run(run())

    def menu_for(self, item: QListWidgetItem) -> QMenu:
        """Delete / Time out / Ban for the artist; disabled (with the reason) for anyone else."""
        menu = QMenu(self)
        message_id = int(item.data(MESSAGE_ID))
        sender = str(item.data(SENDER))
        own_room = self.room.is_artist
        someone_else = own_room and sender != self.room.client.address
        who = short_address(sender)
        delete = menu.addAction("Delete message")
        delete.setEnabled(own_room)
        delete.triggered.connect(lambda: self._run(self._attempt(self.room.delete(message_id))))
        time_out = menu.addAction(f"Time out {who} for {TIMEOUT_S // 60} minutes")
        time_out.setEnabled(someone_else)
        time_out.triggered.connect(lambda: self._run(self._attempt(self.room.time_out(sender))))
        muted = sender in self.room.muted
        ban = menu.addAction(f"{'Unban' if muted else 'Ban'} {who}")
        ban.setEnabled(someone_else)
        ban.triggered.connect(
            lambda: self._run(self._attempt(self.room.mute(sender, muted=not muted)))
        )
        if not own_room:
            menu.setToolTip("Only the show's artist can moderate this chat.")
        return menu

    def _slow_mode_chosen(self, index: int) -> None:
        seconds = int(self.slow_mode.itemData(index))

        async def run() -> None:
            if not await self._attempt(self.room.set_slow_mode(seconds)):
                self._render_state()  # back to the value in force

        self._run(run())

    def _show_menu(self, position: QPoint) -> None:
        item = self.messages.itemAt(position)
        if item is not None:
            self.menu_for(item).exec(self.messages.viewport().mapToGlobal(position))

    async def _attempt(self, action: Coroutine[Any, Any, Any]) -> bool:
        try:
            await action
        except ChatRoomError as exc:
            self.notice_label.setText(str(exc))
            return False
        self.notice_label.clear()
        return True

    def closeEvent(self, event: Any) -> None:
        for bridge in self._bridges:
            bridge.close()
        super().closeEvent(event)
