"""Chain benchmark: unlock time, one tip's sign-send-receipt latency, sustained tips/s.

Measures the path the studio takes: the wallet session (studio.wallet_session) prepares each
tip (gas estimate, fees, nonce), signs, sends and waits with its own polling (50 ms on the
local profile, 1 s on Core networks). Starts its own anvil (node_modules/.bin/anvil, chain id
1114, Shanghai, automine) on loopback and deploys the contracts. Prints one JSON object as
its last line:
  unlock_ms              keystore load + scrypt (n=2**18) decrypt, median of 3
  tip_receipt_ms         prepare + sign + send + receipt seen, median of 30, local polling
  tip_receipt_ms_p95     the same, 95th percentile
  tip_receipt_ms_core    the same with the 1 s polling of the Core profiles, median of 5
  tips_per_s             tips prepared and sent one after another by the session, over 200
Targets: a tip's receipt seen < 100 ms after anvil mines it (local); 50 tips/s.
"""

import asyncio
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import keyring.backend  # noqa: E402
from web3 import Web3  # noqa: E402

from bench.common import percentile, report  # noqa: E402
from chain import contracts  # noqa: E402
from chain.devnet import dev_accounts  # noqa: E402
from chain.networks import LOCAL_DEVNET, Network, connect, custom_network  # noqa: E402
from chain.wallet import KeyringVault, Wallet  # noqa: E402
from studio.wallet.session import WalletSession  # noqa: E402

ANVIL = ROOT / "node_modules" / ".bin" / "anvil"
TIPS_SUSTAINED = 200
CORE_SAMPLES = 5
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


async def bench_tips(url: str, workdir: Path) -> dict[str, float]:
    w3, network = connect(custom_network(url, 1114))
    accounts = dev_accounts()
    addresses = contracts.deploy_all(w3, accounts[0])
    artist = accounts[1].address
    wallet = Wallet(KeyringVault(MemoryKeyring()), scrypt_n=2**14)
    fan = wallet.import_private_key(accounts[3].key.hex(), "fan password")

    async def session_for(key: str, polling_network: Network) -> WalletSession:
        session = WalletSession(
            wallet, replace(polling_network, contracts=addresses), workdir / f"{key}.db"
        )
        session.select(fan)
        await session.unlock("fan password")
        await session.connect()
        return session

    async def one_tip(session: WalletSession) -> float:
        start = time.perf_counter()
        prepared = await session.prepare_tip(artist, 10**12, "bench")
        sent = await session.send(prepared)
        (await session.wait(sent.hash)).raise_for_status()
        return (time.perf_counter() - start) * 1000

    local = await session_for("local", replace(LOCAL_DEVNET, rpc_url=url, chain_id=1114))
    latencies = [await one_tip(local) for _ in range(TIP_SAMPLES)]
    start = time.perf_counter()
    sent_all = []
    for _ in range(TIPS_SUSTAINED):
        sent_all.append(await local.send(await local.prepare_tip(artist, 10**12, "bench")))
    (await local.wait(sent_all[-1].hash)).raise_for_status()
    elapsed = time.perf_counter() - start
    await local.close()

    core = await session_for("core", replace(network, key="core_testnet"))
    core_latencies = [await one_tip(core) for _ in range(CORE_SAMPLES)]
    await core.close()

    tipping = contracts.deployed(contracts.TIPPING, w3, addresses[contracts.TIPPING])
    tipped = tipping.functions.tipped_total(Web3.to_checksum_address(artist)).call()
    expected = (TIP_SAMPLES + TIPS_SUSTAINED + CORE_SAMPLES) * 10**12
    assert tipped == expected, "not every tip landed"
    return {
        "tip_receipt_ms": round(statistics.median(latencies), 2),
        "tip_receipt_ms_p95": round(percentile(latencies, 95), 2),
        "tip_receipt_ms_core": round(statistics.median(core_latencies), 2),
        "tips_per_s": round(TIPS_SUSTAINED / elapsed, 1),
        "tips": TIPS_SUSTAINED,
    }


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
                connect(custom_network(url, 1114))  # the node answers
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        figures = asyncio.run(bench_tips(url, workdir))
        result = {
            "unlock_ms": round(unlock_ms, 1),
            **figures,
            "node": "anvil --chain-id 1114 --hardfork shanghai (automine)",
            "path": "studio.wallet_session.WalletSession: prepare_tip, send, wait",
            "unlock_kdf": "scrypt n=2**18 r=8 p=1 (in-memory keyring)",
        }
    finally:
        node.terminate()
        node.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
    report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
