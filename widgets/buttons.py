"""A button that does nothing useful in a state is off in that state, and says why."""

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtWidgets import QAbstractButton


def enable(button: QAbstractButton, on: bool, what: str, why_not: str) -> None:
    """Enable `button` with tooltip `what`, or disable it with tooltip `why_not`."""
    button.setEnabled(on)
    button.setToolTip(what if on else why_not)


def start_once(
    running: "asyncio.Future[Any] | None",
    start: Callable[[], Coroutine[Any, Any, Any]],
    update_actions: Callable[[], None],
) -> "asyncio.Future[Any]":
    """`running` while it has not ended (a second click starts nothing), else a new task of
    `start()`; `update_actions` runs now and again when the task ends, so the buttons show
    what can be done meanwhile."""
    if running is not None and not running.done():
        return running
    task = asyncio.ensure_future(start())
    task.add_done_callback(lambda _done: update_actions())
    update_actions()
    return task
