"""The whole studio as an artist runs it (real process under Xvfb with a tray host, its own
backend and devnet, the key in a real gnome-keyring): Withdraw with no coin for the fee.

One click shows one message, never a storm; the tip watcher still shows a later tip; and
the studio and its backend end at once, from the menu's Quit or on SIGTERM, with that
message still open."""

import signal
import subprocess
import sys
import time

import httpx
import pytest
from eth_account import Account
from web3 import Web3

from tests.support.studio_process import ROOT, log_path, pid_alive, read_events, wait_for_event
from tests.window_wallet.conftest import PASSWORD, import_key, tip

pytestmark = [pytest.mark.xvfb, pytest.mark.slow]

QUIT_DEADLINE_S = 5.0  # the studio's promise (widgets.app.QUIT_DEADLINE_S)
SETTLE_S = 6.0  # longer than the studio's 5 s health check: a storm would add a box by then


def events(log, name: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return [e for e in read_events(log) if e.get("event") == name]


def wait_for_count(log, name: str, count: int, process, timeout: float = 60) -> list[dict]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = events(log, name)
        if len(found) >= count:
            return found
        assert process.poll() is None, f"the studio exited ({process.returncode})"
        time.sleep(0.1)
    raise AssertionError(f"{len(events(log, name))} of {count} '{name}' after {timeout} s")


@pytest.mark.parametrize("quit_by", ["menu", "sigterm"])
def test_withdraw_without_coin_for_the_fee_shows_one_message(desktop, quit_by):
    artist = import_key(desktop, Account.create().key.hex())  # a new account: 0 coin
    studio = subprocess.Popen(
        [sys.executable, "-m", "tests.window_wallet.studio_driver", "--password", PASSWORD],
        env=desktop, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    log = log_path(desktop)
    try:
        backend = wait_for_event(log, "backend_started", timeout=90, process=studio)
        wait_for_event(log, "services_ready", timeout=90, process=studio)
        chain = httpx.get(f"{backend['url']}/chain", timeout=10).json()
        rpc = f"{backend['url']}{chain['rpc_path']}"
        tipping = chain["contracts"]["tipping"]
        assert Web3(Web3.HTTPProvider(rpc)).eth.get_balance(artist) == 0

        tip(rpc, tipping, artist, 10**18, "first")
        wait_for_event(log, "driver_clicked_withdraw", timeout=60, process=studio)
        first = wait_for_count(log, "driver_message_box", 1, studio)[0]
        assert first["title"] == "Withdrawal failed"
        assert "network fee" in first["text"], first["text"]

        tip(rpc, tipping, artist, 2 * 10**17, "later")
        shown = wait_for_count(log, "tray_message", 2, studio)
        assert "0.2" in shown[1]["title"] + shown[1]["body"], "the later tip still shows"
        time.sleep(max(0.0, first["ts"] + SETTLE_S - time.time()))
        boxes = events(log, "driver_message_box")
        assert len(boxes) == 1, f"one click, one message: {boxes}"

        asked = time.monotonic()
        if quit_by == "menu":
            studio.send_signal(signal.SIGUSR1)  # the driver chooses File > Quit
        else:
            studio.send_signal(signal.SIGTERM)
        try:
            code = studio.wait(timeout=QUIT_DEADLINE_S + 2)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the studio was still running {QUIT_DEADLINE_S + 2} s after {quit_by}")
        took = time.monotonic() - asked
        assert code == 0, f"a clean quit, not the watchdog's (exit {code})"
        assert not pid_alive(backend["pid"]), "the backend ends with the studio"
        done = events(log, "quit_done")
        assert done and events(log, "quitting")[0]["dialogs_closed"] == 1
        print(f"quit by {quit_by}: process gone {took:.2f} s after the request")
    finally:
        if studio.poll() is None:
            studio.kill()
            studio.wait()
