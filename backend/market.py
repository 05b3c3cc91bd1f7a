"""The marketplace and supporter subscriptions, as the backend serves them.

Indexing: one chain.event_follower follows the track NFT (EditionMinted, Transfer), the
Marketplace (Listed, Sold, Cancelled, PriceChanged) and Subscriptions (Subscribed, Renewed,
Cancelled) contracts into the database (backend.models' market_* tables), the same follower
and node configuration as the tip watcher (backend.tip_watcher: HARMONIE_TIP_RPC_URL,
HARMONIE_TIP_CONFIRMATIONS, HARMONIE_TIP_POLL_S; the embedded devnet when it runs). Only
confirmed blocks are read (a notification cannot be taken back). Every log is applied in one
transaction together with its row in market_events_seen, so a batch delivered again after a
crash, or by a second backend instance on the same database, changes nothing and notifies
nobody twice. Each sale notifies the track's artist ("track_sold") and each subscription or
renewal the artist subscribed to ("supporter_subscribed"), over the notifications path tips
take. The cursor is kept in <data dir>/market_watcher.json.

Notification data (wei and token ids as decimal strings; JSON numbers lose precision past 2^53):
  track_sold            {tx_hash, log_index, block_number, chain_id, artist, artist_name,
                         seller, buyer, buyer_name, token_id, cid, edition, price_wei,
                         royalty_wei, resale (the seller is not the artist)}
  supporter_subscribed  {tx_hash, log_index, block_number, chain_id, artist, artist_name, fan,
                         fan_name, tier, periods, amount_wei, active_until (unix s), renewal}

Contract addresses: HARMONIE_TRACK_NFT_ADDRESS, HARMONIE_MARKETPLACE_ADDRESS,
HARMONIE_SUBSCRIPTIONS_ADDRESS (default with the devnet: the devnet's). A new index reads
from HARMONIE_MARKET_START_BLOCK (default: the chain's last 200 000 blocks).

Routes (/market): listings (per artist), a fan's holdings, an artist's tiers and supporters
(read on chain / from the index), and supporters-only tracks (backend.gated): an artist
uploads one, it is stored encrypted; its key goes only to a signed-in fan whose
`active_until(fan, artist)`, read on chain at that moment, is past the chain's clock.
"""

import asyncio
import base64
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from eth_utils import to_checksum_address
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from web3 import AsyncWeb3
from web3.exceptions import ContractLogicError

from backend.auth import CurrentAddress, ServicesDep
from backend.errors import error_responses
from backend.gated import MasterKey, new_key, seal
from backend.models import (
    GatedTrack,
    MarketEventSeen,
    MarketListing,
    MarketSale,
    MarketSupport,
    MarketToken,
)
from backend.notifications import publish
from backend.params import AddressPath, Limit, reject_unknown_query
from backend.services import Services, services_of
from backend.tip_watcher import DevnetProvider, TipWatchConfig, display_names
from chain import contracts
from chain.contracts.market import ChainEvent, decode_event, event_topic
from chain.contracts.tipping import hex_text
from chain.cursor_store import FileCursorStore
from chain.event_follower import EventFollower
from chain.follower_events import FollowerConsumer, FollowerEvent, LogBatch, Rewound
from chain.rpc_provider import AsyncRpcProvider
from media.cid import CHUNK_SIZE, is_cid, normalise_cid

log = logging.getLogger(__name__)

CURSOR_FILE = "market_watcher.json"
ZERO = "0x0000000000000000000000000000000000000000"
FOLLOWED = (contracts.TRACK_NFT, contracts.MARKETPLACE, contracts.SUBSCRIPTIONS)
FOLLOWED_EVENTS = {
    contracts.TRACK_NFT: ("EditionMinted", "Transfer"),
    contracts.MARKETPLACE: ("Listed", "Sold", "Cancelled", "PriceChanged"),
    contracts.SUBSCRIPTIONS: ("Subscribed", "Renewed", "Cancelled"),
}
ADDRESS_ENV = {
    contracts.TRACK_NFT: "HARMONIE_TRACK_NFT_ADDRESS",
    contracts.MARKETPLACE: "HARMONIE_MARKETPLACE_ADDRESS",
    contracts.SUBSCRIPTIONS: "HARMONIE_SUBSCRIPTIONS_ADDRESS",
}
GATED_MAX_BYTES = 512 * 1024 * 1024  # one track, encrypted in memory
GATED_PATH = "/market/gated"

Publish = Callable[..., Awaitable[Any]]


def _topics() -> list[list[str]]:
    return [sorted({event_topic(c, n) for c, names in FOLLOWED_EVENTS.items() for n in names})]


def _http_url(url: str) -> str:
    """Reads (eth_call) go over HTTP; nodes serving ws:// serve HTTP on the same port
    (anvil, geth's --http/--ws on one port, hosted RPCs' paired URLs by convention)."""
    for ws, http in (("wss://", "https://"), ("ws://", "http://")):
        if url.startswith(ws):
            return http + url[len(ws) :]
    return url


# ---- the chain, read ------------------------------------------------------------------------


class MarketChain:
    """Contract reads on the node the tip watcher uses (or the embedded devnet, in-process)."""

    def __init__(
        self, rpc_url: str | None, devnet: Any, env: Mapping[str, str] = os.environ
    ) -> None:
        if rpc_url is None and devnet is None:
            raise ValueError("no chain to read: neither an RPC URL nor the embedded devnet")
        self.devnet = devnet
        provider = (
            DevnetProvider(devnet) if rpc_url is None else AsyncRpcProvider(_http_url(rpc_url))
        )
        self.w3 = AsyncWeb3(provider)
        self.rpc_url = rpc_url
        self._configured = {n: env[ADDRESS_ENV[n]] for n in FOLLOWED if env.get(ADDRESS_ENV[n])}
        self._contracts: dict[str, Any] = {}

    async def addresses(self) -> dict[str, str]:
        found = dict(self._configured)
        if self.devnet is not None and len(found) < len(FOLLOWED):
            deployed = (await self.devnet.get()).contracts
            for name in FOLLOWED:
                found.setdefault(name, deployed.get(name, ""))
        missing = [ADDRESS_ENV[n] for n in FOLLOWED if not found.get(n)]
        if missing:
            raise RuntimeError(f"no marketplace contracts are configured: set {', '.join(missing)}")
        return {n: to_checksum_address(found[n]) for n in FOLLOWED}

    async def contract(self, name: str) -> Any:
        if name not in self._contracts:
            address = (await self.addresses())[name]
            self._contracts[name] = self.w3.eth.contract(address, abi=contracts.abi(name))
        return self._contracts[name]

    async def chain_time(self) -> int:
        """The newest block's timestamp: subscriptions run on the chain's clock."""
        return int((await self.w3.eth.get_block("latest"))["timestamp"])

    async def active_until(self, fan: str, artist: str) -> int:
        subscriptions = await self.contract(contracts.SUBSCRIPTIONS)
        return int(await subscriptions.functions.active_until(fan, artist).call())

    async def tiers(self, artist: str) -> list[tuple[str, int]]:
        subscriptions = await self.contract(contracts.SUBSCRIPTIONS)
        return [(t[0], int(t[1])) for t in await subscriptions.functions.tiers_of(artist).call()]

    async def token(self, token_id: int) -> tuple[str, str, int, str]:
        """(cid, artist, edition, owner) of a token minted before the index began."""
        nft = await self.contract(contracts.TRACK_NFT)
        cid = await nft.functions.track_of(token_id).call()
        edition = await nft.functions.edition_of(token_id).call()
        try:
            owner = await nft.functions.ownerOf(token_id).call()
        except ContractLogicError:  # burnt since: it stays out of every holding
            owner = ZERO
        registry = self.w3.eth.contract(
            await nft.functions.registry().call(), abi=contracts.abi(contracts.CONTENT_REGISTRY)
        )
        artist = await registry.functions.artist_of(cid).call()
        return cid, to_checksum_address(artist), int(edition), to_checksum_address(owner)


# ---- the index ------------------------------------------------------------------------------


class MarketWatcher(FollowerConsumer):
    def __init__(
        self,
        services: Services,
        chain: MarketChain,
        config: TipWatchConfig,
        cursor_path: Path,
        start_block: int | None = None,
        publish_fn: Publish = publish,
    ) -> None:
        self.services = services
        self.chain = chain
        self.publish = publish_fn
        self.notified = 0
        self._names: dict[str, str] = {}  # address -> contract name
        self.follower = EventFollower(
            config.rpc_url or (lambda: DevnetProvider(chain.devnet)),
            FileCursorStore(cursor_path),
            self._handle,
            address=self._addresses,
            topics=_topics(),
            confirmations=config.confirmations,
            early=False,  # only confirmed blocks: a notification cannot be taken back
            poll_interval_s=config.poll_s,
            start_block=start_block,
        )

    async def _addresses(self) -> list[str]:
        found = await self.chain.addresses()
        self._names = {address.lower(): name for name, address in found.items()}
        return list(found.values())

    async def status(self) -> dict[str, str]:
        fine = self.state in ("watching", "connecting")
        return {"status": "ok" if fine else "degraded", "kind": "market", "detail": self.state}

    async def _handle(self, item: FollowerEvent) -> None:
        if isinstance(item, LogBatch):
            for entry in item.logs:
                await self._apply_log(entry)
        elif isinstance(item, Rewound):
            log.warning(
                "market index: the chain rewound to block %s past confirmed logs", item.fork
            )

    async def _apply_log(self, entry: Any) -> None:
        name = self._names.get(hex_text(entry["address"]).lower())
        try:
            event = decode_event(name or "", entry) if name else None
        except (ValueError, KeyError) as exc:  # one malformed log must not hide the others
            log.warning("market index: skipped a malformed log: %s", exc)
            return
        if event is None:
            return
        try:
            async with self.services.sessions.begin() as session:
                seen = await session.get(MarketEventSeen, (event.tx_hash, event.log_index))
                if seen is not None:
                    return
                session.add(
                    MarketEventSeen(
                        tx_hash=event.tx_hash,
                        log_index=event.log_index,
                        name=event.name,
                        block_number=event.block_number,
                    )
                )
                await session.flush()  # another instance indexing the same log: IntegrityError
                notice = await self._apply(session, name or "", event)
        except IntegrityError:
            return
        if notice is not None:
            await self._notify(*notice)

    async def _apply(
        self, session: AsyncSession, contract: str, event: ChainEvent
    ) -> tuple[str, str, dict[str, Any]] | None:
        """Change the index for one event; (recipient, kind, data) when someone is told."""
        a = event.args
        kind = (contract, event.name)
        if kind == (contracts.TRACK_NFT, "Transfer"):
            token_id = str(a["token_id"])
            token = await session.get(MarketToken, token_id)
            if a["receiver"] == ZERO:  # burnt
                await session.execute(delete(MarketToken).where(MarketToken.token_id == token_id))
                await session.execute(
                    delete(MarketListing).where(MarketListing.token_id == token_id)
                )
            elif token is None and a["sender"] == ZERO:  # minted: EditionMinted follows
                session.add(
                    MarketToken(
                        token_id=token_id, cid="", artist=ZERO, edition=0, owner=a["receiver"]
                    )
                )
            else:
                token = token or await self._token(session, a["token_id"])
                token.owner = a["receiver"]
        elif kind == (contracts.TRACK_NFT, "EditionMinted"):
            token_id = str(a["token_id"])
            token = await session.get(MarketToken, token_id)
            if token is None:
                token = MarketToken(token_id=token_id, owner=a["to"])
                session.add(token)
            token.cid, token.artist, token.edition = a["cid"], a["artist"], int(a["edition"])
        elif kind == (contracts.MARKETPLACE, "Listed"):
            token = await self._token(session, a["token_id"])
            await session.merge(
                MarketListing(
                    token_id=token.token_id,
                    seller=a["seller"],
                    artist=token.artist,
                    cid=token.cid,
                    price_wei=str(a["price"]),
                    block_number=event.block_number,
                )
            )
        elif kind == (contracts.MARKETPLACE, "PriceChanged"):
            listing = await session.get(MarketListing, str(a["token_id"]))
            if listing is not None:
                listing.price_wei = str(a["new_price"])
        elif kind == (contracts.MARKETPLACE, "Cancelled"):
            await session.execute(
                delete(MarketListing).where(MarketListing.token_id == str(a["token_id"]))
            )
        elif kind == (contracts.MARKETPLACE, "Sold"):
            return await self._sold(session, event)
        elif kind in (
            (contracts.SUBSCRIPTIONS, "Subscribed"),
            (contracts.SUBSCRIPTIONS, "Renewed"),
        ):
            return await self._supported(session, event)
        elif kind == (contracts.SUBSCRIPTIONS, "Cancelled"):
            latest = await _latest_support(session, a["fan"], a["artist"])
            if latest is not None:
                latest.active_until = int(a["active_until"])
        return None

    async def _token(self, session: AsyncSession, token_id: int) -> MarketToken:
        token = await session.get(MarketToken, str(token_id))
        if token is None or not token.cid:
            cid, artist, edition, owner = await self.chain.token(token_id)
            token = await session.merge(
                MarketToken(
                    token_id=str(token_id), cid=cid, artist=artist, edition=edition, owner=owner
                )
            )
        return token

    async def _sold(
        self, session: AsyncSession, event: ChainEvent
    ) -> tuple[str, str, dict[str, Any]]:
        a = event.args
        token = await self._token(session, a["token_id"])
        artist = token.artist if token.artist != ZERO else a["artist"]
        await session.execute(delete(MarketListing).where(MarketListing.token_id == token.token_id))
        session.add(
            MarketSale(
                tx_hash=event.tx_hash,
                log_index=event.log_index,
                block_number=event.block_number,
                token_id=token.token_id,
                seller=a["seller"],
                buyer=a["buyer"],
                artist=artist,
                price_wei=str(a["price"]),
                royalty_wei=str(a["royalty"]),
            )
        )
        data = {
            **_place(event, self.follower.chain_id),
            "artist": artist,
            "seller": a["seller"],
            "buyer": a["buyer"],
            "token_id": token.token_id,
            "cid": token.cid,
            "edition": token.edition,
            "price_wei": str(a["price"]),
            "royalty_wei": str(a["royalty"]),
            "resale": a["seller"] != artist,
        }
        return artist, "track_sold", data

    async def _supported(
        self, session: AsyncSession, event: ChainEvent
    ) -> tuple[str, str, dict[str, Any]]:
        a = event.args
        renewal = event.name == "Renewed"
        session.add(
            MarketSupport(
                tx_hash=event.tx_hash,
                log_index=event.log_index,
                block_number=event.block_number,
                fan=a["fan"],
                artist=a["artist"],
                tier=int(a["tier"]),
                periods=int(a["periods"]),
                amount_wei=str(a["amount"]),
                active_until=int(a["active_until"]),
                renewal=renewal,
            )
        )
        data = {
            **_place(event, self.follower.chain_id),
            "artist": a["artist"],
            "fan": a["fan"],
            "tier": int(a["tier"]),
            "periods": int(a["periods"]),
            "amount_wei": str(a["amount"]),
            "active_until": int(a["active_until"]),
            "renewal": renewal,
        }
        return a["artist"], "supporter_subscribed", data

    async def _notify(self, recipient: str, kind: str, data: dict[str, Any]) -> None:
        party = data.get("buyer") or data.get("fan")
        names = await display_names(self.services, {recipient, party})
        data = {**data, "artist_name": names.get(recipient)}
        data["buyer_name" if "buyer" in data else "fan_name"] = names.get(party)
        await self.publish(self.services, recipient=recipient, kind=kind, data=data)
        self.notified += 1


def _place(event: ChainEvent, chain_id: int | None) -> dict[str, Any]:
    return {
        "tx_hash": event.tx_hash,
        "log_index": event.log_index,
        "block_number": event.block_number,
        "chain_id": chain_id,
    }


async def _latest_support(session: AsyncSession, fan: str, artist: str) -> MarketSupport | None:
    query = (
        select(MarketSupport)
        .where(MarketSupport.fan == fan, MarketSupport.artist == artist)
        .order_by(MarketSupport.id.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalars().first()


# ---- the service and its routes -------------------------------------------------------------


@dataclass
class Market:
    chain: MarketChain | None  # None: no chain configured (listings still served from the index)
    keys: MasterKey = field(repr=False)
    watcher: MarketWatcher | None = None

    def require_chain(self) -> MarketChain:
        if self.chain is None:  # a deployment without a chain: these routes have nothing here
            raise HTTPException(
                404, "this backend follows no chain: no tiers or supporter status here"
            )
        return self.chain


@contextlib.contextmanager
def chain_read() -> Iterator[None]:
    """A node that cannot be reached (or answers nonsense) is a 503, never a 500."""
    try:
        yield
    except HTTPException:
        raise
    except Exception as exc:
        log.warning("market: a chain read failed: %s", type(exc).__name__)
        raise HTTPException(503, "the chain node cannot be reached; try again") from None


def market_of(request: Request) -> Market:
    market = getattr(request.app.state, "market", None)
    if market is None:
        raise HTTPException(503, "the marketplace is starting; try again")
    return market  # type: ignore[no-any-return]


MarketDep = Annotated[Market, Depends(market_of)]


def start_market(app: FastAPI, env: Mapping[str, str] = os.environ) -> Market:
    """The market service on `app.state.market`, its index following the chain if one is
    configured (as the tip watcher's)."""
    services = services_of(app)
    config = TipWatchConfig.from_env(env)
    devnet = getattr(app.state, "devnet", None)
    chain = None
    if config.rpc_url is not None or devnet is not None:
        chain = MarketChain(config.rpc_url, devnet if config.rpc_url is None else None, env)
    market = Market(chain=chain, keys=MasterKey.load(Path(services.config.data_dir), env))
    if chain is not None:
        start = env.get("HARMONIE_MARKET_START_BLOCK")
        market.watcher = MarketWatcher(
            services,
            chain,
            config,
            Path(services.config.data_dir) / CURSOR_FILE,
            start_block=int(start) if start else None,
        )
        services.health_checks["market"] = market.watcher.status
        market.watcher.start()
    app.state.market = market
    return market


router = APIRouter(prefix="/market", tags=["market"], dependencies=[Depends(reject_unknown_query)])


class ListingOut(BaseModel):
    token_id: str
    seller: str
    artist: str
    cid: str
    price_wei: str  # decimal: JSON numbers lose precision past 2^53
    block_number: int


class TokenOut(BaseModel):
    token_id: str
    cid: str
    artist: str
    edition: int


class SupportOut(BaseModel):
    artist: str
    tier: int
    active_until: int  # unix s on the chain's clock


class HoldingsOut(BaseModel):
    address: str
    tokens: list[TokenOut]
    subscriptions: list[SupportOut]


class TierOut(BaseModel):
    index: int
    name: str
    price_wei: str  # per 30-day period


class SupportersOut(BaseModel):
    artist: str
    chain_time: int
    supporters: list[str]


class GatedOut(BaseModel):
    cid: str
    artist: str
    title: str
    size: int
    created_at: datetime


class GatedKeyOut(BaseModel):
    cid: str
    algorithm: str
    key: str  # base64 of the 32-byte AES key
    nonce_bytes: int  # the encrypted file is nonce || ciphertext || 16-byte tag
    active_until: int | None  # the fan's subscription end (None for the artist)


@router.get("/listings", summary="Track editions for sale, newest first (one artist's or all)")
async def listings(
    services: ServicesDep,
    artist: Annotated[
        str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$", description="the track's artist")
    ] = None,
    limit: Limit = 50,
) -> list[ListingOut]:
    query = select(MarketListing).order_by(
        MarketListing.block_number.desc(), MarketListing.token_id
    )
    if artist is not None:
        query = query.where(MarketListing.artist == to_checksum_address(artist))
    async with services.sessions() as session:
        rows = (await session.execute(query.limit(limit))).scalars()
        return [
            ListingOut(
                token_id=r.token_id,
                seller=r.seller,
                artist=r.artist,
                cid=r.cid,
                price_wei=r.price_wei,
                block_number=r.block_number,
            )
            for r in rows
        ]


@router.get(
    "/holdings/{address}", summary="The track editions an address holds, and whom it supports"
)
async def holdings(address: AddressPath, services: ServicesDep) -> HoldingsOut:
    async with services.sessions() as session:
        tokens = (
            await session.execute(
                select(MarketToken)
                .where(MarketToken.owner == address, MarketToken.cid != "")
                .order_by(MarketToken.artist, MarketToken.edition)
            )
        ).scalars()
        token_out = [
            TokenOut(token_id=t.token_id, cid=t.cid, artist=t.artist, edition=t.edition)
            for t in tokens
        ]
        newest = (
            select(func.max(MarketSupport.id).label("id"))
            .where(MarketSupport.fan == address)
            .group_by(MarketSupport.artist)
            .subquery()
        )
        supports = (
            await session.execute(
                select(MarketSupport).join(newest, MarketSupport.id == newest.c.id)
            )
        ).scalars()
        support_out = [
            SupportOut(artist=s.artist, tier=s.tier, active_until=s.active_until) for s in supports
        ]
    return HoldingsOut(address=address, tokens=token_out, subscriptions=support_out)


@router.get(
    "/tiers/{address}",
    summary="An artist's subscription tiers (on chain)",
    responses=error_responses(404, 503),
)
async def tiers(address: AddressPath, market: MarketDep) -> list[TierOut]:
    with chain_read():
        found = await market.require_chain().tiers(address)
    return [TierOut(index=i, name=n, price_wei=str(p)) for i, (n, p) in enumerate(found)]


@router.get(
    "/supporters/{address}",
    summary="Addresses whose subscription to an artist is active (for chat badges)",
    responses=error_responses(404, 503),
)
async def supporters(
    address: AddressPath, services: ServicesDep, market: MarketDep
) -> SupportersOut:
    with chain_read():
        now = await market.require_chain().chain_time()
    async with services.sessions() as session:
        newest = (
            select(func.max(MarketSupport.id).label("id"))
            .where(MarketSupport.artist == address)
            .group_by(MarketSupport.fan)
            .subquery()
        )
        rows = (
            await session.execute(
                select(MarketSupport.fan)
                .join(newest, MarketSupport.id == newest.c.id)
                .where(MarketSupport.active_until > now)
                .order_by(MarketSupport.fan)
            )
        ).scalars()
        return SupportersOut(artist=address, chain_time=now, supporters=list(rows))


async def _body(request: Request, limit: int) -> AsyncIterator[bytes]:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"a supporters-only track takes at most {limit // 2**20} MiB")
        yield chunk


@router.post(
    "/gated",
    summary="Store a supporters-only track, encrypted (the signed-in artist's)",
    status_code=201,
    responses=error_responses(400, 401, 503),
)
async def add_gated(
    request: Request,
    caller: CurrentAddress,
    services: ServicesDep,
    market: MarketDep,
    title: Annotated[str, Query(min_length=1, max_length=200)],
) -> GatedOut:
    """The body is the track's bytes. What the content store keeps is nonce || AES-GCM
    ciphertext; the key stays here, wrapped."""
    plaintext = b"".join([chunk async for chunk in _body(request, GATED_MAX_BYTES)])
    if not plaintext:
        raise HTTPException(400, "the track is empty: send its bytes as the request body")
    store = services.content_store
    if store is None:
        raise HTTPException(503, "no content store on this backend")
    key = new_key()
    sealed = seal(key, plaintext)

    async def once() -> AsyncIterator[bytes]:
        yield sealed

    meta = await store.add_stream(once(), CHUNK_SIZE, caller)
    store.pin(meta["cid"])
    row = GatedTrack(
        cid=meta["cid"],
        artist=caller,
        title=title,
        size=len(plaintext),
        wrapped_key=market.keys.wrap(key, meta["cid"]),
        created_at=datetime.now(UTC),
    )
    async with services.sessions.begin() as session:
        session.add(row)
    return GatedOut(
        cid=row.cid, artist=row.artist, title=row.title, size=row.size, created_at=row.created_at
    )


@router.get("/gated", summary="Supporters-only tracks, newest first (one artist's or all)")
async def list_gated(
    services: ServicesDep,
    artist: Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$")] = None,
    limit: Limit = 50,
) -> list[GatedOut]:
    query = select(GatedTrack).order_by(GatedTrack.created_at.desc())
    if artist is not None:
        query = query.where(GatedTrack.artist == to_checksum_address(artist))
    async with services.sessions() as session:
        rows = (await session.execute(query.limit(limit))).scalars()
        return [
            GatedOut(
                cid=r.cid, artist=r.artist, title=r.title, size=r.size, created_at=r.created_at
            )
            for r in rows
        ]


def _when(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M UTC")


@router.post(
    "/gated/{cid}/key",
    summary="The key of a supporters-only track, for an active supporter",
    responses=error_responses(401, 403, 404, 503),
)
async def gated_key(
    cid: str, caller: CurrentAddress, services: ServicesDep, market: MarketDep, response: Response
) -> GatedKeyOut:
    if not is_cid(cid):
        raise HTTPException(404, f"{cid[:80]} is not a CID")
    cid = normalise_cid(cid)
    async with services.sessions() as session:
        row = await session.get(GatedTrack, cid)
    if row is None:
        raise HTTPException(404, f"{cid} is not a supporters-only track here")
    until: int | None = None
    if caller != row.artist:
        chain = market.require_chain()
        with chain_read():
            until, now = await asyncio.gather(
                chain.active_until(caller, row.artist), chain.chain_time()
            )
        if until == 0:
            raise HTTPException(
                403, f"Supporters only: subscribe to {row.artist} to unlock this track."
            )
        if until <= now:
            raise HTTPException(
                403,
                f"Supporters only: your subscription to {row.artist} ended on {_when(until)}; "
                "renew it to unlock this track.",
            )
    response.headers["Cache-Control"] = "no-store"
    key = market.keys.unwrap(row.wrapped_key, row.cid)
    return GatedKeyOut(
        cid=row.cid,
        algorithm="AES-256-GCM",
        key=base64.b64encode(key).decode(),
        nonce_bytes=12,
        active_until=until,
    )
