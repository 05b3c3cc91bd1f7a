"""The studio's window with a wallet in it: a real X server with a tray host, a real
gnome-keyring on a private bus, the studio's own local backend and devnet."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import subprocess
import sys

from eth_account import Account
from web3 import Web3

from chain import contracts
from harness.fan import send_tip
from tests.journeys.test_studio_tips import FAN_KEY, desktop  # noqa: F401 - a fixture

PASSWORD = "correct horse battery staple"


def import_key(env: dict[str, str], key: str) -> str:
    """What the Import dialog does, in a process on the test's Secret Service."""
    code = (
        "import sys; from chain.wallet import Wallet; "
        "print(Wallet().import_private_key(sys.argv[1], sys.argv[2]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, key, PASSWORD],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    address = done.stdout.strip().splitlines()[-1]
    assert address == Account.from_key(key).address
    return address


def tip(rpc_url: str, tipping_address: str, artist: str, wei: int, text: str) -> None:
    """A fan's tip through the devnet's JSON-RPC, mined before this returns."""
    w3 = Web3(Web3.HTTPProvider(rpc_url))
    tipping = contracts.deployed(contracts.TIPPING, w3, tipping_address)
    send_tip(w3, tipping, Account.from_key(FAN_KEY), artist, wei, text, timeout=30)
