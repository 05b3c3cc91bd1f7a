"""How the studio's publishing is wired to the rest of it: the queue file, and the registrar,
minter and lister built from the studio's wallet and backend client at each pass.

Shared by the window (studio.publishing.service) and the `publish` command (its cli); the
composition root passes the Studio in; nothing here imports studio.core.
"""

from pathlib import Path
from typing import Any, Protocol

from studio.profiles import Profile
from studio.publishing.ipfs_client import KuboClient
from studio.publishing.publisher import Lister, Minter, Publisher, Registrar
from studio.publishing.upload_queue import UploadQueue
from studio.settings import Settings


class PublishingHost(Protocol):
    """What publishing needs of the studio (studio.core.Studio is one); the wallet, backend
    client, consent and explicit registrar/lister are looked up as optional attributes."""

    data_dir: Path
    settings: Settings
    profile: Profile
    backend_url: Any


QUEUE_FILE = "uploads.sqlite3"


def queue_path(studio: PublishingHost) -> Path:
    return studio.data_dir / QUEUE_FILE


def studio_registrar(studio: PublishingHost) -> Registrar | None:
    """The registrar on the studio's wallet when one is unlocked (None: tracks wait).

    Looks for `studio.registrar` first, then `studio.wallet` (a WalletSession) with the
    consent `studio.confirm_transaction`: the window's confirmation dialog, or the command
    line's. Without a consent there is no registrar: nothing is sent.
    """
    explicit = getattr(studio, "registrar", None)
    if explicit is not None:
        return explicit
    wallet = getattr(studio, "wallet", None)
    if wallet is None or not getattr(wallet, "address", None) or not wallet.unlocked:
        return None
    from studio.publishing.registrar import WalletRegistrar

    confirm = getattr(studio, "confirm_transaction", None)
    if confirm is None:
        return None
    return WalletRegistrar(wallet, confirm)


def studio_minter(studio: PublishingHost) -> Minter | None:
    """An NFT edition per track, when the artist turned `mint_nft` on in Settings."""
    if not studio.settings.get("mint_nft", False):
        return None
    from studio.publishing.registrar import WalletMinter, WalletRegistrar

    registrar = studio_registrar(studio)
    if not isinstance(registrar, WalletRegistrar):
        return None
    royalty = int(studio.settings.get("nft_royalty_bps", 1000))
    return WalletMinter(registrar.session, registrar.confirm, royalty_bps=royalty)


def studio_lister(studio: PublishingHost) -> Lister | None:
    """`studio.lister`, else the signed-in backend client (studio.backend_client); None: wait."""
    explicit = getattr(studio, "lister", None)
    if explicit is not None:
        return explicit
    client = getattr(studio, "backend_client", None)
    if client is None:
        return None
    from studio.publishing.publisher import BackendClientLister

    return BackendClientLister(client)


def ipfs_api_url(studio: PublishingHost) -> str | None:
    """The Kubo RPC API the studio adds to: Settings', else the profile's (the embedded one
    is served by the local backend); None when there is none (yet)."""
    from studio.profiles import EMBEDDED

    api_url = studio.settings.get("ipfs_api_url") or studio.profile.ipfs_api_url
    if api_url == EMBEDDED:
        api_url = studio.backend_url or ""
    return api_url or None


def gateway_url(studio: PublishingHost) -> str | None:
    """Where fans fetch the studio's content: Settings', else the local backend's gateway."""
    from studio.profiles import EMBEDDED

    embedded = studio.profile.ipfs_api_url == EMBEDDED
    return studio.settings.get("ipfs_gateway_url") or (studio.backend_url if embedded else None)


def rendition_for(studio: PublishingHost, asked: str | None = None) -> str | None:
    """The streaming rendition to make: `asked`, else the settings' (default opus); "none": none."""
    rendition = asked or studio.settings.get("rendition_format", "opus")
    return None if rendition == "none" else rendition


def publisher_for(
    studio: PublishingHost,
    queue: UploadQueue,
    ipfs: KuboClient | None,
    rendition: str | None,
) -> Publisher:
    """The pipeline on the studio's wallet, backend and settings, for the window and the CLI."""
    return Publisher(
        queue,
        ipfs,
        studio.data_dir / "uploads",
        registrar=studio_registrar(studio),
        lister=studio_lister(studio),
        minter=studio_minter(studio),
        rendition=rendition,
        gateway_url=studio.settings.get("ipfs_gateway_url") or None,
    )
