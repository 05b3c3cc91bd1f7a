"""Content registry gas: tracks registered one transaction each vs. one `register_many` batch.

Runs the compiled registry on the embedded devnet (py-evm, Shanghai: the rules of Core and of
the local profile) and reads gasUsed from the receipts; CIDs are real CIDv1 strings of the
length the studio registers (track and metadata). Prints one JSON object as its last line:
  separate_gas_<n>     n `register` transactions, gas summed
  batch_gas_<n>        one `register_many` of the same n tracks
  saving_pct_<n>       how much less the batch costs, in percent
for n = 1, 3 and 10.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import report  # noqa: E402
from chain import contracts  # noqa: E402
from chain.devnet import Devnet  # noqa: E402
from media.cid import bytes_cid  # noqa: E402

SIZES = (1, 3, 10)


def _gas(devnet: Devnet, call, sender) -> int:  # type: ignore[no-untyped-def]
    w3 = devnet.w3
    tx = call.build_transaction(
        {"from": sender.address, "nonce": w3.eth.get_transaction_count(sender.address)}
    )
    signed = sender.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1, receipt
    return int(receipt["gasUsed"])


def measure() -> dict[str, float]:
    devnet = Devnet()
    address = devnet.deploy_contracts()[contracts.CONTENT_REGISTRY]
    registry = contracts.deployed(contracts.CONTENT_REGISTRY, devnet.w3, address)
    # the registry's first track pays for its counter's first write: not a batch effect
    _gas(devnet, registry.functions.register(bytes_cid(b"warm-up"), ""), devnet.accounts[0])
    figures: dict[str, float] = {}
    for n in SIZES:
        # a fresh artist for each way, so both append to an empty track list of the same length
        first = 1 + 2 * SIZES.index(n)
        separate_artist, batch_artist = devnet.accounts[first : first + 2]
        tracks = [
            (bytes_cid(f"{way} track {n}.{i}".encode()), bytes_cid(f"{way} meta {n}.{i}".encode()))
            for way in ("separate", "batch")
            for i in range(n)
        ]
        separate, batch = tracks[:n], tracks[n:]
        figures[f"separate_gas_{n}"] = sum(
            _gas(devnet, registry.functions.register(cid, meta), separate_artist)
            for cid, meta in separate
        )
        figures[f"batch_gas_{n}"] = _gas(
            devnet,
            registry.functions.register_many([c for c, _ in batch], [m for _, m in batch]),
            batch_artist,
        )
        saved = 1 - figures[f"batch_gas_{n}"] / figures[f"separate_gas_{n}"]
        figures[f"saving_pct_{n}"] = round(100 * saved, 1)
    return figures


if __name__ == "__main__":
    report(measure())
