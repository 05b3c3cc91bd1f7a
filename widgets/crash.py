"""Uncaught errors: logged with their traceback and shown in a dialog, never a silent exit.

Never a storm either: one error dialog at a time. An error raised while it is open is
counted in that dialog ("and 3 more errors"), and an error already shown once (same type,
same words) is only logged from then on: a failure repeating every few seconds stays one
dialog.
"""

import logging
import sys
import traceback
from types import TracebackType
from typing import Any

from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from widgets.dialogs import message

log = logging.getLogger("studio.crash")


class _ErrorDialogs:
    def __init__(self) -> None:
        self.box: QMessageBox | None = None
        self.text = ""
        self.more = 0
        self.shown: set[str] = set()

    def show(self, parent: QWidget | None, title: str, text: str, details: str) -> QMessageBox:
        if self.box is not None:
            self.more += 1
            noun = "error" if self.more == 1 else "errors"
            self.box.setText(f"{self.text}\n\nAnd {self.more} more {noun} since: see the log.")
            return self.box
        box = message(parent, title, text, QMessageBox.Icon.Critical, details)
        box.setObjectName("errorDialog")
        self.box, self.text, self.more = box, text, 0
        box.finished.connect(self._closed)
        return box

    def _closed(self, _result: int = 0) -> None:
        self.box = None


_errors = _ErrorDialogs()


def show_error(parent: QWidget | None, title: str, message: str, details: str = "") -> QMessageBox:
    """One error dialog (non-blocking); while one is open, later errors are counted in it."""
    return _errors.show(parent, title, message, details)


def handle_exception(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    log.critical("uncaught exception", exc_info=(exc_type, exc, tb), extra={"event": "crash"})
    if QApplication.instance() is None:
        return
    signature = f"{exc_type.__name__}: {exc}"
    if signature in _errors.shown:
        return  # already shown once: a repeat is in the log, not a new dialog
    _errors.shown.add(signature)
    details = "".join(traceback.format_exception(exc_type, exc, tb))
    show_error(
        QApplication.activeWindow(),
        "Something went wrong",
        f"{signature}\n\nThe studio keeps running. The details are in the log.",
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
