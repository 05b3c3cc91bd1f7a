"""Mint as NFT and the supporter tiers on the studio's wallet, IPFS node and consent: what
the window calls. The composition root passes the Studio in; nothing here imports
studio.core.

    outcome = await mint_track(studio, track, request)       # studio.market.minting
    tiers = await read_tiers(studio.wallet); await save_tiers(studio, tiers)
"""

from pathlib import Path
from typing import Any

from chain import contracts
from studio.market.minting import FAILED, MintOutcome, MintRequest, NftMinting
from studio.market.tiers import Tier, TierOutcome, TierUpdate
from studio.publishing.ipfs_client import KuboClient
from studio.publishing.upload_queue import QueuedTrack
from studio.publishing.wiring import gateway_url, ipfs_api_url

NFT_DIR = "nft"


def blocked_reason(studio: Any) -> str | None:
    """Why a sale or tier transaction cannot start now, in words; None: it can."""
    wallet = getattr(studio, "wallet", None)
    if wallet is None:
        return "This profile has no chain: set its RPC URL in the profile."
    if not wallet.address:
        return "Create or import a wallet first."
    configured = wallet.network.contracts
    if not configured.get(contracts.MARKETPLACE) or not configured.get(contracts.SUBSCRIPTIONS):
        return f"{wallet.network.name} has no marketplace or subscriptions contract set."
    if getattr(studio, "confirm_transaction", None) is None:
        return "Transactions are confirmed in the window; open the studio's window."
    return None


async def mint_track(studio: Any, track: QueuedTrack, request: MintRequest) -> MintOutcome:
    """Mint `request.editions` of a published track and list them (studio.market.minting)."""
    reason = blocked_reason(studio)
    if reason is not None:
        return MintOutcome(FAILED, error=reason)
    wallet = studio.wallet
    api_url = ipfs_api_url(studio)
    work_dir = Path(studio.data_dir) / NFT_DIR
    confirm = studio.confirm_transaction
    if api_url is None:
        return await NftMinting(wallet, None, confirm, work_dir).run(track, request)
    async with KuboClient(api_url) as ipfs:
        minting = NftMinting(wallet, ipfs, confirm, work_dir, gateway_url(studio))
        return await minting.run(track, request)


async def save_tiers(studio: Any, tiers: list[Tier]) -> TierOutcome:
    """Write the artist's tiers to the Subscriptions contract (studio.market.tiers)."""
    reason = blocked_reason(studio)
    if reason is not None:
        return TierOutcome(FAILED, reason)
    return await TierUpdate(studio.wallet, studio.confirm_transaction).run(tiers)
