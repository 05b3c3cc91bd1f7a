"""Queue controls in the window: the Alerts dock's buttons, the tray menu, the shortcuts; and the
tray / feed / sound playing from the queue (offscreen, pytest-qt, the queue on asyncio)."""

import logging
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon, QWidget

from studio.tips.alert_queue import SKIPPED, AlertQueue
from studio.tips.alert_rules import AlertLook, AlertRules
from studio.tips.alerts import TipAlerts
from studio.tips.sound import TipSound
from studio.tips.store import Tip, TipStore
from tests.support.waiting import wait_until
from widgets.tips.alert_controls import HOTKEYS, AlertControls, TrayAlertActions, install_hotkeys
from widgets.tips.alerts_feed import AlertsFeed
from widgets.tips.tip_notifier import TipNotifier, attach

ARTIST = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
FAN = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


def tip(n: int, message: str = "", wei: int = 10**18) -> Tip:
    return Tip(
        "0x" + f"{n:02x}" * 32, 0, n, "0x" + "ee" * 32, 1_700_000_000, ARTIST, FAN, wei, message
    )


class CountingSound(TipSound):
    def __init__(self) -> None:
        super().__init__(enabled=True)
        self.calls: list[tuple[str, float]] = []

    def play(self, sound_file: str = "", volume: float = 0.35) -> bool:
        self.calls.append((sound_file, volume))
        return True


@pytest.fixture
def queue(tmp_path: Path):
    q = AlertQueue(
        tmp_path / "alert_queue.sqlite3", AlertRules(default_look=AlertLook(duration_s=60))
    )
    yield q
    q.close()


def press(qtbot, widget: QWidget, name: str) -> None:
    sequence = HOTKEYS[name]  # Ctrl+Alt+<letter>
    key = getattr(Qt.Key, f"Key_{sequence[-1]}")
    modifiers = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
    qtbot.keyClick(widget, key, modifiers)


async def test_shortcuts_skip_pause_and_mute(qtbot, queue: AlertQueue) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    shortcuts = install_hotkeys(window, queue)
    assert {s.key().toString() for s in shortcuts.values()} == set(HOTKEYS.values())
    assert all(s.context() == Qt.ShortcutContext.ApplicationShortcut for s in shortcuts.values())
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    QApplication.setActiveWindow(window)  # the offscreen platform has no window manager
    skipped: list[str] = []
    queue.finished.connect(lambda _a, how: skipped.append(how))
    first, second = queue.offer_event("follower", "a", "A"), queue.offer_event("follower", "b", "B")
    assert first and second
    queue.start()
    try:
        await wait_until(lambda: queue.current is not None and queue.current.id == first.id)
        press(qtbot, window, "skip")
        await wait_until(lambda: queue.current is not None and queue.current.id == second.id)
        assert skipped == [SKIPPED]
        other = QWidget()  # another studio window (a dialog, the chat) has the focus
        qtbot.addWidget(other)
        other.show()
        qtbot.waitExposed(other)
        QApplication.setActiveWindow(other)
        press(qtbot, other, "pause")
        assert queue.paused, "the shortcuts work from every window of the studio"
        QApplication.setActiveWindow(window)
        press(qtbot, window, "mute")
        assert queue.muted
        press(qtbot, window, "pause")
        press(qtbot, window, "mute")
        assert not queue.paused and not queue.muted
    finally:
        await queue.stop()


async def test_dock_buttons_show_and_change_the_queue_state(qtbot, tmp_path: Path) -> None:
    queue = AlertQueue(
        tmp_path / "q.sqlite3",
        AlertRules(default_look=AlertLook(duration_s=60), moderation_delay_s=30),
    )
    controls = AlertControls(queue)
    qtbot.addWidget(controls)
    assert not controls.skip.isEnabled() and not controls.drop.isEnabled()
    assert controls.status.text() == "No alert playing"
    held = queue.offer_event("follower", "a", "<b>fan A</b> follows you")
    queue.start()
    try:
        await wait_until(lambda: controls.drop.isEnabled(), what="Drop enabled while held")
        assert controls.status.text() == "Waiting for moderation: <b>fan A</b> follows you"
        controls.drop.click()
        assert held and queue.state_of(held.id) == "dropped"
        assert not controls.drop.isEnabled()
        controls.pause.click()
        assert queue.paused and controls.pause.text() == "Resume" and controls.pause.isChecked()
        controls.mute.click()
        assert queue.muted and controls.mute.text() == "Unmute"
        assert controls.status.text() == "Paused (0 waiting) · Muted"
        controls.pause.click()
        controls.mute.click()
        assert not queue.paused and not queue.muted and controls.pause.text() == "Pause"
    finally:
        await queue.stop()
        queue.close()


async def test_tray_menu_skips_pauses_and_mutes(qtbot, queue: AlertQueue) -> None:
    menu = QMenu()
    quit_action = QAction("Quit", menu)
    menu.addAction(quit_action)
    actions = TrayAlertActions(menu, queue)
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert texts == ["Skip alert", "Pause alerts", "Mute alerts", "Quit"]
    assert not actions.skip.isEnabled()
    actions.pause.trigger()
    actions.mute.trigger()
    actions.refresh()
    assert queue.paused and queue.muted
    assert (actions.pause.text(), actions.mute.text()) == ("Resume alerts", "Unmute alerts")
    actions.pause.trigger()
    queue.offer_event("follower", "a", "A")
    queue.start()
    try:
        await wait_until(lambda: queue.current is not None)
        actions.refresh()
        assert actions.skip.isEnabled()
        actions.skip.trigger()
        await wait_until(lambda: queue.current is None)
    finally:
        await queue.stop()


async def test_attaching_again_leaves_one_set_of_controls(qtbot, tmp_path: Path, queue) -> None:
    """The tips being watched change (another wallet): the old controls go, the new ones work."""
    store = TipStore(tmp_path / "tips.sqlite3")
    alerts = TipAlerts(store, ARTIST, "tCORE2")
    window = QWidget()
    qtbot.addWidget(window)
    tray = QSystemTrayIcon(window)
    menu = QMenu(window)
    menu.addAction(QAction("Quit", menu))
    tray.setContextMenu(menu)
    first = attach(tray, window, alerts, sound=False, queue=queue)
    first.close()
    second = attach(tray, window, alerts, sound=False, queue=queue)
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert texts == ["Skip alert", "Pause alerts", "Mute alerts", "Quit"]
    assert len([a for a in menu.actions() if a.isSeparator()]) == 1
    window.show()
    qtbot.waitExposed(window)
    QApplication.setActiveWindow(window)
    press(qtbot, window, "pause")
    assert queue.paused, "the shortcut is not ambiguous"
    second.close()
    store.close()


async def test_tray_feed_and_sound_follow_the_queue(qtbot, tmp_path: Path, caplog) -> None:
    store = TipStore(tmp_path / "tips.sqlite3")
    alerts = TipAlerts(store, ARTIST, "tCORE2")
    rules = AlertRules(
        min_wei=10**17,
        message_min_wei=10**18,
        blocked_words=("darn",),
        default_look=AlertLook(duration_s=60, volume=0.5),
    )
    queue = AlertQueue(tmp_path / "q.sqlite3", rules)
    alerts.alerted.connect(queue.offer_tip)
    feed = AlertsFeed()
    qtbot.addWidget(feed)
    sound = CountingSound()
    notifier = TipNotifier(None, alerts, feed, sound, queue=queue)
    caplog.set_level(logging.INFO, logger="widgets.tips.tip_notifier")
    alerts.on_chain_tip(tip(1, "too small to alert", wei=10**16))
    alerts.on_chain_tip(tip(2, "darn fine show", wei=2 * 10**18))
    alerts.on_chain_tip(tip(3, "hidden message", wei=5 * 10**17))
    assert len(feed.entries()) == 1, "under the minimum: in the feed, no alert"
    assert notifier.shown == 0, "nothing shows before the queue plays it"
    queue.start()
    try:
        await wait_until(lambda: notifier.shown == 1)
        queue.set_muted(True)
        queue.skip()
        await wait_until(lambda: notifier.shown == 2)
    finally:
        await queue.stop()
    trays = [r for r in caplog.records if getattr(r, "event", "") == "tray_message"]
    assert [r.tx_hash for r in trays] == ["0x" + "02" * 32, "0x" + "03" * 32]
    assert trays[0].title == "0x3C44…93BC tipped 2 tCORE2"
    assert trays[0].body == "**** fine show"
    assert trays[1].body == "No message", "under the message minimum"
    assert sound.calls == [("", 0.5)], "the second played muted"
    assert len(feed.entries()) == 3
    notifier.close()
    queue.close()
    store.close()
