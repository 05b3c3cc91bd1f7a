"""Tips on chain -> "tip_received" notifications for the artist (their studio, their feed).

The backend follows the Tipping contract's `Tipped` events for every artist (through
chain.event_follower: subscription or polling, reorgs, limited log ranges) and publishes a
notification through `backend.notifications.publish` once a tip has the configured number
of confirmations, so a tip that a reorg removes is never announced. The studio watches the
chain too and merges both sources by (tx_hash, log_index).

Configuration (environment):
  HARMONIE_TIP_RPC_URL        node URL, http(s):// (polled) or ws(s):// (newHeads). Unset
                              while the embedded devnet runs: the devnet, over its pipe.
  HARMONIE_TIPPING_ADDRESS    the contract (default with the devnet: the devnet's).
  HARMONIE_TIP_CONFIRMATIONS  blocks, the tip's own included (default 1).
  HARMONIE_TIP_POLL_S         polling interval over HTTP or the devnet (default 0.2).
  HARMONIE_TIP_NOTIFY_FOLLOWERS  "0": tell only the artist, not their followers too.
With neither a devnet nor an RPC URL and address, no watcher runs.

Where it stopped is kept in <data_dir>/tip_watcher.json (chain.cursor_store.FileCursorStore),
keyed by chain and contract with the chain's genesis and devnet instance, so a restart
resumes there (a reorg while it was down included) and a fresh devnet starts afresh. The
cursor is saved after each block or range is announced: a crash in between may announce it
again, which the studio's de-duplication absorbs.

The artist is notified, and so are their followers (their feeds show the tip; the fan who
tipped is not told about their own tip). Notification data: {"tx_hash", "log_index",
"block_number", "chain_id", "artist", "artist_name", "fan", "fan_name" (display names here,
or null), "amount_wei" (decimal string: JSON numbers lose precision past 2^53), "message"}.
A client tells a tip to itself from one to an artist it follows by "artist".
"""

import json
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select
from web3.providers.async_base import AsyncBaseProvider

from backend.analytics import record_tips
from backend.models import Account, Follow
from backend.notifications import publish, publish_many
from backend.services import Services, services_of
from chain.contracts.tipping import TIPPED_TOPIC, decode_tipped
from chain.cursor_store import FileCursorStore
from chain.event_follower import EventFollower
from chain.follower_events import FollowerConsumer, FollowerEvent, LogBatch, Rewound

log = logging.getLogger(__name__)

CURSOR_FILE = "tip_watcher.json"

Publish = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class TipWatchConfig:
    rpc_url: str | None  # None: the embedded devnet (its process, over a pipe)
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


def cursor_store(path: Path) -> FileCursorStore:
    """The cursor file; one written before chain.event_follower ({"scope":
    "<chain id>:<genesis>:<contract>", "last_block": n}) is carried over, so an upgrade
    misses no tip."""
    store = FileCursorStore(path)
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return store
    if not isinstance(old, dict) or not isinstance(old.get("last_block"), int):
        return store
    parts = str(old.get("scope")).split(":")
    if len(parts) == 3:
        chain_id, genesis, contract = parts
        scope = f"{chain_id}:{contract.lower()}"  # the follower's scope for one contract
        store.adopt_chain(scope, genesis)
        store.advance(scope, old["last_block"])
    return store


async def display_names(services: Services, addresses: set[str]) -> dict[str, str]:
    """address -> display name, for those of `addresses` that have a profile."""
    async with services.sessions() as session:
        rows = await session.execute(
            select(Account.address, Account.display_name).where(Account.address.in_(addresses))
        )
        return {address: name for address, name in rows.all()}


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


class BackendTipWatcher(FollowerConsumer):
    def __init__(
        self,
        services: Services,
        config: TipWatchConfig,
        cursor_path: Path,
        devnet: Any = None,
        publish_fn: Publish = publish,
    ) -> None:
        if config.rpc_url is None and devnet is None:
            raise ValueError("no chain to watch: neither an RPC URL nor the embedded devnet")
        self.services = services
        self.config = config
        self.devnet = devnet
        self.publish = publish_fn
        self.announced = 0
        self.follower = EventFollower(
            config.rpc_url or (lambda: DevnetProvider(devnet)),
            cursor_store(cursor_path),
            self._handle,
            address=self._contract,
            topics=[TIPPED_TOPIC],
            confirmations=config.confirmations,
            early=False,  # a notification cannot be taken back: only confirmed tips
            poll_interval_s=config.poll_s,
            history_blocks=0,
            start_block=config.start_block,
        )

    @property
    def chain_id(self) -> int | None:
        return self.follower.chain_id

    async def status(self) -> dict[str, str]:
        # starting up is not a fault; losing the node is
        fine = self.state in ("watching", "connecting")
        return {"status": "ok" if fine else "degraded", "kind": "tips", "detail": self.state}

    async def _contract(self) -> str:
        contract = self.config.contract
        if contract is None and self.devnet is not None:
            contract = (await self.devnet.get()).contracts.get("tipping")
        if not contract:
            raise RuntimeError("no tipping contract address is configured")
        return contract

    async def _handle(self, item: FollowerEvent) -> None:
        if isinstance(item, LogBatch):
            await self._announce(item.logs)
        elif isinstance(item, Rewound):  # deeper than the confirmations: cannot be unsaid
            log.warning("tip watcher: the chain rewound to block %s past confirmed tips", item.fork)

    async def _announce(self, logs: list[Any]) -> None:
        tips = []
        for entry in logs:
            try:
                tips.append(decode_tipped(entry))
            except Exception as exc:  # one malformed log must not hide the others
                log.warning("skipped a malformed Tipped log: %s", exc)
        if not tips:
            return
        try:
            await record_tips(self.services, tips, datetime.now(UTC))
        except Exception as exc:  # analytics must never hold back a tip's notification
            log.warning("tips not recorded for analytics: %s", exc)
        names = await self._display_names({t.fan for t in tips} | {t.artist for t in tips})
        for tip in tips:
            data = {
                "tx_hash": tip.tx_hash,
                "log_index": tip.log_index,
                "block_number": tip.block_number,
                "chain_id": self.chain_id,
                "artist": tip.artist,
                "artist_name": names.get(tip.artist),
                "fan": tip.fan,
                "fan_name": names.get(tip.fan),
                "amount_wei": str(tip.amount_wei),
                "message": tip.message,
            }
            await self.publish(self.services, recipient=tip.artist, kind="tip_received", data=data)
            self.announced += 1
            if self.config.notify_followers:
                followers = await self._followers(tip.artist, exclude={tip.fan})
                if followers:
                    await publish_many(
                        self.services, recipients=followers, kind="tip_received", data=data
                    )

    async def _display_names(self, addresses: set[str]) -> dict[str, str]:
        return await display_names(self.services, addresses)

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
