"""The `Registrar` of the publish pipeline on the ContentRegistry contract (web3).

The signer is any eth-account `LocalAccount` (the unlocked wallet's); `confirm` is the
wallet's confirmation flow: it is shown what will be sent and returns False to refuse, in
which case nothing is sent. web3 is blocking, so every call runs in a worker thread.

The contract refuses a second registration of a CID; before sending, `find` asks it who
registered the CID, and a revert that says "already registered" is resolved by asking again,
so a transaction that landed while the app was killed is never sent twice.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import ContractLogicError, TimeExhausted, Web3Exception

from studio.errors import StudioError
from studio.publishing.publisher import Registration, TrackToRegister

log = logging.getLogger(__name__)

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
Confirm = Callable[[str], Awaitable[bool]]


class RegistrationRefused(StudioError):
    pass


async def always_confirm(_summary: str) -> bool:
    """For headless use with an already unlocked wallet: the command line is the consent."""
    return True


class ContentRegistryRegistrar:
    def __init__(
        self,
        w3: Web3,
        registry_address: str,
        account: LocalAccount,
        confirm: Confirm = always_confirm,
        receipt_timeout_s: float = 180.0,
    ) -> None:
        from chain import contracts  # chain owns the ABI

        self.w3 = w3
        self.account = account
        self.confirm = confirm
        self.receipt_timeout_s = receipt_timeout_s
        self.registry = contracts.deployed(contracts.CONTENT_REGISTRY, w3, registry_address)

    async def find(self, cid: str) -> Registration | None:
        artist = await self._call(self.registry.functions.artist_of(cid).call)
        if not artist or int(artist, 16) == 0:
            return None
        mine = Web3.to_checksum_address(artist) == self.account.address
        return Registration(
            cid=cid, artist=Web3.to_checksum_address(artist), tx_hash=None, mine=mine
        )

    async def register(
        self, cid: str, metadata_cid: str, on_submitted: Callable[[str], None]
    ) -> Registration:
        summary = (
            f"Register track {cid} (metadata {metadata_cid}) in the content registry "
            f"{self.registry.address} from {self.account.address}."
        )
        if not await self.confirm(summary):
            raise RegistrationRefused("You declined the registry transaction; nothing was sent.")
        try:
            tx_hash = await asyncio.to_thread(self._send, cid, metadata_cid)
        except ContractLogicError as exc:
            existing = await self.find(cid)
            if existing is not None and existing.mine:
                return existing
            raise RegistrationRefused(
                f"The content registry refused the track: {_reason(exc)}"
            ) from None
        on_submitted(tx_hash)
        try:
            receipt = await asyncio.to_thread(
                self.w3.eth.wait_for_transaction_receipt, tx_hash, self.receipt_timeout_s, 0.2
            )
        except TimeExhausted:
            raise StudioError(
                f"The registry transaction {tx_hash} is not mined yet; "
                "the studio checks again on retry."
            ) from None
        if receipt["status"] != 1:
            existing = await self.find(cid)
            if existing is not None and existing.mine:
                return existing
            raise RegistrationRefused(f"The registry transaction {tx_hash} was reverted.")
        return Registration(cid=cid, artist=self.account.address, tx_hash=tx_hash, mine=True)

    def _send(self, cid: str, metadata_cid: str) -> str:
        address = self.account.address
        tx = self.registry.functions.register(cid, metadata_cid).build_transaction(
            {"from": address, "nonce": self.w3.eth.get_transaction_count(address, "pending")}
        )
        signed = self.account.sign_transaction(tx)
        return self.w3.eth.send_raw_transaction(signed.raw_transaction).to_0x_hex()

    async def _call(self, fn: Callable[[], Any]) -> Any:
        try:
            return await asyncio.to_thread(fn)
        except (Web3Exception, OSError) as exc:
            raise StudioError(f"The chain node cannot be reached ({type(exc).__name__}).") from None


def _reason(exc: ContractLogicError) -> str:
    text = str(exc.message if hasattr(exc, "message") and exc.message else exc)
    return text.removeprefix("execution reverted: ")


# Consent to one transaction: the window's confirmation dialog, or the command line's
# (`publish --yes`, or a question on its terminal). There is no default: nothing is sent
# without one. It is given the `PreparedTx` and, for a registration, the tracks it carries
# (titles and artwork: what the artist recognises).
ConfirmPrepared = Callable[..., Awaitable[bool]]


class WalletRegistrar:
    """The `Registrar` on the studio's `WalletSession`: its fees, nonces, transaction store
    and confirmation flow. `confirm(prepared, tracks)` is the window's confirmation dialog
    (it gets the `PreparedTx`, whose description says what the transaction does, and the
    tracks it registers); False sends nothing.

    Several tracks go in one `register_many` transaction when the deployed registry has it
    (one track: `register`, which costs less). A registration the wallet already has in
    flight (sent before a crash) is followed, not sent again; one the node dropped is sent
    once more, after the registry says the CIDs are still not ours.
    """

    def __init__(
        self,
        session: Any,  # studio.wallet.session.WalletSession
        confirm: ConfirmPrepared,
        receipt_timeout_s: float = 180.0,
    ) -> None:
        self.session = session
        self.confirm = confirm
        self.receipt_timeout_s = receipt_timeout_s

    def _registry(self) -> Any:
        from chain import contracts

        return self.session.contract(contracts.CONTENT_REGISTRY)

    async def find(self, cid: str) -> Registration | None:
        registry = self._registry()
        artist = await _call_chain(registry.functions.artist_of(cid).call)
        if not artist or int(artist, 16) == 0:
            return None
        artist = Web3.to_checksum_address(artist)
        return Registration(
            cid=cid, artist=artist, tx_hash=None, mine=artist == self.session.address
        )

    async def register(
        self, cid: str, metadata_cid: str, on_submitted: Callable[[str], None]
    ) -> Registration:
        (registered,) = await self.register_many(
            [TrackToRegister(cid, metadata_cid, cid)], on_submitted
        )
        return registered

    async def register_many(
        self, tracks: Sequence[TrackToRegister], on_submitted: Callable[[str], None]
    ) -> list[Registration]:
        if not tracks:
            return []
        if len(tracks) > 1 and not await self._has_batch():
            # a registry deployed before `register_many`: one transaction per track
            return [r for t in tracks for r in await self.register_many([t], on_submitted)]
        call = _call_for(tracks)
        for attempt in (1, 2):  # a transaction the node dropped is sent once more
            tx_hash = await self._in_flight(call)
            if tx_hash is None:
                registered = await self._send(call, tracks)
                if isinstance(registered, list):
                    return registered
                tx_hash = registered
            on_submitted(tx_hash)
            outcome = await self.session.wait(tx_hash, self.receipt_timeout_s)
            if outcome.status == "mined":
                return [
                    Registration(t.cid, self.session.address, outcome.hash, mine=True)
                    for t in tracks
                ]
            ours = await self._all_mine(tracks, outcome.hash)
            if ours is not None:
                return ours
            if outcome.status != "dropped":
                break
            log.warning("registration %s dropped (attempt %d): %s", tx_hash, attempt, outcome.error)
        if outcome.status == "pending":
            raise StudioError(
                f"The registry transaction {tx_hash} is not mined yet; "
                "the studio checks again on retry."
            )
        reason = outcome.error or "no reason given"
        raise RegistrationRefused(
            f"The registry transaction {outcome.hash} {outcome.status}: {reason}."
        )

    async def _has_batch(self) -> bool:
        """Whether the deployed registry has `register_many` (an empty batch is a no-op)."""
        batch = self._registry().functions.register_many([], [])

        def probe() -> bool:
            try:
                batch.call({"from": self.session.address})
            except ContractLogicError:  # no such function: the call reverts
                return False
            return True

        return bool(await _call_chain(probe))

    async def _all_mine(
        self, tracks: Sequence[TrackToRegister], tx_hash: str | None
    ) -> list[Registration] | None:
        found = [await self.find(t.cid) for t in tracks]
        if all(f is not None and f.mine for f in found):
            return [Registration(t.cid, str(self.session.address), tx_hash) for t in tracks]
        return None

    async def _in_flight(self, call: tuple[str, tuple[Any, ...]]) -> str | None:
        from chain import contracts

        function, args = call
        record = await self.session.in_flight_call(contracts.CONTENT_REGISTRY, function, *args)
        return record.hash if record is not None else None

    async def _send(
        self, call: tuple[str, tuple[Any, ...]], tracks: Sequence[TrackToRegister]
    ) -> list[Registration] | str:
        """Prepare, confirm and send the registration: its hash, or the registrations the
        chain already holds when the estimate says the CIDs are taken (by us)."""
        from chain import contracts
        from chain.errors import ChainError

        function, args = call
        try:
            prepared = await self.session.prepare_call(contracts.CONTENT_REGISTRY, function, *args)
        except ChainError as exc:  # the estimate reverted: maybe it is ours already
            ours = await self._all_mine(tracks, None)
            if ours is not None:
                return ours
            raise RegistrationRefused(f"The content registry refused the track: {exc}") from None
        if not await self.confirm(prepared, tracks):
            raise RegistrationRefused("You declined the registry transaction; nothing was sent.")
        sent = await self.session.send(prepared)
        return str(sent.hash)


def _call_for(tracks: Sequence[TrackToRegister]) -> tuple[str, tuple[Any, ...]]:
    """(function, args): `register` for one track (it costs less), else one batch."""
    if len(tracks) == 1:
        return "register", (tracks[0].cid, tracks[0].metadata_cid)
    return "register_many", ([t.cid for t in tracks], [t.metadata_cid for t in tracks])


async def _call_chain(fn: Callable[[], Any]) -> Any:
    try:
        return await asyncio.to_thread(fn)
    except (Web3Exception, OSError) as exc:
        raise StudioError(f"The chain node cannot be reached ({type(exc).__name__}).") from None


class WalletMinter:
    """Optional first-edition NFT of a registered track (TrackNFT.mint_edition), once.

    The contract counts editions per CID, so "already minted" is read from the chain rather
    than from local state: a mint that landed while the app was killed is not repeated.
    """

    def __init__(
        self,
        session: Any,  # studio.wallet.session.WalletSession
        confirm: ConfirmPrepared,
        royalty_bps: int = 1000,
        receipt_timeout_s: float = 180.0,
    ) -> None:
        self.session = session
        self.confirm = confirm
        self.royalty_bps = royalty_bps
        self.receipt_timeout_s = receipt_timeout_s

    async def editions(self, cid: str) -> int:
        from chain import contracts

        nft = self.session.contract(contracts.TRACK_NFT)
        key = Web3.keccak(text=cid)
        return int(await _call_chain(nft.functions.editions_minted(key).call))

    async def mint(
        self,
        cid: str,
        metadata_cid: str,
        on_submitted: Callable[[str], None],
        track: TrackToRegister | None = None,
    ) -> str:
        from chain import contracts
        from chain.errors import ChainError

        try:
            prepared = await self.session.prepare_call(
                contracts.TRACK_NFT,
                "mint_edition",
                cid,
                metadata_cid,
                self.session.address,
                self.royalty_bps,
            )
        except ChainError as exc:
            raise RegistrationRefused(f"The NFT contract refused the mint: {exc}") from None
        if not await self.confirm(prepared, [track] if track is not None else []):
            raise RegistrationRefused("You declined the NFT mint; nothing was sent.")
        sent = await self.session.send(prepared)
        on_submitted(sent.hash)
        outcome = await self.session.wait(sent.hash, self.receipt_timeout_s)
        if outcome.status != "mined":
            reason = outcome.error or outcome.status
            raise StudioError(f"The NFT mint {sent.hash} did not go through ({reason}).")
        return outcome.hash
