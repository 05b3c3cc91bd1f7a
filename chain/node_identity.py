"""Which node, and which chain behind it: URLs fit for logs, and the instance id that a local
devnet changes whenever its chain is new (anvil and hardhat on every restart or reset; the
embedded chain.devnet when its store is new: it keeps its id across restarts)."""

from typing import Any
from urllib.parse import urlsplit

from aiohttp import ClientResponseError
from web3 import AsyncWeb3, Web3
from web3.exceptions import Web3Exception
from web3.types import RPCEndpoint

# devnets whose metadata call answers an `instanceId` that changes on every restart or reset,
# by the client name their web3_clientVersion starts with (other nodes are never asked: some
# answer an unknown method over a WebSocket in a way that closes the socket)
METADATA_METHOD_BY_CLIENT = {
    "anvil": "anvil_metadata",
    "hardhatnetwork": "hardhat_metadata",
    "ethereumtester": "harmonie_devnetMetadata",  # the studio's embedded devnet (chain.devnet)
}


def safe_url(url: str) -> str:
    """scheme://host[:port] only: RPC URLs often carry an API key in the path or query."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


async def metadata_method(w3: AsyncWeb3) -> str | None:
    """How this node tells its instance id, if it is a devnet that has one."""
    version = await raw_result(w3, "web3_clientVersion")
    client = version.split("/")[0].strip().lower() if isinstance(version, str) else ""
    method = METADATA_METHOD_BY_CLIENT.get(client)
    if method is None or await instance_id(w3, method) is None:
        return None
    return method


async def instance_id(w3: AsyncWeb3, method: str) -> str | None:
    result = await raw_result(w3, method)
    instance = result.get("instanceId") if isinstance(result, dict) else None
    return str(instance) if isinstance(instance, str) and instance else None


async def raw_result(w3: AsyncWeb3, method: str) -> Any:
    """A call some nodes lack: its result, or None for an error answer."""
    try:
        response = await w3.provider.make_request(RPCEndpoint(method), [])
    except (ClientResponseError, Web3Exception):  # e.g. a gateway's HTTP 4xx for it
        return None
    return response.get("result") if isinstance(response, dict) else None


def chain_identity(w3: Web3) -> tuple[str, str | None]:
    """(genesis hash, instance id or None) of the chain behind a blocking `w3`: what tells a
    local devnet started afresh (same chain id, same contract addresses) from the one before."""
    genesis = w3.eth.get_block(0)["hash"].to_0x_hex().lower()
    version = _sync_result(w3, "web3_clientVersion")
    client = version.split("/")[0].strip().lower() if isinstance(version, str) else ""
    method = METADATA_METHOD_BY_CLIENT.get(client)
    result = _sync_result(w3, method) if method else None
    instance = result.get("instanceId") if isinstance(result, dict) else None
    return genesis, instance.lower() if isinstance(instance, str) and instance else None


def _sync_result(w3: Web3, method: str) -> Any:
    try:
        response = w3.provider.make_request(RPCEndpoint(method), [])
    except Web3Exception:
        return None
    return response.get("result") if isinstance(response, dict) else None
