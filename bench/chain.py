"""Chain benchmark: unlock time, one tip's sign-send-receipt latency, sustained tips/s.

Starts its own anvil (node_modules/.bin/anvil, chain id 1114, Shanghai) on loopback and
deploys the contracts. Prints one JSON object as its last line:
  unlock_ms       keystore load + scrypt (n=2**18) decrypt, median of 3
  tip_receipt_ms  sign + send + receipt seen for one tip, median of 30 (automining anvil)
  tips_per_s      signed tips sent from one wallet, sustained over 400, all mined
Targets: receipt seen < 100 ms after anvil mines it; 200 signed tips/s.
"""

import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import keyring.backend  # noqa: E402
from web3 import Web3  # noqa: E402

from chain import contracts  # noqa: E402
from chain.devnet import dev_accounts  # noqa: E402
from chain.networks import connect, custom_network  # noqa: E402
from chain.transactions import TxManager  # noqa: E402
from chain.txstore import TxStore  # noqa: E402
from chain.wallet import KeyringVault, UnlockedKey, Wallet  # noqa: E402

ANVIL = ROOT / "node_modules" / ".bin" / "anvil"
TIPS_SUSTAINED = 400
TIP_SAMPLES = 30


class MemoryKeyring(keyring.backend.KeyringBackend):
    """In-process stand-in so the figure is the keystore work, not D-Bus round trips."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_unlock() -> float:
    wallet = Wallet(KeyringVault(MemoryKeyring()))  # standard work factor
    address = wallet.import_private_key("0x" + "11" * 32, "benchmark password")
    times = []
    for _ in range(3):
        start = time.perf_counter()
        wallet.unlock(address, "benchmark password")
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    if not ANVIL.exists():
        print(json.dumps({"error": f"anvil not found at {ANVIL}; run npm ci"}))
        return 1
    unlock_ms = bench_unlock()
    port = free_port()
    node = subprocess.Popen(
        [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--chain-id", "1114",
         "--hardfork", "shanghai", "--silent"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    workdir = Path(tempfile.mkdtemp(prefix="chain-bench-"))
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                w3, network = connect(custom_network(url, 1114))
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        accounts = dev_accounts()
        tipping_address = contracts.deploy_all(w3, accounts[0])[contracts.TIPPING]
        tipping = contracts.deployed(contracts.TIPPING, w3, tipping_address)
        fan = UnlockedKey(accounts[3])
        txs = TxManager(w3, network, TxStore(workdir / "tx.db"))
        artist = accounts[1].address
        prepared = txs.prepare_call(fan.address, tipping.functions.tip(artist, "bench"), 10**12)

        latencies = []
        for _ in range(TIP_SAMPLES):
            start = time.perf_counter()
            sent = txs.send(prepared, fan)
            txs.wait(sent.hash, confirmations=1, poll=0.002).raise_for_status()
            latencies.append((time.perf_counter() - start) * 1000)

        start = time.perf_counter()
        sent_all = [txs.send(prepared, fan) for _ in range(TIPS_SUSTAINED)]
        txs.wait(sent_all[-1].hash, confirmations=1, poll=0.002).raise_for_status()
        elapsed = time.perf_counter() - start
        tipped = tipping.functions.tipped_total(Web3.to_checksum_address(artist)).call()
        assert tipped == (TIP_SAMPLES + TIPS_SUSTAINED) * 10**12, "not every tip landed"
        result = {
            "unlock_ms": round(unlock_ms, 1),
            "tip_receipt_ms": round(statistics.median(latencies), 2),
            "tip_receipt_ms_p95": round(sorted(latencies)[int(len(latencies) * 0.95) - 1], 2),
            "tips_per_s": round(TIPS_SUSTAINED / elapsed, 1),
            "tips": TIPS_SUSTAINED,
            "node": "anvil --chain-id 1114 --hardfork shanghai (automine)",
            "unlock_kdf": "scrypt n=2**18 r=8 p=1 (in-memory keyring)",
        }
    finally:
        node.terminate()
        node.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
