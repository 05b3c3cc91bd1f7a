"""Networks the studio can use, and connecting to one with its chain id verified.

Contract addresses come from configuration (a profile, the devnet's GET /chain), never from
call sites: `Network.contract_address(name)` raises a clear error when one is missing.
"""

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from chain.errors import ContractNotConfiguredError, RpcUnavailableError, WrongChainError

if TYPE_CHECKING:  # web3 costs seconds to import: the studio's window must not wait for it
    from web3 import Web3

RPC_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Network:
    key: str  # "mainnet" | "testnet" | "local" | "custom"
    name: str
    chain_id: int | None  # None: take whatever the node says (eth-tester's id cannot be set)
    rpc_url: str
    explorer_url: str | None = None
    symbol: str = "CORE"
    confirmations: int = 1
    contracts: dict[str, str] = field(default_factory=dict)
    faucet_url: str | None = None  # a public page that gives test coin (testnets only)

    def contract_address(self, name: str) -> str:
        address = self.contracts.get(name)
        if not address:
            raise ContractNotConfiguredError(
                f"No {name.replace('_', ' ')} contract is configured for {self.name}. "
                "Set its address in the profile's chain.contracts."
            )
        from eth_utils import to_checksum_address

        return to_checksum_address(address)

    def tx_url(self, tx_hash: str) -> str | None:
        return f"{self.explorer_url.rstrip('/')}/tx/{tx_hash}" if self.explorer_url else None

    def address_url(self, address: str) -> str | None:
        return f"{self.explorer_url.rstrip('/')}/address/{address}" if self.explorer_url else None

    def with_contracts(self, contracts: dict[str, str]) -> "Network":
        return replace(self, contracts={**self.contracts, **contracts})


CORE_MAINNET = Network(
    key="mainnet",
    name="Core",
    chain_id=1116,
    rpc_url="https://rpc.coredao.org",
    explorer_url="https://scan.coredao.org",
    symbol="CORE",
    confirmations=6,
)
CORE_TESTNET = Network(
    key="testnet",
    name="Core Testnet2",
    chain_id=1114,
    rpc_url="https://rpc.test2.btcs.network",
    explorer_url="https://scan.test2.btcs.network",
    symbol="tCORE2",
    confirmations=3,
    faucet_url="https://scan.test2.btcs.network/faucet",
)
LOCAL_DEVNET = Network(
    key="local",
    name="Local devnet",
    chain_id=None,
    rpc_url="",  # the local backend's /rpc, known once it has started
    symbol="DEV",
    confirmations=1,
)
NETWORKS: dict[str, Network] = {n.key: n for n in (CORE_MAINNET, CORE_TESTNET, LOCAL_DEVNET)}


def custom_network(
    rpc_url: str, chain_id: int | None, name: str = "Custom RPC", **kw: object
) -> Network:
    return Network(key="custom", name=name, chain_id=chain_id, rpc_url=rpc_url, **kw)  # type: ignore[arg-type]


def make_web3(rpc_url: str, timeout: float = RPC_TIMEOUT_S) -> "Web3":
    if not rpc_url:
        raise RpcUnavailableError("No RPC URL is set for this network.")
    from web3 import Web3

    return Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))


def node_chain_id(w3: "Web3", rpc_url: str) -> int:
    import requests
    from web3.exceptions import Web3Exception

    try:
        return int(w3.eth.chain_id)
    except (requests.RequestException, OSError, Web3Exception) as exc:
        raise RpcUnavailableError(
            f"Cannot reach the node at {rpc_url}: {type(exc).__name__}. "
            "Check your connection or the RPC URL in Settings."
        ) from None


def connect(network: Network, timeout: float = RPC_TIMEOUT_S) -> tuple["Web3", Network]:
    """A Web3 for `network`, after checking the node's chain id matches.

    Returns the network with `chain_id` filled in when it was open (local devnet).
    """
    w3 = make_web3(network.rpc_url, timeout)
    actual = node_chain_id(w3, network.rpc_url)
    if network.chain_id is not None and actual != network.chain_id:
        raise WrongChainError(network.chain_id, actual, network.rpc_url)
    return w3, replace(network, chain_id=actual)
