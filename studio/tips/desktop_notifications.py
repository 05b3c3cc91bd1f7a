"""Tip alerts as the desktop's own notifications: one sink, `await notifier.notify(alert)`.

On Linux a notification goes to whichever server owns `org.freedesktop.Notifications` on the
session bus (GNOME Shell, KDE Plasma, dunst, notification-daemon, ...), through
desktop-notifier (dbus-fast on asyncio; on macOS and Windows the same library speaks to the
platform's notification centre). It carries two actions: "Open" (shows and raises the
window) and, only while the show's chat is open, "Thank in chat". When no server is on the bus
(or sending fails), the alert goes to `fallback(summary, body)`: the window's tray balloon.

Every alert logs a `desktop_notification` event with the summary, body, actions and the
backend that showed it ("dbus", "native", "fallback").
"""

import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from desktop_notifier import Button, DesktopNotifier, Icon

from studio.logs import event
from studio.tips.alerts import TipAlert
from studio.tips.format import truncate

log = logging.getLogger(__name__)

APP_NAME = "HarmonieCORE Studio"
NOTIFICATIONS_BUS_NAME = "org.freedesktop.Notifications"
OPEN = "Open"
THANK = "Thank in chat"
DBUS = "dbus"
NATIVE = "native"
FALLBACK = "fallback"
NOTIFICATION_TIMEOUT_S = 10
MAX_THANKS_CHARS = 200


@dataclass(frozen=True)
class Delivery:
    backend: str  # dbus, native or fallback
    shown: bool  # False: the fallback could not show it either


@dataclass(frozen=True)
class NotificationText:
    summary: str
    body: str


def notification_text(alert: TipAlert) -> NotificationText:
    """Summary "Tip from <fan>: <amount>", body: fiat and the fan's message (plain text, one
    line, no markup a server could interpret)."""
    return NotificationText(alert.tray_title, alert.tray_body)


def thanks_line(alert: TipAlert) -> str:
    """The line "Thank in chat" posts in the show's chat."""
    return truncate(
        f"Thank you {alert.fan_label} for the {alert.amount_text} tip!", MAX_THANKS_CHARS
    )


async def notification_server_on_bus() -> bool:
    """True when a notification server owns (or can be started for) the freedesktop name on
    the session bus; False without a session bus or without a server."""
    from dbus_fast import Message, MessageType
    from dbus_fast.aio import MessageBus

    try:
        bus = await MessageBus().connect()
    except Exception as exc:  # no DBUS_SESSION_BUS_ADDRESS, or the bus is gone
        log.info("no session bus for desktop notifications: %s", type(exc).__name__)
        return False
    try:
        for member, body in (
            ("NameHasOwner", [NOTIFICATIONS_BUS_NAME]),
            ("ListActivatableNames", []),
        ):
            reply = await bus.call(
                Message(
                    destination="org.freedesktop.DBus",
                    path="/org/freedesktop/DBus",
                    interface="org.freedesktop.DBus",
                    member=member,
                    signature="s" if body else "",
                    body=body,
                )
            )
            if reply is None or reply.message_type != MessageType.METHOD_RETURN:
                return False
            found = reply.body[0]
            if found is True or (isinstance(found, list) and NOTIFICATIONS_BUS_NAME in found):
                return True
        return False
    finally:
        bus.disconnect()


class DesktopNotifications:
    """The desktop-notification sink for tip alerts.

    on_open: shows and raises the main window. can_thank: whether "Thank in chat" can be
    offered now (live and signed in). thank: posts a line in the show's chat. fallback:
    shows (summary, body) some other way (the tray balloon); returns whether it was shown.
    """

    def __init__(
        self,
        on_open: Callable[[], None],
        fallback: Callable[[str, str], bool] = lambda _summary, _body: False,
        thank: Callable[[str], Awaitable[object]] | None = None,
        can_thank: Callable[[], bool] | None = None,
        icon_path: str | None = None,
        server_probe: Callable[[], Awaitable[bool]] = notification_server_on_bus,
    ) -> None:
        self.on_open = on_open
        self.fallback = fallback
        self.thank = thank
        self.can_thank = can_thank or (lambda: thank is not None)
        self._probe = server_probe
        icon = Icon(path=Path(icon_path)) if icon_path else None
        self._notifier = DesktopNotifier(app_name=APP_NAME, app_icon=icon)
        self._tasks: set[asyncio.Task[object]] = set()
        self._server_seen = False  # the last notification reached a server
        self._in_order = asyncio.Lock()  # two tips in quick succession reach the server in order

    async def notify(self, alert: TipAlert, text: NotificationText | None = None) -> Delivery:
        """Show one alert (in `text`'s words when given: the alert queue's tier template);
        says which backend showed it (dbus, native or fallback)."""
        async with self._in_order:
            return await self._notify(alert, text or notification_text(alert))

    async def _notify(self, alert: TipAlert, text: NotificationText) -> Delivery:
        actions = [OPEN]
        buttons = [Button(OPEN, on_pressed=self.on_open)]
        if self.thank is not None and self.can_thank():
            line = thanks_line(alert)
            actions.append(THANK)
            buttons.append(Button(THANK, on_pressed=lambda: self._thank(line)))
        backend = FALLBACK
        if self._server_seen or await self._server_available():
            dispatched: list[bool] = []
            await self._notifier.send(
                text.summary,
                text.body,
                buttons=buttons,
                on_clicked=self.on_open,
                on_dispatched=lambda: dispatched.append(True),
                timeout=NOTIFICATION_TIMEOUT_S,
            )
            # desktop-notifier logs, never raises, when sending failed; the server is then
            # looked for again before the next tip (it may have gone, or be back)
            self._server_seen = bool(dispatched)
            if dispatched:
                backend = DBUS if sys.platform.startswith("linux") else NATIVE
        shown = True
        if backend == FALLBACK:
            actions = []
            shown = self.fallback(text.summary, text.body)
        event(
            log,
            "desktop_notification",
            tx_hash=alert.record.tx_hash,
            log_index=alert.record.log_index,
            summary=text.summary,
            body=text.body,
            actions=actions,
            backend=backend,
            shown=shown,
            sent_at=time.time(),
        )
        return Delivery(backend, shown)

    async def prepare(self) -> None:
        """Connect to the notification server ahead of the first tip (desktop-notifier asks
        the server for its interface and capabilities once: that need not delay a tip)."""
        try:
            if await self._server_available():
                await self._notifier.get_capabilities()
        except Exception as exc:  # the first notify() tries again, and falls back
            log.info("notification server not ready: %s", type(exc).__name__)

    async def _server_available(self) -> bool:
        if not sys.platform.startswith("linux"):
            return True  # macOS / Windows: the platform's notification centre is always there
        return await self._probe()

    def _thank(self, line: str) -> None:
        if self.thank is None or not self.can_thank():
            log.info("thank in chat: the chat is not open any more")
            return
        task = asyncio.ensure_future(self._send_thanks(line))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_thanks(self, line: str) -> None:
        assert self.thank is not None
        try:
            await self.thank(line)
        except Exception as exc:  # the chat refused or closed: say so in the log, lose nothing
            log.warning("thank in chat failed: %s", exc)
            return
        event(log, "tip_thanked", text=line)
