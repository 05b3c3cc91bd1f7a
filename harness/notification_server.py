"""A real notification server for tests and benches: a private D-Bus session bus (no service
activation, so nothing starts unless we start it), dunst on an X display, a dbus-monitor that
records every Notify call as the bus carries it, and dunst's context menu to press an action
as a person would (its "dmenu" is a script that picks the action we name).

    with private_bus(tmp) as bus:                       # bus.address, bus.env
        with dunst(bus, display_env, tmp) as server, NotifyMonitor(bus, tmp / "notify.log") as m:
            ... m.calls() -> [NotifyCall(summary, body, actions, seen_at), ...]
            server.press("Open")
"""

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.processes import end
from harness.xserver import _wait_for

NOTIFICATIONS = "org.freedesktop.Notifications"

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@dataclass
class Bus:
    address: str
    env: dict[str, str]  # os.environ with DBUS_SESSION_BUS_ADDRESS set to this bus


@contextmanager
def private_bus(home: Path) -> Iterator[Bus]:
    """A session bus of our own, with no activatable services."""
    if shutil.which("dbus-daemon") is None:
        raise FileNotFoundError("dbus-daemon")
    home.mkdir(parents=True, exist_ok=True)
    sockets = home / "bus"
    sockets.mkdir(exist_ok=True)
    config = home / "bus.conf"
    config.write_text(_BUS_CONFIG.format(dir=sockets))
    daemon = subprocess.Popen(
        ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert daemon.stdout is not None
        address = daemon.stdout.readline().decode().strip()
        if not address:
            raise RuntimeError("dbus-daemon printed no address")
        yield Bus(address, {**os.environ, "DBUS_SESSION_BUS_ADDRESS": address})
    finally:
        end(daemon)


def name_has_owner(bus: Bus, name: str = NOTIFICATIONS) -> bool:
    done = subprocess.run(
        [
            "dbus-send", f"--bus={bus.address}", "--print-reply", "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", f"string:{name}",
        ],
        capture_output=True, text=True, timeout=10,
    )  # fmt: skip
    return done.returncode == 0 and "boolean true" in done.stdout


@dataclass
class Dunst:
    env: dict[str, str]
    choice: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """The server goes away (as when a desktop session's notification daemon dies)."""
        end(self.process)

    def press(self, action: str) -> None:
        """Open dunst's context menu on the notification shown; its menu picks `action`."""
        self.choice.write_text(action)
        subprocess.run(["dunstctl", "context"], env=self.env, check=True, timeout=10)


_DUNSTRC = """[global]
    dmenu = {dmenu}
    show_indicators = yes
[urgency_normal]
    timeout = 0
"""

# dunst lists actions as "#<label> (<summary>) [<id>,<key>]"; print the one asked for
_PICK = """#!/bin/sh
choice=$(cat '{choice}')
grep -m1 -F "#$choice ("
"""


@contextmanager
def dunst(bus: Bus, display_env: dict[str, str], home: Path) -> Iterator[Dunst]:
    """dunst serving org.freedesktop.Notifications on `bus`, drawing on the X display."""
    if shutil.which("dunst") is None:
        raise FileNotFoundError("dunst")
    choice = home / "dunst-choice"
    choice.write_text("")
    pick = home / "dunst-pick.sh"
    pick.write_text(_PICK.format(choice=choice))
    pick.chmod(0o755)
    rc = home / "dunstrc"
    rc.write_text(_DUNSTRC.format(dmenu=pick))
    env = {**display_env, "DBUS_SESSION_BUS_ADDRESS": bus.address}
    server = subprocess.Popen(
        ["dunst", "-config", str(rc)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for(lambda: name_has_owner(bus) or server.poll() is not None, 15, "dunst on the bus")
        if server.poll() is not None:
            raise RuntimeError(f"dunst exited ({server.returncode})")
        yield Dunst(env, choice, server)
    finally:
        end(server)


@dataclass(frozen=True)
class NotifyCall:
    app_name: str
    summary: str
    body: str
    actions: list[str]  # key, label, key, label, ...
    seen_at: float  # the bus's timestamp of the call (epoch seconds)

    @property
    def action_labels(self) -> list[str]:
        return [label for label in self.actions[1::2] if label]


_HEADER = re.compile(r"^method call time=(\d+\.\d+) .*member=Notify$")
_STRING = re.compile(r'^\s+string "(.*)"$')


def parse_notify_calls(text: str) -> list[NotifyCall]:
    """Notify calls in dbus-monitor's output (summary and body must be one line each)."""
    calls: list[NotifyCall] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        header = _HEADER.match(line)
        if header is None:
            continue
        args: list[str] = []
        actions: list[str] = []
        in_actions = False
        for arg in lines[i + 1 :]:
            if not arg.startswith(" "):
                break
            if arg.strip() == "array [" and len(args) == 5 and not in_actions and not actions:
                in_actions = True
                continue
            if in_actions:
                if arg.strip() == "]":
                    break
                found = _STRING.match(arg)
                if found:
                    actions.append(found.group(1))
                continue
            found = _STRING.match(arg)
            if found:
                args.append(found.group(1))
            elif arg.strip().startswith("uint32"):
                args.append(arg.strip())
        if len(args) >= 5:
            calls.append(NotifyCall(args[0], args[3], args[4], actions, float(header.group(1))))
    return calls


_PROBE = "MonitorProbe"


class NotifyMonitor:
    """dbus-monitor on the bus, recording Notify calls to a file as they pass."""

    def __init__(self, bus: Bus, path: Path) -> None:
        self.bus = bus
        self.path = path
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "NotifyMonitor":
        self.path.write_text("")
        with self.path.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    "dbus-monitor", "--address", self.bus.address, "--monitor",
                    f"type='method_call',interface='{NOTIFICATIONS}',member='Notify'",
                    f"type='signal',member='{_PROBE}'",
                ],
                stdout=out, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        _wait_for(self._probe_seen, 10, "dbus-monitor to start")
        return self

    def _probe_seen(self) -> bool:
        """Monitoring has begun once a signal we send shows up in the record."""
        subprocess.run(
            ["dbus-send", f"--bus={self.bus.address}", "--type=signal", f"/{_PROBE}",
             f"org.harmonie.{_PROBE}"],
            capture_output=True, timeout=10,
        )  # fmt: skip
        return _PROBE in self.path.read_text(errors="replace")

    def __exit__(self, *exc: object) -> None:
        end(self.process)

    def calls(self) -> list[NotifyCall]:
        return parse_notify_calls(self.path.read_text(errors="replace"))
