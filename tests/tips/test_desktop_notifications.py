"""Tip alerts as desktop notifications, against a real notification server (dunst) on a
private D-Bus session under Xvfb: the Notify call is read from the bus (dbus-monitor), and the
actions are pressed through dunst's own context menu, as a person would."""

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from PySide6.QtWidgets import QWidget

from backend.wire import ProfileIn
from harness.notification_server import (
    Bus,
    Dunst,
    NotifyCall,
    NotifyMonitor,
    dunst,
    name_has_owner,
    private_bus,
)
from studio.social.backend_client import BackendClient
from studio.social.chat_room import ChatRoom
from studio.tips.alerts import TipAlert, TipAlerts
from studio.tips.desktop_notifications import OPEN, THANK, notification_server_on_bus
from studio.tips.sound import TipSound
from studio.tips.store import CONFIRMED, AlertRecord, TipStore
from tests.studio_chat.conftest import CHAIN_ID, key_signer, serve_backend
from tests.support.screenshot import save_screen
from tests.support.waiting import wait_until
from tests.support.xserver import xvfb_with_tray
from widgets.tips.alerts_feed import AlertsFeed
from widgets.tips.tip_notifier import TipNotifier, desktop_notifications

pytestmark = [pytest.mark.xvfb, pytest.mark.slow]

ARTIST = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
FAN = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


class Desktop:
    def __init__(self, bus: Bus, server: Dunst | None, monitor: NotifyMonitor) -> None:
        self.bus, self.server, self.monitor = bus, server, monitor

    async def notify_calls(self, count: int) -> list[NotifyCall]:
        await wait_until(lambda: len(self.monitor.calls()) >= count, what=f"{count} Notify")
        return self.monitor.calls()


@pytest.fixture
def display() -> Iterator[dict[str, str]]:
    try:
        with xvfb_with_tray() as server:
            yield server.env
    except FileNotFoundError as missing:
        pytest.skip(f"{missing} is not installed (make system-deps installs it)")


@pytest.fixture
def desktop(display, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desktop]:
    """dunst on a private session bus; this process's session bus is that bus."""
    with private_bus(tmp_path / "dbus") as bus:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus.address)
        with (
            dunst(bus, display, tmp_path) as server,
            NotifyMonitor(bus, tmp_path / "notify.log") as monitor,
        ):
            yield Desktop(bus, server, monitor)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TipStore]:
    s = TipStore(tmp_path / "tips.sqlite3")
    yield s
    s.close()


def backend_tip(n: int, fan_name: str | None, message: str) -> dict:
    return {
        "kind": "tip_received",
        "data": {
            "tx_hash": "0x" + f"{n:02x}" * 32, "log_index": 0, "block_number": n,
            "artist": ARTIST, "fan": FAN, "fan_name": fan_name,
            "amount_wei": str(25 * 10**16), "message": message,
        },
    }  # fmt: skip


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", "") == name]


async def test_a_tip_is_a_notify_call_on_the_bus_and_open_raises_the_window(
    desktop: Desktop,
    display: dict[str, str],
    store: TipStore,
    qtbot,
    caplog: pytest.LogCaptureFixture,
    artifacts_dir: Path,
) -> None:
    caplog.set_level(logging.INFO)
    assert await notification_server_on_bus()
    window = QWidget()
    qtbot.addWidget(window)
    window.hide()
    alerts = TipAlerts(store, ARTIST, "tCORE2")
    feed = AlertsFeed()
    qtbot.addWidget(feed)
    notifier = TipNotifier(
        None, alerts, feed, TipSound(enabled=False), desktop=desktop_notifications(window)
    )
    alerts.on_backend_notification(backend_tip(1, "Ann <b>Fan</b>", "great set & thanks"))

    call = (await desktop.notify_calls(1))[0]
    await asyncio.to_thread(save_screen, artifacts_dir / "tip_dunst.png", display)
    assert call.app_name == "HarmonieCORE Studio"
    assert call.summary == "Tip from Ann ‹b›Fan‹/b›: 0.25 tCORE2"
    assert call.body == "great set & thanks"
    assert call.action_labels == [OPEN], "no chat room: no Thank in chat"
    await wait_until(lambda: bool(events(caplog, "tray_message")), what="tray_message")
    told = events(caplog, "tray_message")[0]
    assert told.via == "dbus" and told.in_tray is False
    sent = events(caplog, "desktop_notification")[0]
    assert (sent.summary, sent.body, sent.backend) == (call.summary, call.body, "dbus")

    assert not window.isVisible()
    assert desktop.server is not None
    await asyncio.to_thread(desktop.server.press, OPEN)
    await wait_until(window.isVisible, what="the window to be shown by Open")
    assert not window.isMinimized()

    # tips in quick succession reach the server in the order they came
    for n in range(2, 6):
        alerts.on_backend_notification(backend_tip(n, "Ann", f"tip number {n}"))
    calls = await desktop.notify_calls(5)
    assert [c.body for c in calls[1:]] == [f"tip number {n}" for n in range(2, 6)]
    notifier.close()


async def test_thank_in_chat_is_offered_while_live_and_posts_in_the_shows_chat(
    desktop: Desktop, store: TipStore, tmp_path: Path, qtbot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with serve_backend(tmp_path) as backend:
        artist_key = Account.create()
        artist = BackendClient(backend.url, key_signer(artist_key), chain_id=CHAIN_ID)
        fan = BackendClient(backend.url, key_signer(Account.create()), chain_id=CHAIN_ID)
        try:
            await artist.sign_in()
            await artist.save_profile(ProfileIn(role="artist", display_name="Ada"))
            await fan.sign_in()
            room = ChatRoom(artist)
            window = QWidget()
            qtbot.addWidget(window)
            alerts = TipAlerts(store, ARTIST, "tCORE2")
            notifier = TipNotifier(
                None, alerts, None, TipSound(enabled=False),
                desktop=desktop_notifications(window, room),
            )  # fmt: skip

            # off air: the action is not offered
            alerts.on_backend_notification(backend_tip(1, "Ann", "before the show"))
            assert (await desktop.notify_calls(1))[0].action_labels == [OPEN]

            stream = await artist.go_live("Friday set")
            room.open(stream)
            await wait_until(lambda: room.state == "open", what="the chat to open")
            seen: list[str] = []
            listening = fan.chat(stream.id, write=False)

            async def listen() -> None:
                async for chat_event in listening:
                    if chat_event.kind == "message" and chat_event.message is not None:
                        seen.append(chat_event.message.text)

            reader = asyncio.ensure_future(listen())
            await listening.connected.wait()
            alerts.on_backend_notification(backend_tip(2, "Ann", "during the show"))
            call = (await desktop.notify_calls(2))[1]
            assert call.action_labels == [OPEN, THANK]
            assert desktop.server is not None
            await asyncio.to_thread(desktop.server.press, THANK)
            await wait_until(lambda: bool(seen), what="the thank-you in the show's chat")
            assert seen == ["Thank you Ann for the 0.25 tCORE2 tip!"]
            reader.cancel()
            await listening.close()
            await room.close()
            notifier.close()
        finally:
            await artist.aclose()
            await fan.aclose()


async def test_without_a_notification_server_the_alert_falls_back(
    tmp_path: Path, store: TipStore, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    """A bus with no server on it (and none to start): the fallback tells, nothing is lost."""
    caplog.set_level(logging.INFO)
    with private_bus(tmp_path / "dbus") as bus:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus.address)
        assert not name_has_owner(bus)
        assert not await notification_server_on_bus()
        shown: list[tuple[str, str]] = []
        notifications = desktop_notifications(None)
        notifications.fallback = lambda summary, body: shown.append((summary, body)) or True
        alert = TipAlert(
            AlertRecord("0x" + "03" * 32, 0, "chain", 0.0, FAN, None, 10**18, "hi", CONFIRMED, 3),
            "tCORE2",
        )
        delivery = await notifications.notify(alert)
    assert (delivery.backend, delivery.shown) == ("fallback", True)
    assert shown == [("Tip from 0x3C44…93BC: 1 tCORE2", "hi")]
    sent = events(caplog, "desktop_notification")[0]
    assert sent.backend == "fallback" and sent.actions == []


async def test_no_server_on_the_bus_shows_a_readable_tray_balloon(
    display: dict[str, str], tip_chain, tmp_path: Path, artifacts_dir: Path
) -> None:
    """The tray app as the studio assembles it (dark theme), on a bus with no notification
    server: the tip shows in Qt's balloon, and each line of it reads at >= 4.5:1."""
    from tests.support.studio_process import log_path
    from tests.tips.test_tray_e2e import start_app, stop_app, wait_events

    with private_bus(tmp_path / "dbus") as bus:
        env = {**display, "DBUS_SESSION_BUS_ADDRESS": bus.address}
        for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            env[var] = str(tmp_path / var.lower())
        log = log_path(env)
        app = start_app(env, tip_chain)
        try:
            wait_events(log, "watcher_synced", 1, app)
            await asyncio.to_thread(tip_chain.tip, tip_chain.fans[0], 10**18, "loved the set")
            told = wait_events(log, "tray_message", 1, app)[0]
            sent = wait_events(log, "desktop_notification", 1, app)[0]
            balloon = wait_events(log, "balloon", 1, app)[0]
            shot = artifacts_dir / "tip_balloon_fallback.png"
            await asyncio.to_thread(save_screen, shot, env)
        finally:
            stop_app(app)
    assert sent["backend"] == "fallback" and sent["body"] == "loved the set"
    assert told["via"] == "fallback" and told["in_tray"] is True
    labels = json.loads(balloon["labels"])
    assert [label["text"] for label in labels] == [told["title"], told["body"]]
    assert all(label["contrast"] >= 4.5 for label in labels), labels


async def test_a_slow_server_check_does_not_reorder_notifications(desktop: Desktop) -> None:
    """The first tip's bus check is slow (a busy bus): the later tips still wait their turn."""
    from studio.tips.desktop_notifications import DesktopNotifications

    delays = iter([0.3, 0.0, 0.0])

    async def slow_then_fast() -> bool:
        await asyncio.sleep(next(delays))
        return await notification_server_on_bus()

    notifications = DesktopNotifications(on_open=lambda: None, server_probe=slow_then_fast)
    alerts = [
        TipAlert(
            AlertRecord(f"0x{n:064x}", 0, "chain", 0.0, FAN, "Ann", 1, f"n{n}", CONFIRMED, n),
            "tCORE2",
        )
        for n in range(1, 4)
    ]
    await asyncio.gather(*(notifications.notify(alert) for alert in alerts))
    calls = await desktop.notify_calls(3)
    assert [c.body for c in calls] == ["n1", "n2", "n3"]


async def test_when_the_server_goes_away_the_next_tip_falls_back(
    desktop: Desktop, caplog: pytest.LogCaptureFixture
) -> None:
    from studio.tips.desktop_notifications import DesktopNotifications

    caplog.set_level(logging.INFO)
    balloons: list[str] = []
    notifications = DesktopNotifications(
        on_open=lambda: None, fallback=lambda summary, _body: balloons.append(summary) or True
    )

    def alert(n: int) -> TipAlert:
        record = AlertRecord(f"0x{n:064x}", 0, "chain", 0.0, FAN, None, 1, "", CONFIRMED, n)
        return TipAlert(record, "tCORE2")

    assert (await notifications.notify(alert(1))).backend == "dbus"
    assert desktop.server is not None
    desktop.server.stop()
    await wait_until(lambda: not name_has_owner(desktop.bus), what="dunst to leave the bus")
    assert (await notifications.notify(alert(2))).backend == "fallback"
    assert (await notifications.notify(alert(3))).backend == "fallback"
    assert len(balloons) == 2 and len(desktop.monitor.calls()) == 2  # tip 2 tried the bus once
