"""The local chain on disk (chain.devnet_store): what a transaction costs, and what a restart
costs once the chain holds many.

Builds a devnet on a store in a temporary directory, deploys the contracts and sends N value
transfers as raw signed transactions through `Devnet.handle` (the JSON-RPC path the backend
serves), then closes it and opens it again, as a backend restart does. The same transfers
are sent to a devnet in memory for comparison. Prints one JSON object as its last line:
  transactions            N (argv[1], default 1000)
  tx_ms_disk / tx_ms_memory     median of one eth_sendRawTransaction (mined at once)
  tx_ms_disk_p95          95th percentile on disk
  reopen_ms               Devnet(store_path=...) on the store holding N+3 blocks
  store_mb                the store's size (main file + WAL) after N transactions
  first_receipt_ms        eth_getTransactionReceipt of the first transfer after the restart
                          (eth-tester reads blocks back from the head to find it)
  again_receipt_ms        the same once more (blocks now in the store's read cache)
  first_receipt_ms_memory the same on the devnet in memory
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import percentile, report  # noqa: E402
from chain.devnet import Devnet  # noqa: E402


def _send_transfers(devnet: Devnet, count: int) -> tuple[list[float], list[str]]:
    sender = devnet.accounts[1]
    base_fee = int(devnet.w3.eth.get_block("latest")["baseFeePerGas"])
    nonce = devnet.w3.eth.get_transaction_count(sender.address)
    times, hashes = [], []
    for i in range(count):
        tx = {
            "to": devnet.accounts[2].address,
            "value": 1,
            "gas": 21_000,
            "nonce": nonce + i,
            "chainId": devnet.chain_id,
            "maxFeePerGas": 4 * base_fee + 10**9,
            "maxPriorityFeePerGas": 10**9,
        }
        raw = "0x" + sender.sign_transaction(tx).raw_transaction.hex()
        request = {"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [raw]}
        started = time.perf_counter()
        reply = devnet.handle(request)
        times.append((time.perf_counter() - started) * 1000)
        if "error" in reply:
            raise RuntimeError(reply["error"])
        hashes.append(reply["result"])
    return times, hashes


def _receipt_ms(devnet: Devnet, tx_hash: str) -> float:
    """eth-tester finds a transaction by reading blocks back from the head."""
    request = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "eth_getTransactionReceipt",
        "params": [tx_hash],
    }
    started = time.perf_counter()
    receipt = devnet.handle(request)
    elapsed = (time.perf_counter() - started) * 1000
    assert receipt["result"]["status"] == "0x1"
    return elapsed


def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chain.sqlite"
        devnet = Devnet(store_path=path)
        devnet.deploy_contracts()
        disk_times, hashes = _send_transfers(devnet, count)
        block = devnet.block_number()
        devnet.close()
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())

        started = time.perf_counter()
        reopened = Devnet(store_path=path)
        reopen_ms = (time.perf_counter() - started) * 1000
        assert reopened.block_number() == block and reopened.contracts
        first_receipt_ms = _receipt_ms(reopened, hashes[0])
        again_receipt_ms = _receipt_ms(reopened, hashes[0])
        reopened.close()

    memory = Devnet()
    memory.deploy_contracts()
    memory_times, memory_hashes = _send_transfers(memory, count)
    memory_receipt_ms = _receipt_ms(memory, memory_hashes[0])
    report(
        {
            "bench": "devnet_store",
            "transactions": count,
            "tx_ms_disk": round(statistics.median(disk_times), 2),
            "tx_ms_disk_p95": round(percentile(disk_times, 95), 2),
            "tx_ms_memory": round(statistics.median(memory_times), 2),
            "reopen_ms": round(reopen_ms, 1),
            "store_mb": round(size / 2**20, 2),
            "first_receipt_ms": round(first_receipt_ms, 1),
            "again_receipt_ms": round(again_receipt_ms, 1),
            "first_receipt_ms_memory": round(memory_receipt_ms, 1),
        }
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
