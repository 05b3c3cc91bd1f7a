"""The wallet as the window sees it: which account, on which network, locked or not.

Qt-free. Slow work (scrypt unlock, RPC calls) runs in a worker thread so the event loop
stays responsive. An unlock lasts `unlock_ttl_s` seconds, then the key is dropped; every
signing path checks the deadline first. Transactions go through chain.transactions.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
from eth_account.messages import encode_defunct
from web3 import Web3
from web3.exceptions import Web3Exception

from chain import contracts
from chain.describe import CallDescription, describe_call, format_native, short_address
from chain.errors import ChainError, WalletLockedError
from chain.networks import LOCAL_DEVNET, NETWORKS, Network, connect, custom_network
from chain.node_identity import chain_identity
from chain.transactions import PreparedTx, SentTx, TxManager, TxOutcome
from chain.txstore import PENDING, TxRecord, TxStore
from chain.wallet import (
    UnlockedKey,
    Wallet,
    confirm_words,
    confirmation_positions,
    new_mnemonic,
)
from studio.signals import Signal

# What the widgets need from the chain layer, so that they import studio only.
__all__ = [
    "NETWORKS",
    "CallDescription",
    "ChainError",
    "Network",
    "PreparedTx",
    "SentTx",
    "TxOutcome",
    "TxRecord",
    "WalletSession",
    "confirm_words",
    "confirmation_positions",
    "custom_network",
    "local_network",
    "network_for_profile",
    "new_mnemonic",
    "short_address",
]

log = logging.getLogger(__name__)

DEFAULT_UNLOCK_TTL_S = 300.0
# On the local chain a new or imported wallet holding less than LOW_BALANCE_WEI is sent
# START_COIN_WEI by the backend's faucet, so an artist can register and withdraw at once.
START_COIN_WEI = 10 * 10**18
LOW_BALANCE_WEI = 10**18
FAUCET_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ChainSeen:
    """The chain the session is connected to. `replaced` when it is not the chain this
    studio knew under the same chain id (a local devnet deleted or reset): what was done on
    the old one is gone with it; `previous_txs` says how many transactions were."""

    chain_id: int
    genesis: str
    instance: str | None
    replaced: bool = False
    previous_txs: int = 0


async def local_network(backend_url: str, timeout: float = 10.0) -> Network:
    """The local devnet as the backend describes it (GET /chain): RPC URL and contracts."""
    async with httpx.AsyncClient(timeout=timeout) as client:
        response = await client.get(f"{backend_url}/chain")
        response.raise_for_status()
        info = response.json()
    return replace(
        LOCAL_DEVNET,
        rpc_url=f"{backend_url}{info['rpc_path']}",
        chain_id=int(info["chain_id"]),
        contracts=dict(info["contracts"]),
    )


async def network_for_profile(chain: Any, backend_url: str | None) -> Network:
    """A Network for a profile's ChainConfig (studio.profiles): the embedded devnet is asked
    for its RPC path and contracts; Core networks keep their symbol and explorer."""
    if chain.rpc_url == "embedded":
        if not backend_url:
            raise ChainError("The local backend is not running, so the devnet is not either.")
        return await local_network(backend_url)
    known = next((n for n in NETWORKS.values() if n.chain_id == chain.chain_id), None)
    return Network(
        key=known.key if known else "custom",
        name=chain.name,
        chain_id=chain.chain_id,
        rpc_url=chain.rpc_url,
        explorer_url=chain.explorer_url,
        symbol=known.symbol if known else "ETH",
        confirmations=chain.confirmations,
        contracts=dict(chain.contracts),
        faucet_url=known.faucet_url if known else None,
    )


class WalletSession:
    def __init__(
        self,
        wallet: Wallet,
        network: Network,
        tx_db: Path,
        unlock_ttl_s: float = DEFAULT_UNLOCK_TTL_S,
        clock: Callable[[], float] = time.monotonic,
        faucet_url: str | None = None,
    ) -> None:
        self.wallet = wallet
        self.network = network
        # the local backend's POST /chain/faucet; used only while on the local network
        self.faucet_url = faucet_url
        self.tx_db = tx_db
        self.unlock_ttl_s = unlock_ttl_s
        self._clock = clock
        self._key: UnlockedKey | None = None
        self._unlocked_until = 0.0
        self.address: str | None = None
        self.w3: Web3 | None = None
        self.txs: TxManager | None = None
        self.changed = Signal()  # () whenever account, lock state or network changes
        self.tx_updated = Signal()  # (TxOutcome) when a followed transaction settles
        self.chain: ChainSeen | None = None  # the chain behind the network, once connected
        self.chain_seen = Signal()  # (ChainSeen) at every connect
        self._follows: set[asyncio.Task[Any]] = set()

    # ---- accounts and lock --------------------------------------------------------------

    async def accounts(self) -> list[str]:
        return await asyncio.to_thread(self.wallet.accounts)

    def select(self, address: str) -> None:
        if address != self.address:
            self.lock()
            self.address = Web3.to_checksum_address(address)
            self.changed.emit()

    @property
    def unlocked(self) -> bool:
        self.check_expiry()
        return self._key is not None

    @property
    def unlock_remaining_s(self) -> float:
        self.check_expiry()
        return max(0.0, self._unlocked_until - self._clock()) if self._key else 0.0

    def check_expiry(self) -> None:
        if self._key is not None and self._clock() >= self._unlocked_until:
            log.info("wallet session expired", extra={"event": "wallet_locked", "why": "expired"})
            self._key = None
            self.changed.emit()

    async def unlock(self, password: str) -> None:
        if self.address is None:
            raise ChainError("Choose or create a wallet first.")
        key = await asyncio.to_thread(self.wallet.unlock, self.address, password)
        self._key = key
        self._unlocked_until = self._clock() + self.unlock_ttl_s
        log.info("wallet unlocked", extra={"event": "wallet_unlocked", "address": key.address})
        self.changed.emit()

    def lock(self) -> None:
        if self._key is not None:
            self._key = None
            self.changed.emit()

    def sign_text(self, text: str) -> str:
        """EIP-191 personal_sign of `text` (a Sign-In with Ethereum message), as 0x-hex."""
        return "0x" + self._signer().sign_message(encode_defunct(text=text)).hex()

    def _signer(self) -> UnlockedKey:
        self.check_expiry()
        if self._key is None:
            raise WalletLockedError("The wallet is locked: unlock it with your password to sign.")
        return self._key

    # ---- network ------------------------------------------------------------------------

    async def connect(self, network: Network | None = None) -> Network:
        """Connect (chain id checked), open the transaction store, settle what was pending."""
        target = network or self.network
        w3, connected = await asyncio.to_thread(connect, target)
        store = TxStore(self.tx_db)
        if self.txs is not None:
            self.txs.store.close()
        self.w3, self.network = w3, connected
        self.txs = TxManager(w3, connected, store)
        await self._adopt_chain(w3, store)
        if self.address:
            outcomes = await asyncio.to_thread(self.txs.resume, self.address)
            for outcome in outcomes:
                if outcome.status == PENDING:
                    self._follow(outcome.hash)
        self.changed.emit()
        return connected

    async def _adopt_chain(self, w3: Web3, store: TxStore) -> None:
        """Which chain this is; transactions of a chain that is gone are marked so (before
        anything pending is resumed: on a new chain it would never confirm)."""
        try:
            genesis, instance = await asyncio.to_thread(chain_identity, w3)
        except (Web3Exception, OSError) as exc:
            log.warning("cannot tell which chain the node is on: %s", exc)
            self.chain = None
            return
        chain_id = self.network.chain_id
        marked = await asyncio.to_thread(store.adopt_chain, chain_id, genesis, instance)
        self.chain = ChainSeen(chain_id, genesis, instance, marked is not None, marked or 0)
        self.chain_seen.emit(self.chain)

    def _manager(self) -> TxManager:
        if self.txs is None:
            raise ChainError("Not connected to a network yet.")
        return self.txs

    async def balance(self) -> int:
        if self.address is None:
            return 0
        manager = self._manager()
        return await asyncio.to_thread(manager._call, manager.w3.eth.get_balance, self.address)

    def format(self, wei: int) -> str:
        return format_native(wei, self.network.symbol)

    def explorer_tx_url(self, tx_hash: str) -> str | None:
        return self.network.tx_url(tx_hash)

    def explorer_address_url(self) -> str | None:
        return self.network.address_url(self.address) if self.address else None

    # ---- transactions -------------------------------------------------------------------

    def contract(self, name: str) -> Any:
        manager = self._manager()
        return contracts.deployed(name, manager.w3, self.network.contract_address(name))

    async def prepare_call(
        self, name: str, function: str, *args: Any, value: int = 0
    ) -> PreparedTx:
        if self.address is None:
            raise ChainError("Choose or create a wallet first.")
        call = getattr(self.contract(name).functions, function)(*args)
        description = self.describe_call(call.address, call._encode_transaction_data(), value)
        manager = self._manager()
        return await asyncio.to_thread(
            manager.prepare_call, self.address, call, value, description.summary
        )

    async def in_flight_call(self, name: str, function: str, *args: Any) -> TxRecord | None:
        """Our pending transaction making this very call, once the store is reconciled with
        the chain (None when there is none, or the node lost it): an action resumed after a
        crash follows it instead of sending the call a second time."""
        if self.address is None:
            return None
        call = getattr(self.contract(name).functions, function)(*args)
        manager = self._manager()
        return await asyncio.to_thread(
            manager.in_flight, self.address, call.address, call._encode_transaction_data()
        )

    async def prepare_tip(self, artist: str, wei: int, message: str = "") -> PreparedTx:
        return await self.prepare_call(contracts.TIPPING, "tip", artist, message, value=wei)

    def describe(self, prepared: PreparedTx) -> CallDescription:
        return self.describe_call(prepared.to, prepared.data, prepared.value)

    def describe_call(self, to: str, data: str | bytes, value: int) -> CallDescription:
        return describe_call(self.network, to, data, value)

    async def send(self, prepared: PreparedTx) -> SentTx:
        signer = self._signer()
        sent = await asyncio.to_thread(self._manager().send, prepared, signer)
        self._follow(sent.hash)
        self.changed.emit()
        return sent

    async def speed_up(self, tx_hash: str) -> SentTx:
        sent = await asyncio.to_thread(self._manager().speed_up, tx_hash, self._signer())
        self._follow(tx_hash)
        self.changed.emit()
        return sent

    async def cancel(self, tx_hash: str) -> SentTx:
        sent = await asyncio.to_thread(self._manager().cancel, tx_hash, self._signer())
        self._follow(tx_hash)
        self.changed.emit()
        return sent

    async def wait(self, tx_hash: str, timeout: float = 120.0) -> TxOutcome:
        manager = self._manager()
        poll = 0.05 if self.network.key == "local" else 1.0
        return await asyncio.to_thread(manager.wait, tx_hash, None, timeout, poll)

    def recent(self, limit: int = 20) -> list[TxRecord]:
        if self.txs is None or self.address is None:
            return []
        return self.txs.recent(self.address, limit)

    def _follow(self, tx_hash: str) -> None:
        async def follow() -> None:
            try:
                outcome = await self.wait(tx_hash, timeout=600.0)
            except ChainError as exc:
                log.warning("following %s stopped: %s", tx_hash, exc)
                return
            self.tx_updated.emit(outcome)
            self.changed.emit()

        try:
            task = asyncio.get_running_loop().create_task(follow())
        except RuntimeError:  # no loop (a plain script): the caller waits itself
            return
        self._follows.add(task)
        task.add_done_callback(self._follows.discard)

    async def close(self) -> None:
        for task in list(self._follows):
            task.cancel()
        await asyncio.gather(*self._follows, return_exceptions=True)
        self.lock()
        if self.txs is not None:
            self.txs.store.close()
            self.txs = None

    # ---- test coin (local chain) ---------------------------------------------------------

    @property
    def test_coin_available(self) -> bool:
        """Whether `get_test_coin` can fund the wallet: on the local chain only."""
        return self.faucet_url is not None and self.network.key == LOCAL_DEVNET.key

    async def get_test_coin(self, wei: int = START_COIN_WEI) -> str:
        """Have the local backend's faucet send `wei` to the selected wallet; the devnet mines
        it at once. Returns the transaction hash; ChainError with the reason otherwise."""
        if not self.test_coin_available or self.faucet_url is None:
            raise ChainError(f"There is no test coin faucet on {self.network.name}.")
        if self.address is None:
            raise ChainError("Choose a wallet first.")
        try:
            async with httpx.AsyncClient(timeout=FAUCET_TIMEOUT_S) as client:
                response = await client.post(
                    self.faucet_url, json={"address": self.address, "wei": wei}
                )
            if response.is_error:
                raise ChainError(
                    f"The local faucet refused ({response.status_code}): {response.text[:200]}"
                )
            tx_hash = str(response.json()["tx_hash"])
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise ChainError(f"The local faucet could not be reached: {exc}") from exc
        log.info("test coin received", extra={"event": "faucet_funded", "tx": tx_hash})
        self.changed.emit()
        return tx_hash

    async def _fund_if_empty(self) -> None:
        """A new or imported wallet on the local chain gets coin to start. Never fails the
        creation or import: without coin the artist can still press "Get test coin"."""
        if not self.test_coin_available:
            return
        try:
            if await self.balance() < LOW_BALANCE_WEI:
                await self.get_test_coin()
        except ChainError as exc:
            log.warning("no coin to start for the new wallet: %s", exc)

    # ---- wallet management (the dialogs) -------------------------------------------------

    async def create_from_mnemonic(self, phrase: str, password: str) -> str:
        address = await asyncio.to_thread(self.wallet.create_from_mnemonic, phrase, password)
        return await self._take_up(address, password)

    async def import_private_key(self, key_text: str, password: str) -> str:
        address = await asyncio.to_thread(self.wallet.import_private_key, key_text, password)
        return await self._take_up(address, password)

    async def import_keystore(self, keystore_json: str, password: str) -> str:
        address = await asyncio.to_thread(self.wallet.import_keystore, keystore_json, password)
        return await self._take_up(address, password)

    async def _take_up(self, address: str, password: str) -> str:
        """A wallet just created or imported is selected and unlocked (the artist has just
        typed its password: asking again, or showing "Locked", would be wrong), then funded."""
        self.select(address)
        await self.unlock(password)
        await self._fund_if_empty()
        return address

    async def export_keystore(self, password: str) -> str:
        if self.address is None:
            raise ChainError("Choose a wallet first.")
        return await asyncio.to_thread(self.wallet.export_keystore, self.address, password)
