"""Mint as NFT: a published track's editions minted and put on sale, in one flow.

    outcome = await NftMinting(session, ipfs, confirm, work_dir).run(track, request)

1. The ERC-721 metadata (name, artist, artwork, `animation_url` = the audio itself,
   attributes: duration, loudness, ISRC when known) goes to IPFS.
2. One `mint_edition` per edition still to mint, each confirmed by the artist.
3. The marketplace is allowed to hand the editions over when they sell (once per wallet).
4. The editions are listed at the price, in one transaction.

Every transaction goes through `confirm(prepared, tracks)`: the window's confirmation dialog.
Declining sends nothing more and loses nothing: editions already minted stay the artist's,
and the next Mint as NFT of that track lists them before minting any more (the chain, not
local state, says which editions are the artist's and not on sale).
"""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address
from web3.logs import DISCARD

from chain import contracts
from chain.errors import ChainError
from media.cid import file_cid
from studio.errors import StudioError
from studio.logs import event
from studio.publishing.ipfs_client import IpfsError, KuboClient
from studio.publishing.publisher import TrackToRegister, _artwork_bytes, metadata_document
from studio.publishing.registrar import _call_chain as _on_chain
from studio.publishing.upload_queue import QueuedTrack, State
from studio.wallet.session import PreparedTx, WalletSession

log = logging.getLogger(__name__)

MAX_EDITIONS = 100  # the marketplace lists at most 100 tokens in one transaction
MAX_ROYALTY_PERCENT = Decimal(50)  # the NFT contract refuses more than 50 %
LISTED, DECLINED, FAILED = "listed", "declined", "failed"

ConfirmTx = Callable[[PreparedTx, Sequence[TrackToRegister]], Awaitable[bool]]


class MintInputError(StudioError):
    pass


@dataclass(frozen=True)
class MintRequest:
    editions: int
    price_wei: int  # each edition's price
    royalty_bps: int  # of every later sale, to the artist's split


def parse_price(text: str, symbol: str, what: str = "The price") -> int:
    """'0.5' (or '0,5') coins -> wei; MintInputError when it is not a price above zero."""
    try:
        coins = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        raise MintInputError(f"{what} is not a number of {symbol} (e.g. 0.5).") from None
    wei = coins * Decimal(10**18)
    if not coins.is_finite() or wei < 1 or wei != wei.to_integral_value():
        raise MintInputError(f"{what} must be above zero, in {symbol} (at most 18 decimals).")
    return int(wei)


def parse_mint_request(editions: int, price: str, royalty_percent: str, symbol: str) -> MintRequest:
    """What the artist typed -> a MintRequest; MintInputError says what to fix."""
    if not 1 <= editions <= MAX_EDITIONS:
        raise MintInputError(f"Mint between 1 and {MAX_EDITIONS} editions.")
    wei = parse_price(price, symbol)
    try:
        percent = Decimal(royalty_percent.strip().rstrip("%").strip() or "0")
    except InvalidOperation:
        raise MintInputError("The royalty is a percentage between 0 and 50.") from None
    bps = percent * 100
    if not percent.is_finite() or not 0 <= percent <= MAX_ROYALTY_PERCENT:
        raise MintInputError("The royalty is a percentage between 0 and 50.")
    if bps != bps.to_integral_value():
        raise MintInputError("The royalty can have at most two decimals (e.g. 7.25).")
    return MintRequest(editions, wei, int(bps))


def nft_metadata(track: QueuedTrack, gateway_url: str | None = None) -> dict[str, Any]:
    """The track's ERC-721 metadata for its editions: the publish metadata, with the artist
    named and `animation_url` the audio itself (not the streaming copy)."""
    document = metadata_document(track, gateway_url)
    document["artist"] = track.metadata.get("artist", "")
    document["animation_url"] = f"ipfs://{track.cid}"
    return document


@dataclass(frozen=True)
class MintOutcome:
    status: str  # listed | declined | failed
    minted: list[int] = field(default_factory=list)  # token ids minted by this run
    listed: list[int] = field(default_factory=list)  # token ids put on sale by this run
    error: str = ""  # a human sentence when declined or failed

    @property
    def text(self) -> str:
        """What happened, for the Library's status line."""
        if self.status == LISTED:
            count = len(self.listed)
            return f"{count} edition{'' if count == 1 else 's'} minted and on sale."
        return self.error


class NftMinting:
    def __init__(
        self,
        session: WalletSession,
        ipfs: KuboClient | None,
        confirm: ConfirmTx,
        work_dir: Path,
        gateway_url: str | None = None,
    ) -> None:
        self.session = session
        self.ipfs = ipfs
        self.confirm = confirm
        self.work_dir = work_dir
        self.gateway_url = gateway_url

    async def run(self, track: QueuedTrack, request: MintRequest) -> MintOutcome:
        if track.state is not State.LISTED or not track.cid:
            return _failed("Only a published track can be minted: publish it first.")
        if self.ipfs is None:
            return _failed("No IPFS node is set up: set one in Settings, then mint again.")
        minted: list[int] = []
        try:
            metadata_cid = await self._add_metadata(track)
            shown = TrackToRegister(
                track.cid,
                metadata_cid,
                track.title,
                await asyncio.to_thread(_artwork_bytes, track.outputs.get("artwork_path")),
            )
            waiting = await self._unlisted_editions(track.cid)
            for _ in range(max(0, request.editions - len(waiting))):
                token_id = await self._mint_one(shown, request.royalty_bps)
                if token_id is None:
                    return self._declined(minted, "the mint")
                minted.append(token_id)
            to_list = (waiting + minted)[: request.editions]
            if not await self._approve_market():
                return self._declined(minted, "letting the marketplace sell your editions")
            if not await self._list(to_list, request.price_wei):
                return self._declined(minted, "the listing")
        except (ChainError, StudioError) as exc:
            return _failed(str(exc), minted)
        event(log, "nft_listed", cid=track.cid, tokens=to_list, price_wei=str(request.price_wei))
        return MintOutcome(LISTED, minted, to_list)

    # -- steps --------------------------------------------------------------------------------

    async def _add_metadata(self, track: QueuedTrack) -> str:
        assert self.ipfs is not None
        document = nft_metadata(track, self.gateway_url)
        path = self.work_dir / str(track.id) / "nft-metadata.json"
        text = json.dumps(document, ensure_ascii=False, sort_keys=True, indent=1)

        def write() -> str:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return file_cid(path).cid

        metadata_cid = await asyncio.to_thread(write)
        try:
            await self.ipfs.add(path, expected_cid=metadata_cid)
        except IpfsError as exc:
            raise StudioError(f"The NFT's details could not be stored on IPFS: {exc}") from None
        return metadata_cid

    async def _unlisted_editions(self, cid: str) -> list[int]:
        """This track's editions the wallet minted to itself, still holds and has not put on
        sale (a run declined or stopped between minting and listing)."""
        nft = self.session.contract(contracts.TRACK_NFT)
        market = self.session.contract(contracts.MARKETPLACE)
        me = self.session.address

        def read() -> list[int]:
            minted = nft.events.EditionMinted.get_logs(
                argument_filters={"artist": me, "to": me}, from_block=0
            )
            found = []
            for entry in minted:
                token_id = int(entry["args"]["token_id"])
                if entry["args"]["cid"] != cid:
                    continue
                if to_checksum_address(nft.functions.ownerOf(token_id).call()) != me:
                    continue
                seller, _price = market.functions.listings(token_id).call()
                if to_checksum_address(seller) != me:
                    found.append(token_id)
            return found

        return await _on_chain(read)

    async def _send(
        self, name: str, function: str, args: tuple[Any, ...], shown: Sequence[TrackToRegister]
    ) -> dict[str, Any] | None:
        """Prepare, confirm, send and wait for one call; its receipt, or None if declined."""
        prepared = await self.session.prepare_call(name, function, *args)
        if not await self.confirm(prepared, shown):
            return None
        sent = await self.session.send(prepared)
        outcome = await self.session.wait(sent.hash)
        if outcome.status != "mined":
            reason = outcome.error or outcome.status
            raise StudioError(f"The transaction did not go through ({reason}).")
        receipt = self.session.contract(name).w3.eth.get_transaction_receipt
        return dict(await _on_chain(lambda: receipt(outcome.hash)))

    async def _mint_one(self, shown: TrackToRegister, royalty_bps: int) -> int | None:
        me = self.session.address
        args = (shown.cid, shown.metadata_cid, me, royalty_bps)
        receipt = await self._send(contracts.TRACK_NFT, "mint_edition", args, [shown])
        if receipt is None:
            return None
        nft = self.session.contract(contracts.TRACK_NFT)
        (minted,) = nft.events.EditionMinted().process_receipt(receipt, errors=DISCARD)
        return int(minted["args"]["token_id"])

    async def _approve_market(self) -> bool:
        nft = self.session.contract(contracts.TRACK_NFT)
        market = self.session.network.contract_address(contracts.MARKETPLACE)
        me = self.session.address
        if await _on_chain(nft.functions.isApprovedForAll(me, market).call):
            return True
        approval = (market, True)
        return await self._send(contracts.TRACK_NFT, "setApprovalForAll", approval, ()) is not None

    async def _list(self, token_ids: list[int], price_wei: int) -> bool:
        args = (token_ids, price_wei)
        return await self._send(contracts.MARKETPLACE, "list_tokens", args, ()) is not None

    @staticmethod
    def _declined(minted: list[int], step: str) -> MintOutcome:
        if not minted:
            text = f"You declined {step}; nothing was sent."
        else:
            count = len(minted)
            text = (
                f"You declined {step}. The {count} edition{'' if count == 1 else 's'} minted "
                "stay yours, not on sale: Mint as NFT again puts them on sale first."
            )
        event(log, "nft_mint_declined", step=step, minted=minted)
        return MintOutcome(DECLINED, minted, [], text)


def _failed(text: str, minted: list[int] | None = None) -> MintOutcome:
    event(log, "nft_mint_failed", error=text)
    return MintOutcome(FAILED, list(minted or []), [], text)
