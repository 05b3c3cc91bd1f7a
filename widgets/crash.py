"""Uncaught errors: logged with their traceback and shown in a dialog, never a silent exit."""

import logging
import sys
import traceback
from types import TracebackType
from typing import Any

from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

log = logging.getLogger("studio.crash")

_open_dialogs: list[QMessageBox] = []  # keep non-modal dialogs alive until closed


def show_error(parent: QWidget | None, title: str, message: str, details: str = "") -> QMessageBox:
    box = QMessageBox(
        QMessageBox.Icon.Critical, title, message, QMessageBox.StandardButton.Ok, parent
    )
    if details:
        box.setDetailedText(details)
    box.setObjectName("errorDialog")
    _open_dialogs.append(box)
    box.finished.connect(lambda _=0: _open_dialogs.remove(box) if box in _open_dialogs else None)
    box.open()
    return box


def handle_exception(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    log.critical("uncaught exception", exc_info=(exc_type, exc, tb), extra={"event": "crash"})
    if QApplication.instance() is None:
        return
    details = "".join(traceback.format_exception(exc_type, exc, tb))
    show_error(
        QApplication.activeWindow(),
        "Something went wrong",
        f"{exc_type.__name__}: {exc}\n\nThe studio keeps running. The details are in the log.",
        details,
    )


def asyncio_exception_handler(loop: Any, context: dict[str, Any]) -> None:
    exc = context.get("exception")
    if exc is None:
        log.error("asyncio: %s", context.get("message"))
        return
    handle_exception(type(exc), exc, exc.__traceback__)


def install_exception_hooks() -> None:
    sys.excepthook = handle_exception
