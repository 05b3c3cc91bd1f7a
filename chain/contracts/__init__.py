"""The three contracts: their sources (*.vy beside this file) and their compiled artifacts.

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
NAMES = (TIPPING, CONTENT_REGISTRY, TRACK_NFT)


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


def deploy_all(w3: Web3, account: LocalAccount) -> dict[str, str]:
    """Deploy registry, tipping and NFT (which points at the registry); returns their addresses."""
    registry = deploy(w3, CONTENT_REGISTRY, (), account)
    tipping = deploy(w3, TIPPING, (), account)
    nft = deploy(w3, TRACK_NFT, (registry.address,), account)
    return {TIPPING: tipping.address, CONTENT_REGISTRY: registry.address, TRACK_NFT: nft.address}
