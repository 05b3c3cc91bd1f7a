"""The whole studio as an artist runs it: real process under Xvfb with a tray host, its own
backend and devnet, the wallet's key in a real gnome-keyring. A fan tips three times through
the devnet's JSON-RPC; the studio shows three tray messages, in order, with the right amounts."""

import os
import shutil
import signal
import subprocess
import sys
import time
from decimal import Decimal

import httpx
import pytest
from eth_account import Account
from web3 import Web3

from chain import contracts
from harness.desktop import returning_artist
from harness.fan import send_tip
from tests.support.screenshot import save_screen
from tests.support.secret_service import SecretServiceSession, have_gnome_keyring
from tests.support.studio_process import log_path, read_events, start_studio, wait_for_event
from tests.support.xserver import xvfb_with_tray

pytestmark = [pytest.mark.xvfb, pytest.mark.slow]

# The devnet funds the standard test mnemonic's accounts (the same ones anvil uses).
ARTIST_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
FAN_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def desktop(tmp_path):
    if not have_gnome_keyring() or not shutil.which("dbus-daemon"):
        pytest.skip("gnome-keyring / dbus-daemon are not installed")
    keyring = SecretServiceSession(tmp_path / "keyring-home")
    keyring.start()
    try:
        with xvfb_with_tray() as xserver:
            env = {**xserver.env, **{k: v for k, v in os.environ.items() if k.startswith("XDG_")}}
            env["DBUS_SESSION_BUS_ADDRESS"] = keyring.address
            env["HOME"] = str(tmp_path / "keyring-home")
            returning_artist(env)
            yield env
    except FileNotFoundError as missing:
        pytest.skip(f"{missing} is not installed")
    finally:
        keyring.stop()


def import_artist_key(env: dict[str, str]) -> str:
    """What the Import dialog does, in a process on the same Secret Service."""
    code = (
        "import sys; from chain.wallet import Wallet; "
        "print(Wallet().import_private_key(sys.argv[1], sys.argv[2]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, ARTIST_KEY, PASSWORD],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert ARTIST_KEY[2:] not in done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_three_tips_raise_three_tray_messages_in_order(desktop, artifacts_dir):
    artist = import_artist_key(desktop)
    assert artist == Account.from_key(ARTIST_KEY).address

    studio = start_studio(desktop)
    log = log_path(desktop)
    try:
        shown = wait_for_event(log, "window_shown", process=studio)
        assert shown["tray_available"] is True
        backend = wait_for_event(log, "backend_started", timeout=60, process=studio)["url"]
        wait_for_event(log, "services_ready", timeout=60, process=studio)

        chain = httpx.get(f"{backend}/chain", timeout=10).json()
        w3 = Web3(Web3.HTTPProvider(f"{backend}{chain['rpc_path']}"))
        tipping = contracts.deployed("tipping", w3, chain["contracts"]["tipping"])
        fan = Account.from_key(FAN_KEY)
        amounts = [Web3.to_wei(Decimal("0.5"), "ether"), 1, Web3.to_wei(2, "ether")]
        messages = ["first!", "<b>not bold</b>", "x" * 10_000]
        for wei, text in zip(amounts, messages, strict=True):
            send_tip(w3, tipping, fan, artist, wei, text[:280], timeout=30)

        def tray_messages() -> list[dict]:
            return [e for e in read_events(log) if e.get("event") == "tray_message"]

        deadline = time.monotonic() + 30
        while len(tray_messages()) < 3 and time.monotonic() < deadline and studio.poll() is None:
            time.sleep(0.1)
        time.sleep(1.0)  # a repeat would show up here
        got = tray_messages()
        assert len(got) == 3, f"each tip once, none repeated: {got}"
        assert all(m["in_tray"] for m in got), "shown by the tray host, not only logged"
        bodies = [m["body"] for m in got]
        assert "0.5" in got[0]["body"] + got[0]["title"]
        assert "0.000000000000000001" in got[1]["body"] + got[1]["title"], "1 wei, exactly"
        # tray hosts may render markup: the tray text carries the words, never the tags
        assert "not bold" in bodies[1] and "<b>" not in bodies[1]

        shot = artifacts_dir / "studio-tips.png"
        save_screen(shot, desktop)
        studio.send_signal(signal.SIGTERM)
        assert studio.wait(timeout=30) == 0
    finally:
        if studio.poll() is None:
            studio.kill()
            studio.wait()
