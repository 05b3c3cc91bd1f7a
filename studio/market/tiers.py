"""Supporter tiers (up to 5: a name and a price per 30 days), read from and written to the
Subscriptions contract. Writing goes through the window's confirmation dialog.

    tiers = parse_tiers([("Supporter", "0.05"), ("", "")], "tCORE2")   # blank rows skipped
    outcome = await TierUpdate(session, confirm).run(tiers)
"""

import logging
from dataclasses import dataclass

from chain import contracts
from chain.errors import ChainError
from studio.errors import StudioError
from studio.logs import event
from studio.market.minting import DECLINED, FAILED, ConfirmTx, MintInputError, parse_price
from studio.publishing.registrar import _call_chain
from studio.wallet.session import WalletSession

log = logging.getLogger(__name__)

MAX_TIERS = 5
MAX_NAME_CHARS = 64  # the contract's String[64], in bytes
SAVED = "saved"


class TierInputError(MintInputError):
    pass


@dataclass(frozen=True)
class Tier:
    name: str
    price_wei: int  # per 30 days


def parse_tiers(rows: list[tuple[str, str]], symbol: str) -> list[Tier]:
    """(name, price) rows as typed -> tiers; rows left blank are skipped. TierInputError names
    the row to fix."""
    tiers = []
    for number, (name, price) in enumerate(rows, start=1):
        name, price = name.strip(), price.strip()
        if not name and not price:
            continue
        if not name:
            raise TierInputError(f"Tier {number} needs a name.")
        if len(name.encode("utf-8")) > MAX_NAME_CHARS:
            raise TierInputError(f"Tier {number}'s name is too long (at most 64 letters).")
        if not price:
            raise TierInputError(f"Tier {number} needs a price per 30 days.")
        tiers.append(Tier(name, parse_price(price, symbol, f"Tier {number}'s price")))
    if len(tiers) > MAX_TIERS:
        raise TierInputError(f"At most {MAX_TIERS} tiers.")
    return tiers


async def read_tiers(session: WalletSession) -> list[Tier]:
    """The artist's tiers as the contract holds them (StudioError: cannot be read)."""
    if session.address is None:
        return []
    try:
        contract = session.contract(contracts.SUBSCRIPTIONS)
    except ChainError as exc:  # not connected, or no such contract on this network
        raise StudioError(str(exc)) from None
    rows = await _call_chain(contract.functions.tiers_of(session.address).call)
    return [Tier(str(name), int(price)) for name, price in rows]


@dataclass(frozen=True)
class TierOutcome:
    status: str  # saved | declined | failed
    error: str = ""


class TierUpdate:
    def __init__(self, session: WalletSession, confirm: ConfirmTx) -> None:
        self.session = session
        self.confirm = confirm

    async def run(self, tiers: list[Tier]) -> TierOutcome:
        names = [t.name for t in tiers]
        prices = [t.price_wei for t in tiers]
        try:
            prepared = await self.session.prepare_call(
                contracts.SUBSCRIPTIONS, "set_tiers", names, prices
            )
            if not await self.confirm(prepared, ()):
                return TierOutcome(DECLINED, "You declined; your tiers are as they were.")
            sent = await self.session.send(prepared)
            outcome = await self.session.wait(sent.hash)
        except (ChainError, StudioError) as exc:
            return _failed(str(exc))
        if outcome.status != "mined":
            return _failed(f"The tiers were not saved: {outcome.error or outcome.status}.")
        event(log, "tiers_saved", count=len(tiers), tx_hash=outcome.hash)
        return TierOutcome(SAVED)


def _failed(text: str) -> TierOutcome:
    event(log, "tiers_failed", error=text)
    return TierOutcome(FAILED, text)
