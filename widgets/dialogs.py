"""Dialogs opened from coroutines, one way: `open()` and a future, never a nested event loop.

A blocking `exec()` (or `QMessageBox.warning(...)`, `QFileDialog.getSaveFileName(...)`) inside
a coroutine runs a second Qt event loop inside the running task; qasync then starts other
tasks from it, asyncio refuses ("Cannot enter into task ... while another task ... is being
executed"), and those tasks (tip watcher, quit) are lost for good. So, from async code:

    accepted = await ask(dialog)                     # any QDialog; True when accepted
    show(dialog)                                     # from a plain slot: open, don't wait
    await inform(parent, "Saved", "The file is in …")
    await warn(parent, "Withdrawal failed", str(exc))
    if await confirm(parent, "Delete?", "The track leaves the library."): ...
    choice = await choose(parent, "Locked", "…", {Yes: "Unlock", No: "Go on without"})
    path = await save_path(parent, "Export tips", "~/tips.csv", "CSV files (*.csv)")
    path = await open_path(parent, "Keystore file", "", "Keystore (*.json *)")

and from a plain slot that must not wait: `message(parent, title, text)` (returns the box).
After an export's `save_path`, `write_export(parent, label, path, write, "tip")` writes and says
where it went in a `link_label()`, with a link that opens the folder.

The same message (title and text) is never open twice: a repeat waits on the box already
shown. `close_all()` answers every open dialog with "no" (quit must never wait on one).
"""

import asyncio
import html
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDialog, QFileDialog, QLabel, QMessageBox, QWidget

log = logging.getLogger(__name__)

Icon = QMessageBox.Icon
_open: set[QDialog] = set()  # kept alive while shown; close_all() answers them


def open_dialogs() -> list[QDialog]:
    """The dialogs this module has open now (what a quit closes, what a test looks at)."""
    return [d for d in _open if d.isVisible()]


def _track(dialog: QDialog) -> None:
    _open.add(dialog)
    dialog.finished.connect(lambda _result: _open.discard(dialog))


def show(dialog: QDialog) -> QDialog:
    """Open `dialog` window-modal without waiting (from a slot); quit closes it."""
    _track(dialog)
    dialog.open()
    return dialog


async def ask(dialog: QDialog) -> bool:
    """Show `dialog` (window-modal, non-blocking) and wait for its answer: True if accepted.

    A cancelled waiter closes the dialog; a dialog closed by `close_all()` answers False."""
    answered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def finished(result: int) -> None:
        if not answered.done():
            answered.set_result(result == QDialog.DialogCode.Accepted)

    dialog.finished.connect(finished)
    show(dialog)
    try:
        return await answered
    finally:
        if dialog.isVisible():
            dialog.reject()


def _same_message(title: str, text: str) -> QMessageBox | None:
    for dialog in open_dialogs():
        if (
            isinstance(dialog, QMessageBox)
            and dialog.windowTitle() == title
            and dialog.text() == text
        ):
            return dialog
    return None


def message(
    parent: QWidget | None,
    title: str,
    text: str,
    icon: QMessageBox.Icon = Icon.Warning,
    details: str = "",
    buttons: QMessageBox.StandardButton = QMessageBox.StandardButton.Ok,
) -> QMessageBox:
    """Show a message box without waiting for it; the same message already open is reused."""
    shown = _same_message(title, text)
    if shown is not None:
        return shown
    box = QMessageBox(icon, title, text, buttons, parent)
    box.setObjectName("messageBox")
    if details:
        box.setDetailedText(details)
    _track(box)
    box.finished.connect(box.deleteLater)
    box.open()
    log.info("message shown: %s", title, extra={"event": "message_shown", "title": title})
    return box


async def _answer(box: QMessageBox) -> QMessageBox.StandardButton | None:
    if not box.isVisible():
        return None
    answered: asyncio.Future[QMessageBox.StandardButton | None] = (
        asyncio.get_running_loop().create_future()
    )

    def finished(_result: int) -> None:
        if answered.done():
            return
        clicked = box.clickedButton()
        answered.set_result(box.standardButton(clicked) if clicked is not None else None)

    box.finished.connect(finished)
    return await answered


async def inform(parent: QWidget | None, title: str, text: str) -> None:
    await _answer(message(parent, title, text, Icon.Information))


async def warn(parent: QWidget | None, title: str, text: str, details: str = "") -> None:
    await _answer(message(parent, title, text, Icon.Warning, details))


async def confirm(parent: QWidget | None, title: str, text: str) -> bool:
    """Yes / No; closing the box (or a quit) is No."""
    buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
    box = message(parent, title, text, Icon.Question, buttons=buttons)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    return await _answer(box) == QMessageBox.StandardButton.Yes


async def choose(
    parent: QWidget | None,
    title: str,
    text: str,
    choices: dict[QMessageBox.StandardButton, str],
    default: QMessageBox.StandardButton | None = None,
) -> QMessageBox.StandardButton | None:
    """Several answers, each a standard button with the person's words on it (plus Cancel);
    the one clicked, or None when the box was closed or cancelled."""
    buttons = QMessageBox.StandardButton.Cancel
    for button in choices:
        buttons |= button
    box = message(parent, title, text, Icon.Question, buttons=buttons)
    for button, label in choices.items():
        box.button(button).setText(label)
    if default is not None:
        box.setDefaultButton(default)
    answer = await _answer(box)
    return None if answer in (None, QMessageBox.StandardButton.Cancel) else answer


async def _file(
    parent: QWidget | None, caption: str, path: str, filters: str, saving: bool
) -> Path | None:
    dialog = QFileDialog(parent, caption, path, filters)
    Mode = QFileDialog.AcceptMode
    dialog.setAcceptMode(Mode.AcceptSave if saving else Mode.AcceptOpen)
    Files = QFileDialog.FileMode
    dialog.setFileMode(Files.AnyFile if saving else Files.ExistingFile)
    if saving and path:
        dialog.selectFile(path)
    if not await ask(dialog):
        return None
    chosen = dialog.selectedFiles()
    return Path(chosen[0]) if chosen else None


async def save_path(
    parent: QWidget | None, caption: str, suggested: str = "", filters: str = ""
) -> Path | None:
    """The file the person chose to save to (overwriting asked about), or None."""
    return await _file(parent, caption, suggested, filters, saving=True)


async def open_path(
    parent: QWidget | None, caption: str, directory: str = "", filters: str = ""
) -> Path | None:
    """An existing file the person chose to open, or None."""
    return await _file(parent, caption, directory, filters, saving=False)


def link_label(name: str) -> QLabel:
    """A wrapping status line whose links open (a folder, a page) with the desktop's handler."""
    label = QLabel("")
    label.setObjectName(name)
    label.setWordWrap(True)
    label.linkActivated.connect(lambda url: QDesktopServices.openUrl(QUrl(url)))
    return label


def write_export(
    parent: QWidget, status: QLabel, path: Path, write: Callable[[Path], int], noun: str
) -> int:
    """`write(path)` (how many `noun`s it wrote); `status` says where they went, with a link
    that opens the folder. A file that cannot be written is said in a box; 0 then."""
    try:
        count = write(path)
    except OSError as exc:
        message(parent, "Export failed", f"Could not write {path}: {exc.strerror or exc}.")
        return 0
    folder = QUrl.fromLocalFile(str(path.parent)).toString()
    status.setText(
        f"{count} {noun}{'s' if count != 1 else ''} exported to {html.escape(str(path))}. "
        f'<a href="{html.escape(folder)}">Open folder</a>'
    )
    return count


def close_all() -> int:
    """Answer every open dialog with "no" (reject); returns how many there were."""
    shown = open_dialogs()
    for dialog in shown:
        dialog.reject()
    _open.clear()
    return len(shown)
