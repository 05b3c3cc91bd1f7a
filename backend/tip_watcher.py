"""Tips on chain -> "tip_received" notifications for the artist (their studio, their feed).

The backend follows the Tipping contract's `Tipped` events for every artist and publishes a
notification through `backend.notifications.publish` once a tip has the configured number
of confirmations, so a tip that a reorg removes is never announced. The studio watches the
chain too and merges both sources by (tx_hash, log_index).

Configuration (environment):
  HARMONIE_TIP_RPC_URL        node URL, http(s):// (polled) or ws(s):// (newHeads). Unset
                              while the embedded devnet runs: the devnet, in-process.
  HARMONIE_TIPPING_ADDRESS    the contract (default with the devnet: the devnet's).
  HARMONIE_TIP_CONFIRMATIONS  blocks, the tip's own included (default 1).
  HARMONIE_TIP_POLL_S         polling interval over HTTP or the devnet (default 0.2).
  HARMONIE_TIP_NOTIFY_FOLLOWERS  "0": tell only the artist, not their followers too.
With neither a devnet nor an RPC URL and address, no watcher runs.

Where it stopped is kept in <data_dir>/tip_watcher.json, keyed by chain, genesis block and
contract, so a restart resumes there and a fresh devnet starts afresh. The cursor is saved
after each range is announced: a crash in between may announce that range again, which the
studio's de-duplication absorbs.

The artist is notified, and so are their followers (their feeds show the tip; the fan who
tipped is not told about their own tip). Notification data: {"tx_hash", "log_index",
"block_number", "chain_id", "artist", "artist_name", "fan", "fan_name" (display names here,
or null), "amount_wei" (decimal string: JSON numbers lose precision past 2^53), "message"}.
A client tells a tip to itself from one to an artist it follows by "artist".
"""

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address
from fastapi import FastAPI
from sqlalchemy import select
from web3 import AsyncHTTPProvider, AsyncWeb3, WebSocketProvider
from web3.providers.async_base import AsyncBaseProvider

from backend.models import Account, Follow
from backend.notifications import publish, publish_many
from backend.services import Services, services_of

log = logging.getLogger(__name__)

TIPPED_TOPIC = "0x" + keccak(text="Tipped(address,address,uint256,string)").hex()
CURSOR_FILE = "tip_watcher.json"
LOG_CHUNK = 2_000
MAX_BACKOFF_S = 10.0
WS_FALLBACK_POLL_S = 5.0

Publish = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class TipWatchConfig:
    rpc_url: str | None  # None: the embedded devnet, in-process
    contract: str | None  # None: the embedded devnet's
    confirmations: int = 1
    poll_s: float = 0.2
    start_block: int | None = None  # None: from the head when first started
    notify_followers: bool = True  # followers' feeds show tips to the artists they follow

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "TipWatchConfig":
        return cls(
            rpc_url=env.get("HARMONIE_TIP_RPC_URL") or None,
            contract=env.get("HARMONIE_TIPPING_ADDRESS") or None,
            confirmations=max(1, int(env.get("HARMONIE_TIP_CONFIRMATIONS", "1"))),
            poll_s=float(env.get("HARMONIE_TIP_POLL_S", "0.2")),
            notify_followers=env.get("HARMONIE_TIP_NOTIFY_FOLLOWERS", "1") != "0",
        )


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value).lower()
    return text if text.startswith("0x") else "0x" + text


class DevnetProvider(AsyncBaseProvider):
    """web3 over the embedded devnet without a socket: JSON-RPC objects in, objects out."""

    def __init__(self, holder: Any) -> None:
        super().__init__()
        self.holder = holder
        self._ids = 0

    async def make_request(self, method: Any, params: Any) -> Any:
        self._ids += 1
        devnet = await self.holder.get()
        request = {"jsonrpc": "2.0", "id": self._ids, "method": method, "params": list(params)}
        return await self.holder.run(devnet.handle, request)

    async def is_connected(self, show_traceback: bool = False) -> bool:
        return True


def decode_tipped(entry: Any) -> dict[str, Any]:
    """A Tipped log -> the notification's data (message decoded leniently: any bytes)."""
    topics = [_hex(t) for t in entry["topics"]]
    data = entry["data"]
    raw = bytes(data) if isinstance(data, bytes | bytearray) else bytes.fromhex(_hex(data)[2:])
    amount, message = abi_decode(["uint256", "bytes"], raw)
    return {
        "tx_hash": _hex(entry["transactionHash"]),
        "log_index": int(entry["logIndex"]),
        "block_number": int(entry["blockNumber"]),
        "artist": to_checksum_address("0x" + topics[1][-40:]),
        "fan": to_checksum_address("0x" + topics[2][-40:]),
        "amount_wei": str(int(amount)),
        "message": message.decode("utf-8", errors="replace"),
    }


class BackendTipWatcher:
    def __init__(
        self,
        services: Services,
        config: TipWatchConfig,
        cursor_path: Path,
        devnet: Any = None,
        publish_fn: Publish = publish,
    ) -> None:
        self.services = services
        self.config = config
        self.cursor_path = cursor_path
        self.devnet = devnet
        self.publish = publish_fn
        self.state = "stopped"
        self.announced = 0
        self.passes = 0
        self.scope: str | None = None
        self.chain_id: int | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="backend-tip-watcher")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.state = "stopped"

    async def status(self) -> dict[str, str]:
        # starting up is not a fault; losing the node is
        fine = self.state in ("watching", "connecting")
        return {"status": "ok" if fine else "degraded", "kind": "tips", "detail": self.state}

    async def run(self) -> None:
        backoff = 0.25
        while True:
            self.state = "connecting"
            passes = self.passes
            try:
                if self.config.rpc_url and self.config.rpc_url.startswith(("ws://", "wss://")):
                    await self._run_websocket(self.config.rpc_url)
                else:
                    await self._run_polling()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                where = _safe_url(self.config.rpc_url) if self.config.rpc_url else "the devnet"
                log.warning("tip watcher: %s from %s; retrying", type(exc).__name__, where)
                self.state = "reconnecting"
            if self.passes > passes:
                backoff = 0.25
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _run_polling(self) -> None:
        if self.config.rpc_url:
            w3 = AsyncWeb3(AsyncHTTPProvider(self.config.rpc_url, request_kwargs={"timeout": 10}))
        elif self.devnet is not None:
            w3 = AsyncWeb3(DevnetProvider(self.devnet))
        else:
            raise RuntimeError("no chain to watch")
        try:
            contract = await self._prepare(w3)
            while True:
                await self.pass_once(w3, contract)
                await asyncio.sleep(self.config.poll_s)
        finally:
            with contextlib.suppress(Exception):
                await w3.provider.disconnect()

    async def _run_websocket(self, url: str) -> None:
        async with AsyncWeb3(WebSocketProvider(url, request_timeout=10)) as w3:
            contract = await self._prepare(w3)
            wake = asyncio.Event()
            await w3.eth.subscribe("newHeads")

            async def read_heads() -> None:
                try:
                    async for _ in w3.socket.process_subscriptions():
                        wake.set()
                finally:
                    wake.set()

            reader = asyncio.create_task(read_heads())
            try:
                while True:
                    await self.pass_once(w3, contract)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), WS_FALLBACK_POLL_S)
                    wake.clear()
                    if reader.done():
                        reader.result()
                        raise ConnectionError("the newHeads subscription ended")
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader

    async def _prepare(self, w3: AsyncWeb3) -> str:
        contract = self.config.contract
        if contract is None and self.devnet is not None:
            devnet = await self.devnet.get()
            contract = devnet.contracts.get("tipping")
        if not contract:
            raise RuntimeError("no tipping contract address is configured")
        contract = to_checksum_address(contract)
        chain_id = int(await w3.eth.chain_id)
        genesis = _hex((await w3.eth.get_block(0))["hash"])
        self.scope = f"{chain_id}:{genesis}:{contract.lower()}"
        self.chain_id = chain_id
        return contract

    # -- cursor -------------------------------------------------------------------------------

    def _load_cursor(self) -> int | None:
        try:
            saved = json.loads(self.cursor_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(saved, dict) or saved.get("scope") != self.scope:
            return None
        last = saved.get("last_block")
        return last if isinstance(last, int) else None

    def _save_cursor(self, last_block: int) -> None:
        self.cursor_path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.cursor_path.with_suffix(".tmp")
        temp.write_text(json.dumps({"scope": self.scope, "last_block": last_block}), "utf-8")
        temp.replace(self.cursor_path)

    # -- one pass -----------------------------------------------------------------------------

    async def pass_once(self, w3: AsyncWeb3, contract: str) -> None:
        head = int(await w3.eth.block_number)
        safe = head - (self.config.confirmations - 1)
        cursor = self._load_cursor()
        if cursor is None:
            start = self.config.start_block if self.config.start_block is not None else safe + 1
            cursor = start - 1
            self._save_cursor(cursor)
        if safe < cursor:
            cursor = max(-1, safe)  # the node went back (a reset devnet, a deep reorg)
            self._save_cursor(cursor)
        self.state = "watching"
        while cursor < safe:
            last = min(cursor + LOG_CHUNK, safe)
            logs = await w3.eth.get_logs(
                {
                    "fromBlock": cursor + 1,
                    "toBlock": last,
                    "address": contract,
                    "topics": [TIPPED_TOPIC],
                }
            )
            await self._announce([e for e in logs if not e.get("removed")])
            cursor = last
            self._save_cursor(cursor)
        self.passes += 1

    async def _announce(self, logs: list[Any]) -> None:
        tips = []
        for entry in logs:
            try:
                tips.append(decode_tipped(entry))
            except Exception as exc:  # one malformed log must not hide the others
                log.warning("skipped a malformed Tipped log: %s", exc)
        if not tips:
            return
        names = await self._display_names({t["fan"] for t in tips} | {t["artist"] for t in tips})
        for tip in tips:
            data = {
                **tip,
                "chain_id": self.chain_id,
                "fan_name": names.get(tip["fan"]),
                "artist_name": names.get(tip["artist"]),
            }
            await self.publish(
                self.services, recipient=tip["artist"], kind="tip_received", data=data
            )
            self.announced += 1
            if self.config.notify_followers:
                followers = await self._followers(tip["artist"], exclude={tip["fan"]})
                if followers:
                    await publish_many(
                        self.services, recipients=followers, kind="tip_received", data=data
                    )

    async def _display_names(self, addresses: set[str]) -> dict[str, str]:
        async with self.services.sessions() as session:
            rows = await session.execute(
                select(Account.address, Account.display_name).where(Account.address.in_(addresses))
            )
            return {address: name for address, name in rows.all()}

    async def _followers(self, artist: str, exclude: set[str]) -> list[str]:
        async with self.services.sessions() as session:
            rows = await session.execute(select(Follow.follower).where(Follow.artist == artist))
            return [f for f in rows.scalars() if f not in exclude and f != artist]


def start_tip_watcher(app: FastAPI) -> BackendTipWatcher | None:
    """Start watching if a chain is configured (or the devnet runs); None otherwise."""
    config = TipWatchConfig.from_env()
    devnet = getattr(app.state, "devnet", None)
    if config.rpc_url is None and devnet is None:
        return None
    if config.rpc_url is not None and config.contract is None:
        log.warning("HARMONIE_TIP_RPC_URL is set without HARMONIE_TIPPING_ADDRESS: not watching")
        return None
    services = services_of(app)
    watcher = BackendTipWatcher(
        services, config, Path(services.config.data_dir) / CURSOR_FILE, devnet=devnet
    )
    services.health_checks["tips"] = watcher.status
    watcher.start()
    app.state.tip_watcher = watcher
    return watcher
