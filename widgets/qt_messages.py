"""Qt's own warnings go to the studio's log; a thread violation is logged with its stack.

"Timers cannot be started from another thread" and its kind mean a Qt object was touched
off the GUI thread: the crash it leads to comes later and elsewhere, so the moment it
happens is the one worth a Python stack. Tests read `violations()` to fail on any.
"""

import logging
import threading
import traceback

from PySide6.QtCore import QMessageLogContext, QtMsgType, qInstallMessageHandler

log = logging.getLogger("qt")

_THREAD_VIOLATION = ("another thread", "different thread", "Cannot create children for a parent")
_violations: list[str] = []
_lock = threading.Lock()


def is_thread_violation(message: str) -> bool:
    return any(marker in message for marker in _THREAD_VIOLATION)


def _handler(kind: QtMsgType, _context: QMessageLogContext, message: str) -> None:
    if is_thread_violation(message):
        where = "".join(traceback.format_stack(limit=25)[:-1])
        with _lock:
            _violations.append(f"[{threading.current_thread().name}] {message}\n{where}")
        thread = threading.current_thread().name
        log.error(
            "qt_thread_violation",
            extra={"event": "qt_thread_violation", "message_text": message, "thread": thread,
                   "stack": where},
        )  # fmt: skip
    elif kind in (QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg):
        log.error("%s", message)
    elif kind == QtMsgType.QtWarningMsg:
        log.warning("%s", message)
    else:
        log.debug("%s", message)


def install() -> None:
    qInstallMessageHandler(_handler)


def violations() -> list[str]:
    """Every thread violation Qt reported since the last `clear()`, each with its stack."""
    with _lock:
        return list(_violations)


def clear() -> None:
    with _lock:
        _violations.clear()
