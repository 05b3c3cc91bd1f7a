"""Follows the tipping contract's `Tipped` events for one artist, without missing or repeating.

How it stays correct:
- Every pass reads the chain from the persistent cursor (last processed block) to the head,
  so a restart or a reconnect resumes exactly where it stopped. A block's tips, its hash and
  the cursor are committed together.
- Near the head it goes block by block and checks each block's parent hash against the hash
  it remembered: a mismatch (reorg), or a head whose hash changed at a remembered height (a
  node that rewound), rolls the cursor back to the last block both chains share; tips above
  it become "dropped" and the blocks are scanned again. A node whose head is merely behind
  ours (a lagging load-balanced node) is waited for, not treated as a reorg.
- Whenever the node's chain does not match what we remember (a head below our cursor at an
  unknown or different hash, a different block at our cursor), and on every pass against a
  devnet that reports an instance id, it checks which chain the node is on: a new genesis or
  a new devnet instance (a local devnet restarted fresh behind the same URL, with the same
  chain id, contract address and even transaction hashes) is a new chain, watched afresh,
  not a lagging node nor a reorg.
- A tip is "pending" until `confirmations` blocks (its own included) are on top of the chain
  as we saw it, then "confirmed".
- Over `ws://` / `wss://` a newHeads subscription wakes it the moment a block lands (with a
  slow poll as a safety net); over HTTP it polls.

Event data is decoded by hand (the message as UTF-8 with replacement): a fan can put any
bytes in the message through raw calldata, and that must not stop the watcher.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import ClientResponseError
from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address
from web3 import AsyncHTTPProvider, AsyncWeb3, WebSocketProvider
from web3.exceptions import BlockNotFound, Web3Exception
from web3.types import RPCEndpoint

from studio.logs import event
from studio.signals import Signal
from studio.tip_store import CONFIRMED, DROPPED, PENDING, Tip, TipStore, watch_scope

log = logging.getLogger(__name__)

TIPPED_TOPIC = "0x" + keccak(text="Tipped(address,address,uint256,string)").hex()
RPC_TIMEOUT_S = 10.0
MAX_BACKOFF_S = 10.0
MAX_REWINDS_PER_PASS = 4
# devnets whose metadata call answers an `instanceId` that changes on every restart or reset,
# by the client name their web3_clientVersion starts with (other nodes are never asked: some
# answer an unknown method over a WebSocket in a way that closes the socket)
METADATA_METHOD_BY_CLIENT = {
    "anvil": "anvil_metadata",
    "hardhatnetwork": "hardhat_metadata",
    "ethereumtester": "harmonie_devnetMetadata",  # the studio's embedded devnet (chain.devnet)
}


class WrongChainError(Exception):
    pass


@dataclass(frozen=True)
class WatchTarget:
    rpc_url: str
    contract: str
    artist: str
    confirmations: int = 1
    chain_id: int | None = None  # checked against the node when set

    @property
    def uses_websocket(self) -> bool:
        return self.rpc_url.startswith(("ws://", "wss://"))


def safe_url(url: str) -> str:
    """scheme://host[:port] only: RPC URLs often carry an API key in the path or query."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def _topic_address(address: str) -> str:
    return "0x" + "00" * 12 + to_checksum_address(address)[2:].lower()


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value).lower()
    return text if text.startswith("0x") else "0x" + text


def decode_tipped(log_entry: Any, timestamp: int, status: str = PENDING) -> Tip:
    """A `Tipped` log -> Tip. Raises ValueError when the log is not a well-formed Tipped."""
    topics = [_hex(t) for t in log_entry["topics"]]
    if len(topics) != 3 or topics[0] != TIPPED_TOPIC:
        raise ValueError("not a Tipped event")
    data = log_entry["data"]
    raw = bytes(data) if isinstance(data, bytes | bytearray) else bytes.fromhex(_hex(data)[2:])
    # string and bytes share one ABI encoding; decoding as bytes tolerates invalid UTF-8
    amount, message = abi_decode(["uint256", "bytes"], raw)
    return Tip(
        tx_hash=_hex(log_entry["transactionHash"]),
        log_index=int(log_entry["logIndex"]),
        block_number=int(log_entry["blockNumber"]),
        block_hash=_hex(log_entry["blockHash"]),
        timestamp=int(timestamp),
        artist=to_checksum_address("0x" + topics[1][-40:]),
        fan=to_checksum_address("0x" + topics[2][-40:]),
        amount_wei=int(amount),
        message=message.decode("utf-8", errors="replace"),
        status=status,
    )


class TipWatcher:
    """Signals (plain callbacks, emitted on the asyncio loop):

    - `tip_seen(tip)`: a tip seen for the first time (pending or already confirmed)
    - `tip_changed(tip)`: a known tip changed status (confirmed, dropped, back in a block)
    - `state_changed(state, detail)`: "connecting" | "watching" | "reconnecting" | "error"
    - `synced(head)`: after each pass over the chain
    """

    def __init__(
        self,
        target: WatchTarget,
        store: TipStore,
        *,
        poll_interval_s: float = 0.5,
        websocket_fallback_poll_s: float = 5.0,
        history_blocks: int = 200_000,
        start_block: int | None = None,
        log_chunk: int = 2_000,
        reorg_window: int | None = None,
    ) -> None:
        self.target = target
        self.store = store
        self.poll_interval_s = poll_interval_s
        self.websocket_fallback_poll_s = websocket_fallback_poll_s
        self.history_blocks = history_blocks
        self.start_block = start_block
        self.log_chunk = log_chunk
        self.confirmations = max(1, target.confirmations)
        self.reorg_window = reorg_window or max(32, 2 * self.confirmations)
        self.contract = to_checksum_address(target.contract)
        self.artist = to_checksum_address(target.artist)
        self.scope: str | None = (
            watch_scope(target.chain_id, self.contract, self.artist) if target.chain_id else None
        )
        self.tip_seen = Signal()
        self.tip_changed = Signal()
        self.state_changed = Signal()
        self.synced = Signal()
        self.state = "stopped"
        self.head: int | None = None
        self.passes = 0
        self._task: asyncio.Task[None] | None = None
        self._metadata_method: str | None = None  # how this node tells its instance id

    # -- lifetime -----------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="tip-watcher")
        return self._task

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._set_state("stopped")

    async def run(self) -> None:
        """Watch until cancelled; connection errors are retried with a capped backoff."""
        backoff = 0.25
        while True:
            self._set_state("connecting")
            passes_before = self.passes
            try:
                if self.target.uses_websocket:
                    await self._run_websocket()
                else:
                    await self._run_polling()
            except asyncio.CancelledError:
                raise
            except WrongChainError as exc:
                self._set_state("error", str(exc))
                await asyncio.sleep(MAX_BACKOFF_S)
                continue
            except Exception as exc:  # node down, socket dropped, bad answer: reconnect
                detail = f"{type(exc).__name__} from {safe_url(self.target.rpc_url)}"
                log.warning("tip watcher lost the node: %s", detail)
                self._set_state("reconnecting", detail)
            if self.passes > passes_before:  # it had worked: retry quickly, then back off
                backoff = 0.25
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _set_state(self, state: str, detail: str = "") -> None:
        if state != self.state:
            self.state = state
            event(log, "tip_watcher_state", state=state, detail=detail)
            self.state_changed.emit(state, detail)

    # -- transports ---------------------------------------------------------------------------

    async def _run_polling(self) -> None:
        w3 = AsyncWeb3(
            AsyncHTTPProvider(self.target.rpc_url, request_kwargs={"timeout": RPC_TIMEOUT_S})
        )
        try:
            await self._prepare(w3)
            while True:
                await self.sync_once(w3)
                await asyncio.sleep(self.poll_interval_s)
        finally:
            with contextlib.suppress(Exception):
                await w3.provider.disconnect()

    async def _run_websocket(self) -> None:
        provider = WebSocketProvider(self.target.rpc_url, request_timeout=RPC_TIMEOUT_S)
        async with AsyncWeb3(provider) as w3:
            await self._prepare(w3)
            wake = asyncio.Event()
            reader: asyncio.Task[None] | None = None
            try:
                await w3.eth.subscribe("newHeads")
                reader = asyncio.create_task(self._read_heads(w3, wake))
                fallback = self.websocket_fallback_poll_s
            except (Web3Exception, ValueError) as exc:  # the node has no subscriptions: poll
                log.info("newHeads subscription refused (%s); polling over the socket", exc)
                fallback = self.poll_interval_s
            try:
                while True:
                    await self.sync_once(w3)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), timeout=fallback)
                    wake.clear()
                    if reader is not None and reader.done():
                        reader.result()  # re-raises why the socket stopped
                        raise ConnectionError("the node closed the newHeads subscription")
            finally:
                if reader is not None:
                    reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await reader

    @staticmethod
    async def _read_heads(w3: AsyncWeb3, wake: asyncio.Event) -> None:
        try:
            async for _message in w3.socket.process_subscriptions():
                wake.set()
        finally:
            wake.set()  # wake the loop so it notices the reader ended

    async def _prepare(self, w3: AsyncWeb3) -> None:
        chain_id = int(await w3.eth.chain_id)
        if self.target.chain_id is not None and chain_id != self.target.chain_id:
            raise WrongChainError(
                f"The node at {safe_url(self.target.rpc_url)} is on chain {chain_id}, "
                f"not the expected chain {self.target.chain_id}."
            )
        self.scope = watch_scope(chain_id, self.contract, self.artist)
        self._metadata_method = await self._find_metadata_method(w3)
        await self._adopt_node_chain(w3)

    async def _adopt_node_chain(self, w3: AsyncWeb3) -> bool:
        """Tell the store which chain the node is on; True if that was another chain than
        the one the stored tips came from (they are forgotten: watch afresh)."""
        scope = self.scope
        assert scope is not None
        genesis = _hex((await w3.eth.get_block(0))["hash"])
        instance = None
        if self._metadata_method is not None:
            instance = await self._instance_id(w3, self._metadata_method)
        if not self.store.adopt_chain(scope, genesis, instance):
            return False
        event(log, "tip_chain_reset", scope=scope)
        return True

    @classmethod
    async def _find_metadata_method(cls, w3: AsyncWeb3) -> str | None:
        """How this node tells its instance id, if it is a devnet that has one."""
        version = await cls._raw_result(w3, "web3_clientVersion")
        client = version.split("/")[0].strip().lower() if isinstance(version, str) else ""
        method = METADATA_METHOD_BY_CLIENT.get(client)
        if method is None or await cls._instance_id(w3, method) is None:
            return None
        return method

    @classmethod
    async def _instance_id(cls, w3: AsyncWeb3, method: str) -> str | None:
        result = await cls._raw_result(w3, method)
        instance = result.get("instanceId") if isinstance(result, dict) else None
        return str(instance) if isinstance(instance, str) and instance else None

    @staticmethod
    async def _raw_result(w3: AsyncWeb3, method: str) -> Any:
        """A call some nodes lack: its result, or None for an error answer."""
        try:
            response = await w3.provider.make_request(RPCEndpoint(method), [])
        except (ClientResponseError, Web3Exception):  # e.g. a gateway's HTTP 4xx for it
            return None
        return response.get("result") if isinstance(response, dict) else None

    async def _chain_may_have_changed(
        self, w3: AsyncWeb3, head: int, head_hash: str, cursor: int
    ) -> bool:
        """Whether the node's chain disagrees with what we remember in a way a lagging node
        would not explain, so it is worth asking which chain the node is on."""
        if self._metadata_method is not None:
            return True  # a devnet: a restart may rebuild identical blocks; ask every pass
        scope = self.scope
        assert scope is not None
        if head < cursor:
            known = self.store.block_hash(scope, head)
            # a lagging node agrees with us at its head; one we know nothing of may be a new chain
            return known != head_hash
        known = self.store.block_hash(scope, cursor)
        if known is None:
            return False
        if head == cursor:
            return known != head_hash
        with contextlib.suppress(BlockNotFound):
            block = await w3.eth.get_block(cursor)
            return block is not None and _hex(block["hash"]) != known
        return False

    # -- one pass -----------------------------------------------------------------------------

    async def sync_once(self, w3: AsyncWeb3) -> None:
        """Bring the store up to the node's head (or as far as the node consistently lets us)."""
        await self._sync(w3)
        self.passes += 1

    async def _sync(self, w3: AsyncWeb3) -> None:
        assert self.scope is not None, "call _prepare first"
        scope = self.scope
        latest = await w3.eth.get_block("latest")
        head, head_hash = int(latest["number"]), _hex(latest["hash"])
        cursor = self.store.cursor(scope)
        if cursor is not None and await self._chain_may_have_changed(w3, head, head_hash, cursor):
            await self._adopt_node_chain(w3)
            cursor = self.store.cursor(scope)  # None if the node is on a new chain: afresh
        if cursor is None:
            first = self.start_block if self.start_block is not None else head - self.history_blocks
            cursor = max(0, first) - 1
            self.store.set_cursor(scope, cursor)

        known = self.store.block_hash(scope, head)
        if head < cursor:
            if known is None or known == head_hash:
                return  # this node is behind us: wait for it rather than rewind
            cursor = await self._rewind(w3, head)
        elif head == cursor and known is not None and known != head_hash:
            cursor = await self._rewind(w3, head)
        self._set_state("watching")

        deep_end = head - self.reorg_window
        while cursor < deep_end:
            cursor = await self._scan_range(w3, cursor + 1, min(cursor + self.log_chunk, deep_end))

        rewinds = 0
        number = cursor + 1
        while number <= head:
            block = latest if number == head else await self._block_below_head(w3, number)
            if block is None:
                break  # the node does not have it (yet): next pass
            parent_known = self.store.block_hash(scope, number - 1)
            if parent_known is not None and parent_known != _hex(block["parentHash"]):
                rewinds += 1
                if rewinds > MAX_REWINDS_PER_PASS:
                    break
                number = await self._rewind(w3, number - 1) + 1
                continue
            if not await self._scan_block(w3, block):
                break
            number += 1

        self.head = head
        # confirmations count only blocks this pass linked by parent hash, not the node's word
        self._confirm_pending(self.store.cursor(scope) or 0)
        self.synced.emit(head)

    @staticmethod
    async def _block_below_head(w3: AsyncWeb3, number: int) -> Any:
        """A block the head says exists; behind a load balancer one node may not have it yet,
        so ask again (likely another node) before leaving it to the next pass."""
        for _attempt in range(3):
            with contextlib.suppress(BlockNotFound):
                block = await w3.eth.get_block(number)
                if block is not None:
                    return block
        return None

    async def _scan_block(self, w3: AsyncWeb3, block: Any) -> bool:
        scope = self.scope
        assert scope is not None
        number, block_hash = int(block["number"]), _hex(block["hash"])
        try:
            logs = await w3.eth.get_logs(
                {
                    "blockHash": block_hash,
                    "address": self.contract,
                    "topics": [TIPPED_TOPIC, _topic_address(self.artist)],
                }
            )
        except Web3Exception as exc:  # the block left the chain between two calls: next pass
            log.info("logs of block %s unavailable (%s); retrying", number, exc)
            return False
        status = CONFIRMED if self.confirmations <= 1 else PENDING
        tips = self._decode_all(logs, int(block["timestamp"]), status)
        with self.store.transaction() as db:
            new, changed = self._store_tips(tips, db)
            self.store.remember_block(scope, number, block_hash, db)
            self.store.set_cursor(scope, number, db)
            self.store.forget_blocks(scope, below=number - self.reorg_window, db=db)
        self._announce(new, changed)
        return True

    async def _scan_range(self, w3: AsyncWeb3, first: int, last: int) -> int:
        """Deep blocks (past the reorg window) by range; returns the last block covered."""
        scope = self.scope
        assert scope is not None
        try:
            logs = await w3.eth.get_logs(
                {
                    "fromBlock": first,
                    "toBlock": last,
                    "address": self.contract,
                    "topics": [TIPPED_TOPIC, _topic_address(self.artist)],
                }
            )
        except Web3Exception:
            if last == first:
                raise
            # nodes cap range queries (blocks or results): halve and let the caller go on
            self.log_chunk = max(1, (last - first + 1) // 2)
            return first - 1
        times: dict[int, int] = {}
        for entry in logs:
            number = int(entry["blockNumber"])
            if number not in times:
                times[number] = int((await w3.eth.get_block(number))["timestamp"])
        tips = [
            tip
            for entry in logs
            for tip in self._decode_all([entry], times[int(entry["blockNumber"])], CONFIRMED)
        ]
        with self.store.transaction() as db:
            new, changed = self._store_tips(tips, db)
            self.store.set_cursor(scope, last, db)
        self._announce(new, changed)
        return last

    def _decode_all(self, logs: list[Any], timestamp: int, status: str) -> list[Tip]:
        tips = []
        for entry in logs:
            if entry.get("removed"):
                continue
            try:
                tips.append(decode_tipped(entry, timestamp, status))
            except Exception as exc:  # a malformed log must not stop the others
                log.warning("skipped a malformed Tipped log: %s", exc)
        return tips

    def _store_tips(self, tips: list[Tip], db: Any) -> tuple[list[Tip], list[Tip]]:
        scope = self.scope
        assert scope is not None
        new, changed = [], []
        for tip in tips:
            old = self.store.get_tip(scope, tip.key)
            if old is not None and old.status == CONFIRMED and tip.status == PENDING:
                tip = tip.with_status(CONFIRMED) if old.block_hash == tip.block_hash else tip
            self.store.put_tip(scope, tip, db)
            if old is None:
                new.append(tip)
            elif (old.status, old.block_hash) != (tip.status, tip.block_hash):
                changed.append(tip)
        return new, changed

    def _announce(self, new: list[Tip], changed: list[Tip]) -> None:
        for tip in new:
            event(
                log,
                "tip_seen",
                tx_hash=tip.tx_hash,
                log_index=tip.log_index,
                block=tip.block_number,
                status=tip.status,
            )
            self.tip_seen.emit(tip)
        for tip in changed:
            event(log, "tip_status", tx_hash=tip.tx_hash, status=tip.status)
            self.tip_changed.emit(tip)

    async def _rewind(self, w3: AsyncWeb3, height: int) -> int:
        """Roll back to the newest remembered block the node still has; returns that height."""
        scope = self.scope
        assert scope is not None
        remembered = self.store.remembered_blocks(scope)
        fork = None
        for number, known in remembered:
            if number > height:
                continue
            try:
                block = await w3.eth.get_block(number)
            except BlockNotFound:
                continue
            if block is not None and _hex(block["hash"]) == known:
                fork = number
                break
        if fork is None:  # deeper than we remember: re-scan everything we remembered
            fork = (remembered[-1][0] - 1) if remembered else max(-1, height - 1)
        dropped = [t.with_status(DROPPED) for t in self.store.tips_above(scope, fork)]
        with self.store.transaction() as db:
            for tip in dropped:
                self.store.put_tip(scope, tip, db)
            self.store.forget_blocks(scope, above=fork, db=db)
            self.store.set_cursor(scope, fork, db)
        event(log, "tip_reorg", fork_block=fork, dropped=len(dropped))
        self._announce([], dropped)
        return fork

    def _confirm_pending(self, head: int) -> None:
        scope = self.scope
        assert scope is not None
        ready = [
            t.with_status(CONFIRMED)
            for t in self.store.tips(scope, [PENDING])
            if head - t.block_number + 1 >= self.confirmations
        ]
        if not ready:
            return
        with self.store.transaction() as db:
            for tip in ready:
                self.store.put_tip(scope, tip, db)
        self._announce([], ready)
