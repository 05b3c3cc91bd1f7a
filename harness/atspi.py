"""Find a widget on screen the way a screen reader does: over AT-SPI (the accessibility bus).

Qt publishes its widget tree on AT-SPI when `QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1` is in its
environment and the session bus can start `at-spi-bus-launcher` (Debian `at-spi2-core`).
This module only *finds* a widget (role, name, screen rectangle); pressing it is real input
(harness.xinput), so the studio needs no hook of its own.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass

from jeepney import DBusAddress, MessageType, Properties, new_method_call
from jeepney.io.blocking import DBusConnection, open_dbus_connection

A11Y_ENV = {"QT_LINUX_ACCESSIBILITY_ALWAYS_ON": "1"}
ACCESSIBLE = "org.a11y.atspi.Accessible"
ROOT_PATH = "/org/a11y/atspi/accessible/root"
SCREEN_COORDS = 0
STATE_SHOWING = 25  # AtspiStateType: on screen (in a visible window, not a hidden tab)
MAX_NODES = 5000


class AtspiError(RuntimeError):
    """The accessibility bus is missing or the widget was not found."""


@dataclass(frozen=True)
class Widget:
    role: str
    name: str
    x: int
    y: int
    width: int
    height: int

    @property
    def centre(self) -> tuple[int, int]:
        return self.x + self.width // 2, self.y + self.height // 2


def _call(conn: DBusConnection, bus: str, path: str, iface: str, method: str,
          signature: str | None = None, body: tuple = ()) -> tuple:  # fmt: skip
    address = DBusAddress(path, bus_name=bus, interface=iface)
    reply = conn.send_and_get_reply(new_method_call(address, method, signature, body), timeout=10)
    if reply.header.message_type == MessageType.error:
        raise AtspiError(f"{iface}.{method} on {path}: {reply.body}")
    return reply.body


def a11y_bus_address(session_bus: str) -> str:
    """The accessibility bus that the session's `org.a11y.Bus` launches (started on demand)."""
    with open_dbus_connection(session_bus) as session:
        return _call(session, "org.a11y.Bus", "/org/a11y/bus", "org.a11y.Bus", "GetAddress")[0]


class Accessibility:
    """A connection to the accessibility bus of the D-Bus session at `session_bus`."""

    def __init__(self, session_bus: str) -> None:
        self._conn = open_dbus_connection(a11y_bus_address(session_bus))

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "Accessibility":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _children(self, bus: str, path: str) -> list[tuple[str, str]]:
        return list(_call(self._conn, bus, path, ACCESSIBLE, "GetChildren")[0])

    def _describe(self, bus: str, path: str) -> tuple[str, str, bool]:
        role = _call(self._conn, bus, path, ACCESSIBLE, "GetRoleName")[0]
        prop = Properties(DBusAddress(path, bus_name=bus, interface=ACCESSIBLE)).get("Name")
        name = self._conn.send_and_get_reply(prop, timeout=10).body[0][1]
        low, high = _call(self._conn, bus, path, ACCESSIBLE, "GetState")[0][:2]
        states = low | (high << 32)
        return role, name, bool(states & (1 << STATE_SHOWING))

    def _walk(
        self, start: list[tuple[str, str]] | None = None
    ) -> Iterator[tuple[str, str, str, str, bool]]:
        """(bus, path, role, name, showing) breadth first, from the registry's applications
        or from `start`; hidden subtrees are skipped."""
        pending = start or self._children("org.a11y.atspi.Registry", ROOT_PATH)
        seen = 0
        while pending and seen < MAX_NODES:
            bus, path = pending.pop(0)
            seen += 1
            try:
                role, name, showing = self._describe(bus, path)
                children = self._children(bus, path)
            except AtspiError:
                continue  # the widget went away while we looked
            yield bus, path, role, name, showing
            if showing or role == "application":
                pending.extend(children)

    def _locate(
        self, role: str, name: str | None, start: list[tuple[str, str]] | None = None
    ) -> tuple[str, str, str] | None:
        for bus, path, node_role, node_name, showing in self._walk(start):
            if showing and node_role == role and name in (None, node_name):
                return bus, path, node_name
        return None

    def find(
        self, role: str, name: str | None, inside: tuple[str, str] | None = None
    ) -> Widget | None:
        """The first showing widget with this role name ("push button") and accessible name
        (None: any name), optionally inside the first showing (role, name) container."""
        start = None
        if inside is not None:
            container = self._locate(*inside)
            if container is None:
                return None
            start = [(container[0], container[1])]
        found = self._locate(role, name, start)
        if found is None:
            return None
        bus, path, node_name = found
        x, y, w, h = _call(
            self._conn, bus, path, "org.a11y.atspi.Component", "GetExtents", "u",
            (SCREEN_COORDS,),
        )[0]  # fmt: skip
        return Widget(role, node_name, x, y, w, h)

    def wait_for(
        self,
        role: str,
        name: str | None,
        timeout: float = 30.0,
        inside: tuple[str, str] | None = None,
    ) -> Widget:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            widget = self.find(role, name, inside)
            if widget is not None and widget.width > 0:
                return widget
            time.sleep(0.25)
        raise AtspiError(f"no showing {role} named {name!r} after {timeout} s")
