"""anvil (npm @foundry-rs/anvil, from the project's node_modules) on loopback, as the tip tests
and bench/tips.py run it: Core testnet's chain id, Shanghai, silent."""

import time
from pathlib import Path

from web3 import Web3

ROOT = Path(__file__).resolve().parents[1]
ANVIL = ROOT / "node_modules" / ".bin" / "anvil"
ANVIL_CHAIN_ID = 1114


def anvil_command(port: int) -> list[str]:
    return [
        str(ANVIL), "--host", "127.0.0.1", "--port", str(port),
        "--chain-id", str(ANVIL_CHAIN_ID), "--hardfork", "shanghai", "--silent",
    ]  # fmt: skip


def wait_for_rpc(url: str, timeout: float = 30.0) -> Web3:
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 5}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            w3.eth.get_block_number()
            return w3
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"no JSON-RPC answer from {url} within {timeout} s")
