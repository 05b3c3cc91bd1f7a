"""The contracts: their sources (*.vy beside this file) and their compiled artifacts.

`load_artifact(name)` reads resources/contracts/<name>.json (ABI + bytecode);
`deployed(name, w3, address)` is a web3 contract object bound to an address;
`deploy(w3, name, args, account)` deploys one (devnet and tests).
"""

import json
from functools import cache
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "resources" / "contracts"

TIPPING = "tipping"
CONTENT_REGISTRY = "content_registry"
TRACK_NFT = "track_nft"
MARKETPLACE = "marketplace"
SUBSCRIPTIONS = "subscriptions"
NAMES = (TIPPING, CONTENT_REGISTRY, TRACK_NFT, MARKETPLACE, SUBSCRIPTIONS)


@cache
def _artifact_text(name: str) -> str:
    if name not in NAMES:
        raise KeyError(f"unknown contract '{name}'; known: {', '.join(NAMES)}")
    return (ARTIFACTS / f"{name}.json").read_text(encoding="utf-8")


def load_artifact(name: str) -> dict[str, Any]:
    """{"abi": [...], "bytecode": "0x...", "bytecodeRuntime": "0x...", ...} for `name`."""
    return json.loads(_artifact_text(name))


def abi(name: str) -> list[dict[str, Any]]:
    return load_artifact(name)["abi"]


def deployed(name: str, w3: Web3, address: str) -> Contract:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi(name))


def deploy(w3: Web3, name: str, args: tuple[Any, ...], account: LocalAccount) -> Contract:
    """Deploy `name` from `account` (signed locally, raw transaction) and wait for it."""
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    tx = factory.constructor(*args).build_transaction(
        {"from": account.address, "nonce": w3.eth.get_transaction_count(account.address, "pending")}
    )
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.05)
    if receipt["status"] != 1:
        raise RuntimeError(f"deploying {name} failed in transaction {tx_hash.to_0x_hex()}")
    return deployed(name, w3, receipt["contractAddress"])


def deploy_all(
    w3: Web3, account: LocalAccount, existing: dict[str, str] | None = None
) -> dict[str, str]:
    """Deploy every contract not in `existing` (name -> address, kept as they are) and return
    all their addresses. The NFT points at the registry; the marketplace at the NFT and, like
    the subscriptions, at the tipping contract, where each artist's split is set."""
    addresses = dict(existing or {})
    constructor_args = {
        CONTENT_REGISTRY: lambda: (),
        TIPPING: lambda: (),
        TRACK_NFT: lambda: (addresses[CONTENT_REGISTRY],),
        MARKETPLACE: lambda: (addresses[TRACK_NFT], addresses[TIPPING]),
        SUBSCRIPTIONS: lambda: (addresses[TIPPING],),
    }
    for name, args in constructor_args.items():  # in dependency order
        if name not in addresses:
            addresses[name] = deploy(w3, name, args(), account).address
    return {name: addresses[name] for name in NAMES}
