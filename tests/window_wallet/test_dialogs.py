"""widgets.dialogs and widgets.crash offscreen (pytest-qt): dialogs from coroutines never
run a nested event loop, the same message is never open twice, errors never storm."""

import asyncio
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialog, QMessageBox, QWidget

from widgets import crash
from widgets.dialogs import ask, close_all, confirm, message, open_dialogs, save_path


@pytest.fixture(autouse=True)
def no_dialog_left(qapp):  # type: ignore[no-untyped-def]
    qapp.setQuitOnLastWindowClosed(False)  # as the studio: closing a dialog is not a quit
    yield
    close_all()


def boxes() -> list[QMessageBox]:
    return [d for d in open_dialogs() if isinstance(d, QMessageBox)]


def test_ask_answers_accept_and_cancel_while_other_tasks_run(qtbot, qasync_loop):
    async def scenario() -> tuple[bool, bool, int]:
        ticks = 0

        async def other_task() -> None:  # a tip watcher, a health check...
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        other = asyncio.ensure_future(other_task())
        first, second = QDialog(), QDialog()
        qtbot.addWidget(first)
        qtbot.addWidget(second)
        asking = asyncio.ensure_future(ask(first))
        await asyncio.sleep(0.1)
        assert first.isVisible() and first in open_dialogs()
        first.accept()
        accepted = await asking
        asking = asyncio.ensure_future(ask(second))
        await asyncio.sleep(0.1)
        second.reject()
        cancelled = await asking
        other.cancel()
        return accepted, cancelled, ticks

    accepted, cancelled, ticks = qasync_loop.run_until_complete(scenario())
    assert (accepted, cancelled) == (True, False)
    assert ticks > 5, "the other task kept running while the dialogs were open"


def test_the_same_message_is_shown_once_and_close_all_answers_no(qtbot, qasync_loop):
    parent = QWidget()
    qtbot.addWidget(parent)
    for _ in range(5):
        message(parent, "Withdrawal failed", "Not enough funds.")
    message(parent, "Export failed", "Could not write x.csv.")
    assert sorted(b.windowTitle() for b in boxes()) == ["Export failed", "Withdrawal failed"]

    async def scenario() -> bool:
        asking = asyncio.ensure_future(confirm(parent, "Delete?", "Really?"))
        await asyncio.sleep(0.05)
        assert close_all() == 3
        return await asking

    assert qasync_loop.run_until_complete(scenario()) is False
    assert boxes() == []


def test_save_path_returns_the_chosen_file_or_none(qtbot, qasync_loop, tmp_path):
    async def choose(answer: bool) -> Path | None:
        asking = asyncio.ensure_future(save_path(None, "Export tips", str(tmp_path / "t.csv")))
        await asyncio.sleep(0.1)
        [dialog] = open_dialogs()
        dialog.accept() if answer else dialog.reject()
        return await asking

    assert qasync_loop.run_until_complete(choose(True)) == tmp_path / "t.csv"
    assert qasync_loop.run_until_complete(choose(False)) is None


def test_errors_never_storm(qtbot, qasync_loop):
    """An error every few seconds (the issue's 12 dialogs) is one dialog, counting the rest."""
    for i in range(12):
        error = RuntimeError(f"Cannot enter into task {i} while another task is being executed")
        crash.asyncio_exception_handler(qasync_loop, {"exception": error})
    shown = boxes()
    assert len(shown) == 1, [b.text() for b in shown]
    assert "And 11 more errors" in shown[0].text()
    shown[0].accept()
    again = RuntimeError("Cannot enter into task 0 while another task is being executed")
    crash.asyncio_exception_handler(qasync_loop, {"exception": again})
    assert boxes() == [], "an error already shown is logged, not shown again"
