"""Follows a contract's events on one node, without missing or repeating: the one follower
that tips, sales and subscriptions use. Consumers only decode and handle what it delivers.

    follower = EventFollower(rpc_url, store, handle, address=..., topics=[TOPIC, ...])
    follower.start()          # or: await follower.run()
    ...
    await follower.stop()

`handle(event)` is awaited with (types in chain.follower_events), in chain order:
- `LogBatch`: the (non-removed) logs of one block read by its hash near the head, or of a
  deep range of blocks; the cursor moves past them only once `handle` returned, so after a
  crash a batch may be delivered again (handlers are idempotent) but never skipped.
- `Rewound(fork)`: the chain the follower had read went away above `fork` (a reorg, a node
  that rewound): what the batches above it said is void; they are read again.
- `Synced(head, confirmed)`: after each pass; blocks up to `confirmed` have `confirmations`
  blocks (their own included) on top, as far as this pass linked them by parent hash.
- `StateChanged(state, detail)`: "connecting" | "watching" | "reconnecting" | "error" |
  "stopped".

How it stays correct:
- Every pass reads from the persistent cursor (last block handled) to the head, so a restart
  or a reconnect resumes exactly where it stopped. Blocks deeper than `reorg_window` are read
  by range (`log_chunk` blocks at a time, halved whenever the node refuses a range).
- Near the head it goes block by block and checks each block's parent hash against the hash
  it remembered: a mismatch (reorg), or a head whose hash changed at a remembered height (a
  node that rewound), rolls back to the last block both chains share. A node whose head is
  merely behind ours (a lagging load-balanced node) is waited for, not treated as a reorg.
- Whenever the node's chain does not match what we remember, and on every pass against a
  devnet that reports an instance id, it checks which chain the node is on: a new genesis or
  a new devnet instance (a local devnet restarted fresh behind the same URL, with the same
  chain id, contract address and even transaction hashes) is a new chain, followed afresh.
- With `early=False` it reads only blocks that already have `confirmations` blocks on top
  (whoever cannot take back what it announced); with `early=True` (the default) it delivers
  at the head and tells in `Synced` how far the blocks are confirmed.
- Over `ws://` / `wss://` a newHeads subscription wakes it the moment a block lands (with a
  slow poll as a safety net); a node that refuses the subscription is polled over the same
  socket. Over HTTP, or an in-process provider, it polls. Connection errors are retried with
  a capped backoff.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import ClientResponseError
from eth_utils import to_checksum_address
from web3 import AsyncWeb3, WebSocketProvider
from web3.exceptions import BlockNotFound, Web3Exception
from web3.providers.async_base import AsyncBaseProvider

from chain.contracts.tipping import hex_text
from chain.cursor_store import CursorStore
from chain.errors import WrongChainError
from chain.follower_events import (
    Addresses,
    Handler,
    LogBatch,
    Rewound,
    StateChanged,
    Synced,
)
from chain.node_identity import instance_id, metadata_method, safe_url
from chain.rpc_provider import AsyncRpcProvider

log = logging.getLogger(__name__)

RPC_TIMEOUT_S = 10.0
MAX_BACKOFF_S = 10.0
MAX_REWINDS_PER_PASS = 4


class EventFollower:
    def __init__(
        self,
        node: str | Callable[[], AsyncBaseProvider],
        store: CursorStore,
        handler: Handler,
        *,
        address: Addresses | Callable[[], Awaitable[Addresses]],
        topics: Sequence[Any],
        scope_key: str = "",
        chain_id: int | None = None,
        confirmations: int = 1,
        early: bool = True,
        timestamps: bool = False,
        poll_interval_s: float = 0.5,
        subscription_fallback_poll_s: float = 5.0,
        history_blocks: int = 200_000,
        start_block: int | None = None,
        log_chunk: int = 2_000,
        reorg_window: int | None = None,
    ) -> None:
        """`node`: an RPC URL or, for an in-process node, a provider factory. `address`: the
        contract(s), or a coroutine function that finds them once the node is up. `topics`:
        the eth_getLogs topic filter. A new cursor starts at `start_block`, else
        `history_blocks` back from the head (0: after the head)."""
        self.node = node
        self.store = store
        self.handler = handler
        self.topics = list(topics)
        self.scope_key = scope_key
        self.expected_chain_id = chain_id
        self.confirmations = max(1, confirmations)
        self.lag = 0 if early else self.confirmations - 1
        self.timestamps = timestamps
        self.poll_interval_s = poll_interval_s
        self.subscription_fallback_poll_s = subscription_fallback_poll_s
        self.history_blocks = history_blocks
        self.start_block = start_block
        self.log_chunk = log_chunk
        self.reorg_window = reorg_window or max(32, 2 * self.confirmations)
        self._address_source = address
        self.addresses: list[str] = [] if callable(address) else _checksummed(address)
        self.chain_id: int | None = None  # the node's, once connected
        self.scope: str | None = self._scope(chain_id) if chain_id and self.addresses else None
        self.state = "stopped"
        self.head: int | None = None
        self.passes = 0
        self.subscribed = False  # a newHeads subscription wakes the current connection
        self._task: asyncio.Task[None] | None = None
        self._metadata_method: str | None = None  # how this node tells its instance id

    def _scope(self, chain_id: int) -> str:
        parts = [str(chain_id), ",".join(a.lower() for a in self.addresses)]
        return ":".join(parts + ([self.scope_key] if self.scope_key else []))

    @property
    def where(self) -> str:
        return safe_url(self.node) if isinstance(self.node, str) else "the in-process node"

    # -- lifetime -----------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="event-follower")
        return self._task

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._set_state("stopped")

    async def run(self) -> None:
        """Follow until cancelled; failures are retried with a capped backoff."""
        backoff = 0.25
        while True:
            await self._set_state("connecting")
            passes_before = self.passes
            try:
                if isinstance(self.node, str) and self.node.startswith(("ws://", "wss://")):
                    await self._run_websocket(self.node)
                else:
                    await self._run_polling()
            except asyncio.CancelledError:
                raise
            except WrongChainError as exc:
                await self._set_state("error", str(exc))
                await asyncio.sleep(MAX_BACKOFF_S)
                continue
            except Exception as exc:  # node down, socket dropped, bad answer: reconnect
                detail = f"{type(exc).__name__} from {self.where}"
                log.warning("event follower lost the node: %s", detail)
                await self._set_state("reconnecting", detail)
            if self.passes > passes_before:  # it had worked: retry quickly, then back off
                backoff = 0.25
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _set_state(self, state: str, detail: str = "") -> None:
        if state != self.state:
            self.state = state
            _event("follower_state", state=state, detail=detail, scope=self.scope)
            await self.handler(StateChanged(state, detail))

    # -- transports ---------------------------------------------------------------------------

    async def _run_polling(self) -> None:
        if isinstance(self.node, str):
            timeout = {"timeout": RPC_TIMEOUT_S}
            provider: AsyncBaseProvider = AsyncRpcProvider(self.node, request_kwargs=timeout)
        else:
            provider = self.node()
        w3 = AsyncWeb3(provider)
        try:
            await self._prepare(w3)
            while True:
                await self.sync_once(w3)
                await asyncio.sleep(self.poll_interval_s)
        finally:
            with contextlib.suppress(Exception):
                await w3.provider.disconnect()

    async def _run_websocket(self, url: str) -> None:
        async with AsyncWeb3(WebSocketProvider(url, request_timeout=RPC_TIMEOUT_S)) as w3:
            await self._prepare(w3)
            wake = asyncio.Event()
            reader: asyncio.Task[None] | None = None
            try:
                await w3.eth.subscribe("newHeads")
                reader = asyncio.create_task(self._read_heads(w3, wake))
                fallback, self.subscribed = self.subscription_fallback_poll_s, True
            except (Web3Exception, ValueError) as exc:  # the node has no subscriptions: poll
                log.info("newHeads subscription refused (%s); polling over the socket", exc)
                fallback, self.subscribed = self.poll_interval_s, False
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
                self.subscribed = False
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

    # -- which chain --------------------------------------------------------------------------

    async def _prepare(self, w3: AsyncWeb3) -> None:
        chain_id = int(await w3.eth.chain_id)
        expected = self.expected_chain_id
        if expected is not None and chain_id != expected:
            raise WrongChainError(expected, chain_id, self.where)
        if callable(self._address_source):
            self.addresses = _checksummed(await self._address_source())
        self.chain_id, self.scope = chain_id, self._scope(chain_id)
        self._metadata_method = await metadata_method(w3)
        await self._adopt_node_chain(w3)

    async def _adopt_node_chain(self, w3: AsyncWeb3) -> None:
        """Tell the store which chain the node is on (a new one: the store forgets the old)."""
        assert self.scope is not None
        genesis = hex_text((await w3.eth.get_block(0))["hash"])
        instance = None
        if self._metadata_method is not None:
            instance = await instance_id(w3, self._metadata_method)
        if self.store.adopt_chain(self.scope, genesis, instance):
            _event("follower_chain_reset", scope=self.scope)

    async def _chain_may_have_changed(
        self, w3: AsyncWeb3, head: int, head_hash: str, cursor: int
    ) -> bool:
        """Whether the node's chain disagrees with what we remember in a way a lagging node
        would not explain, so it is worth asking which chain the node is on."""
        if self._metadata_method is not None:
            return True  # a devnet: a restart may rebuild identical blocks; ask every pass
        assert self.scope is not None
        if head < cursor:
            known = self.store.block_hash(self.scope, head)
            # a lagging node agrees with us at its head; one we know nothing of may be a new chain
            return known != head_hash
        known = self.store.block_hash(self.scope, cursor)
        if known is None:
            return False
        if head == cursor:
            return known != head_hash
        with contextlib.suppress(BlockNotFound):
            block = await w3.eth.get_block(cursor)
            return block is not None and hex_text(block["hash"]) != known
        return False

    # -- one pass -----------------------------------------------------------------------------

    async def sync_once(self, w3: AsyncWeb3) -> None:
        """Bring the cursor up to the node's head (or as far as the node consistently lets us)."""
        await self._sync(w3)
        self.passes += 1

    async def _sync(self, w3: AsyncWeb3) -> None:
        assert self.scope is not None, "call _prepare first"
        scope = self.scope
        top = await w3.eth.get_block("latest")
        if self.lag:  # only blocks with enough confirmations on top
            top = await self._block_below_head(w3, max(0, int(top["number"]) - self.lag))
            if top is None:
                return
        head, head_hash = int(top["number"]), hex_text(top["hash"])
        cursor = self.store.cursor(scope)
        if cursor is not None and await self._chain_may_have_changed(w3, head, head_hash, cursor):
            await self._adopt_node_chain(w3)
            cursor = self.store.cursor(scope)  # None if the node is on a new chain: afresh
        if cursor is None:
            if self.start_block is not None:
                first = self.start_block
            else:
                first = head + 1 - self.history_blocks
            cursor = max(0, first) - 1
            self.store.advance(scope, cursor)

        known = self.store.block_hash(scope, head)
        if head < cursor:
            if known is None or known == head_hash:
                return  # this node is behind us: wait for it rather than rewind
            cursor = await self._rewind(w3, head)
        elif head == cursor and known is not None and known != head_hash:
            cursor = await self._rewind(w3, head)
        await self._set_state("watching")

        deep_end = head - self.reorg_window
        while cursor < deep_end:
            cursor = await self._scan_range(w3, cursor + 1, min(cursor + self.log_chunk, deep_end))

        rewinds = 0
        number = cursor + 1
        while number <= head:
            block = top if number == head else await self._block_below_head(w3, number)
            if block is None:
                break  # the node does not have it (yet): next pass
            parent_known = self.store.block_hash(scope, number - 1)
            if parent_known is not None and parent_known != hex_text(block["parentHash"]):
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
        linked = self.store.cursor(scope) or 0
        await self.handler(Synced(head, linked - (self.confirmations - 1 - self.lag)))

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

    def _log_filter(self, **where: Any) -> Any:
        address = self.addresses[0] if len(self.addresses) == 1 else self.addresses
        return {**where, "address": address, "topics": self.topics}

    async def _scan_block(self, w3: AsyncWeb3, block: Any) -> bool:
        assert self.scope is not None
        number, block_hash = int(block["number"]), hex_text(block["hash"])
        try:
            logs = await w3.eth.get_logs(self._log_filter(blockHash=block_hash))
        except Web3Exception as exc:  # the block left the chain between two calls: next pass
            log.info("logs of block %s unavailable (%s); retrying", number, exc)
            return False
        final = self.confirmations - self.lag <= 1
        times = {number: int(block["timestamp"])}
        await self.handler(LogBatch(number, number, _kept(logs), block_hash, final, times))
        self.store.advance(self.scope, number, block_hash, keep_from=number - self.reorg_window)
        return True

    async def _scan_range(self, w3: AsyncWeb3, first: int, last: int) -> int:
        """Deep blocks (past the reorg window) by range; returns the last block covered."""
        assert self.scope is not None
        try:
            logs = await w3.eth.get_logs(self._log_filter(fromBlock=first, toBlock=last))
        except (Web3Exception, ClientResponseError) as exc:
            if last == first:
                raise
            # nodes cap range queries (blocks or results): halve and let the caller go on
            self.log_chunk = max(1, (last - first + 1) // 2)
            _event("follower_range_halved", blocks=self.log_chunk, error=type(exc).__name__)
            return first - 1
        logs = _kept(logs)
        times: dict[int, int] = {}
        for number in sorted({int(e["blockNumber"]) for e in logs} if self.timestamps else ()):
            times[number] = int((await w3.eth.get_block(number))["timestamp"])
        await self.handler(LogBatch(first, last, logs, None, True, times))
        self.store.advance(self.scope, last)
        return last

    async def _rewind(self, w3: AsyncWeb3, height: int) -> int:
        """Roll back to the newest remembered block the node still has; returns that height."""
        assert self.scope is not None
        remembered = self.store.remembered_blocks(self.scope)
        fork = None
        for number, known in remembered:
            if number > height:
                continue
            try:
                block = await w3.eth.get_block(number)
            except BlockNotFound:
                continue
            if block is not None and hex_text(block["hash"]) == known:
                fork = number
                break
        if fork is None:  # deeper than we remember: re-read everything we remembered
            fork = (remembered[-1][0] - 1) if remembered else max(-1, height - 1)
        _event("follower_reorg", scope=self.scope, fork_block=fork)
        await self.handler(Rewound(fork))
        self.store.rewind(self.scope, fork)
        return fork


def _checksummed(addresses: Addresses) -> list[str]:
    items = [addresses] if isinstance(addresses, str) else list(addresses)
    return [to_checksum_address(a) for a in items]


def _kept(logs: Sequence[Any]) -> list[Any]:
    return [entry for entry in logs if not entry.get("removed")]


def _event(name: str, **fields: object) -> None:
    """A named log event ({"event": name, ...}) as studio.logs writes them."""
    log.info(name, extra={"event": name, **fields})
