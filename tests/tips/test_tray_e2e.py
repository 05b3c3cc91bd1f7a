"""End to end under Xvfb with a tray host: a fan tips three times, the tray shows three
messages and the feed three entries, in order, across a restart between tips."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.notification_server import private_bus
from tests.support.screenshot import save_screen
from tests.support.studio_process import log_path, read_events
from tests.support.xserver import xvfb_with_tray
from tests.tips.conftest import ROOT, TipChain

pytestmark = [pytest.mark.xvfb, pytest.mark.slow]


@pytest.fixture
def xserver(tmp_path: Path):
    """Xvfb with a tray host, and a session bus with no notification server on it: tips go
    to Qt's tray balloon (without a bus, Qt's X11 autolaunch would find one that may start
    a notification server, and tips would go there instead)."""
    try:
        with xvfb_with_tray() as server, private_bus(tmp_path / "dbus") as bus:
            server.env["DBUS_SESSION_BUS_ADDRESS"] = bus.address
            yield server
    except FileNotFoundError as missing:
        pytest.skip(f"{missing} is not installed (make system-deps installs it)")


def balloon_pixels(shot: Path) -> int:
    """Pixels of the tray balloon's pale yellow (tool tip base) in the top-right corner."""
    import numpy as np
    from PIL import Image

    image = np.asarray(Image.open(shot).convert("RGB"))
    corner = image[:160, -480:].reshape(-1, 3).astype(int)
    r, g, b = corner[:, 0], corner[:, 1], corner[:, 2]
    return int(((r > 245) & (g > 245) & (b >= 200) & (b <= 235)).sum())


def events(log: Path, name: str) -> list[dict]:
    return [e for e in read_events(log) if e.get("event") == name]


def wait_events(log: Path, name: str, count: int, app: subprocess.Popen, timeout: float = 30):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = events(log, name)
        if len(found) >= count:
            return found
        if app.poll() is not None:
            raise AssertionError(f"the tray app exited ({app.returncode}) before {count} {name}")
        time.sleep(0.05)
    raise AssertionError(f"{len(events(log, name))} of {count} '{name}' events after {timeout} s")


def wait_until_event(log: Path, name: str, match, app, timeout: float = 30) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in events(log, name) if match(e)]
        if found:
            return found[-1]
        if app.poll() is not None:
            raise AssertionError(f"the tray app exited ({app.returncode}) before {name}")
        time.sleep(0.05)
    raise AssertionError(f"no matching '{name}' event after {timeout} s: {events(log, name)[-3:]}")


def start_app(env: dict[str, str], chain: TipChain) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.tray_app",
            "--rpc",
            chain.node.ws_url,
            "--contract",
            chain.address,
            "--artist",
            chain.artist.address,
            "--chain-id",
            "1114",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop_app(app: subprocess.Popen[bytes]) -> None:
    app.send_signal(signal.SIGTERM)
    try:
        assert app.wait(20) == 0, app.stderr.read().decode() if app.stderr else ""
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()


async def test_three_tips_three_tray_messages_across_a_restart(
    xserver, tip_chain: TipChain, artifacts_dir: Path
) -> None:
    env = {**xserver.env, **{k: v for k, v in os.environ.items() if k.startswith("XDG_")}}
    log = log_path(env)
    fans = tip_chain.fans
    sent: list[str] = []

    app = start_app(env, tip_chain)
    try:
        ready = wait_events(log, "tray_ready", 1, app)[0]
        assert ready["tray_available"] is True and ready["tray_visible"] is True
        wait_events(log, "watcher_synced", 1, app)
        sent.append(await asyncio.to_thread(tip_chain.tip, fans[0], 10**18, "<b>first</b> & best"))
        wait_events(log, "tray_message", 1, app)
    finally:
        stop_app(app)

    # the studio is closed when the second tip lands
    sent.append(await asyncio.to_thread(tip_chain.tip, fans[1], 1, "one wei"))

    app = start_app(env, tip_chain)
    try:
        wait_events(log, "tray_message", 2, app)
        sent.append(await asyncio.to_thread(tip_chain.tip, fans[2], 25 * 10**16, ""))
        trays = wait_events(log, "tray_message", 3, app)
        entries = json.loads(wait_events(log, "feed_entries", 3, app)[-1]["entries"])
        on_chain = tip_chain.tipping.functions.tipped_total(tip_chain.artist.address).call()
        revenue = wait_until_event(
            log,
            "revenue",
            lambda e: e["count"] == 3 and e["tipped_total_wei"] == str(on_chain),
            app,
        )
        shot = artifacts_dir / "tips-tray.png"
        save_screen(shot, xserver.env)
        assert balloon_pixels(shot) > 2_000, "Qt's tray balloon is drawn next to the tray"
    finally:
        stop_app(app)

    # a third start after everything: nothing is shown again
    app = start_app(env, tip_chain)
    try:
        wait_events(log, "watcher_synced", 3, app)
    finally:
        stop_app(app)

    trays = events(log, "tray_message")
    assert [t["tx_hash"] for t in trays] == sent, "in order, each once"
    assert all(t["in_tray"] is True for t in trays)
    assert trays[0]["title"] == f"Tip from {fans[0].address[:6]}…{fans[0].address[-4:]}: 1 tCORE2"
    assert trays[0]["body"] == "‹b›first‹/b› & best"
    assert trays[1]["title"].endswith(": 0.000000000000000001 tCORE2")
    assert trays[2]["title"].endswith(": 0.25 tCORE2") and trays[2]["body"] == "No message"
    assert revenue["total_wei"] == str(10**18 + 1 + 25 * 10**16), "the dashboard matches"
    assert revenue["withdrawable_wei"] == revenue["total_wei"]
    assert len(entries) == 3
    assert entries[0].endswith("tipped 0.25 tCORE2")
    assert entries[1].endswith("tipped 0.000000000000000001 tCORE2\none wei")
    assert entries[2].endswith("tipped 1 tCORE2\n<b>first</b> & best")
