"""The composition root: one `Studio` holds the profile, settings and every service.

The GUI and the headless commands both drive this object; neither knows how the backend is
started or where the chain is. Services report through `studio.signals.Signal`.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from backend.error_reports import start_error_reports
from studio import __version__, paths
from studio.errors import BackendStartError
from studio.local_backend import LocalBackend
from studio.logs import event
from studio.profiles import EMBEDDED, Profile
from studio.settings import Settings
from studio.signals import Signal

if TYPE_CHECKING:
    from studio.analytics.service import AnalyticsService
    from studio.live.session import LiveSession
    from studio.publishing.service import PublishService
    from studio.review.review_queue import ReviewQueue
    from studio.social.backend_client import BackendClient
    from studio.social.chat_room import ChatRoom
    from studio.social.stream_announcer import StreamAnnouncer
    from studio.tips.service import TipService
    from studio.wallet.session import ChainSeen, WalletSession

log = logging.getLogger(__name__)

HEALTH_INTERVAL_S = 5.0


@dataclass(frozen=True)
class StudioStatus:
    profile: str
    backend: str = (
        "stopped"  # stopped | starting | connected | unreachable | not configured | failed
    )
    backend_url: str | None = None
    backend_detail: str = ""
    chain: str = ""
    chain_state: str = "unknown"
    # said once, when the chain is not the one this studio knew (a local devnet deleted)
    chain_notice: str = ""

    def as_dict(self) -> dict[str, object]:
        return dict(vars(self))


class Studio:
    def __init__(
        self,
        profile: Profile,
        settings: Settings,
        data_dir: Path | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.profile = profile
        self.settings = settings
        # Opt-in (off by default): errors go to the DSN the artist set, scrubbed of secrets.
        start_error_reports(
            str(settings.get("error_reports_dsn") or ""), component="studio", release=__version__
        )
        self.data_dir = data_dir or paths.data_dir()
        self.log_dir = log_dir or paths.log_dir()
        self.local_backend: LocalBackend | None = (
            LocalBackend(self.data_dir / "backend", self.log_dir, registry=_registry_of(profile))
            if profile.embedded_backend
            else None
        )
        self.status = StudioStatus(profile=profile.name, chain=profile.chain.name)
        self.status_changed = Signal()
        self.health: dict[str, object] = {}
        self._monitor: asyncio.Task[None] | None = None
        # The journeys' services, built by start_services() once the backend answers. Each
        # that cannot start says why in the log and its own panel; none stops the others.
        self.live: LiveSession | None = None
        self.publish: PublishService | None = None
        self.wallet: WalletSession | None = None
        self.backend_client: BackendClient | None = None
        self.announcer: StreamAnnouncer | None = None  # shows announced to the backend
        self.chat_room: ChatRoom | None = None  # the announced show's chat
        self.tips: TipService | None = None
        self.analytics: AnalyticsService | None = None  # the artist's figures, from the backend
        self.review: ReviewQueue | None = None  # held tracks, for this backend's reviewers
        self._review_check: asyncio.Future[None] | None = None
        self.confirm_transaction: Any = None  # set by the window: its confirmation dialog
        self.services_ready = Signal()  # () once start_services() is done
        self.tips_changed = Signal()  # (TipService | None) when the watched artist changes
        self._backend_tips: asyncio.Future[None] | None = None
        self._tips_restart: asyncio.Future[None] | None = None
        self._tip_overlay: Any = None
        self.overlay_page: Any = None  # the OBS alert page (studio.tips.overlay_page)
        self._tips_wanted = False  # start_services() follows tips; start_wallet() alone does not

    @property
    def backend_url(self) -> str | None:
        if self.local_backend is not None:
            return self.local_backend.url if self.local_backend.port else None
        return self.profile.backend_url or None

    def _set_status(self, **changes: object) -> None:
        self.status = replace(self.status, **changes)
        self.status_changed.emit(self.status)

    async def start(self) -> None:
        """Start what the profile needs. Failures land in `status`, never as a silent exit."""
        if self.local_backend is not None:
            self._set_status(backend="starting")
            try:
                url = await self.local_backend.start()
            except BackendStartError as exc:
                log.error("local backend failed: %s", exc)
                self._set_status(backend="failed", backend_detail=str(exc))
                raise
            self._set_status(backend_url=url)
        elif not self.profile.backend_url:
            self._set_status(
                backend="not configured",
                backend_detail=f"Set a backend URL for the '{self.profile.name}' profile.",
            )
            return
        await self.check_health()
        self._monitor = asyncio.create_task(self._watch_health())

    async def check_health(self) -> dict[str, object]:
        url = self.backend_url
        if not url:
            return {}
        try:
            async with httpx.AsyncClient(timeout=3.0) as client:
                response = await client.get(f"{url}/health")
                response.raise_for_status()
                self.health = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            self.health = {}
            self._set_status(backend="unreachable", backend_url=url, backend_detail=str(exc))
            return {}
        chain = self.health.get("components", {}).get("chain", {})  # type: ignore[union-attr]
        chain_state = chain.get("status", "unknown") if isinstance(chain, dict) else "unknown"
        if self.profile.chain.rpc_url != EMBEDDED:
            chain_state = "remote"
        if self.wallet is not None:  # the wallet's own connection is the better witness
            chain_state = self.status.chain_state
        came_back = self.status.backend == "unreachable"
        self._set_status(
            backend="connected", backend_url=url, backend_detail="", chain_state=chain_state
        )
        # Tracks waiting on it go on by themselves, even after a blip shorter than our interval.
        if self.publish is not None and (came_back or self.publish.waiting_for_node()):
            self.publish.kick()
        return self.health

    async def _watch_health(self) -> None:
        while True:
            await asyncio.sleep(HEALTH_INTERVAL_S)
            await self.check_health()

    # -- the journeys' services ---------------------------------------------------------------
    @property
    def ingest_token(self) -> str | None:
        """The local backend's WHIP ingest token (read from its 0600 file), if there is one."""
        if self.local_backend is None:
            return None
        from backend.streams.keys import INGEST_TOKEN_FILE

        try:
            return (self.local_backend.data_dir / INGEST_TOKEN_FILE).read_text().strip() or None
        except OSError:
            return None

    def default_whip_url(self, stream: str = "live") -> str:
        url = self.settings.get("whip_url")
        if url:
            return str(url)
        return f"{self.backend_url}/whip/{stream}" if self.backend_url else ""

    async def start_services(self) -> None:
        """Build live, publishing, wallet, backend sign-in and tip alerts for this profile."""
        from studio.live.session import LiveSession, default_publisher_factory
        from studio.publishing.service import publish_service_for

        self.live = LiveSession(default_publisher_factory())
        self._tips_wanted = True
        await self.start_wallet()
        # After the wallet: the service follows its changes (an unlock resumes waiting tracks).
        self.publish = publish_service_for(self)
        self._on_chain_seen()
        if self.wallet is not None:
            await self._watch_tips()
        self._announce_shows()
        if self.backend_client is not None:
            from studio.analytics.service import AnalyticsService

            self.analytics = AnalyticsService(self.backend_client)
            from studio.review.review_queue import ReviewQueue

            self.review = ReviewQueue(self.backend_client)
        self.services_ready.emit()
        event(log, "services_ready", wallet=self.wallet is not None)

    def _announce_shows(self) -> None:
        """Shows started with a signed-in wallet are announced (live list, chat room)."""
        if self.backend_client is None or self.live is None:
            return
        from studio.social.chat_room import ChatRoom
        from studio.social.stream_announcer import StreamAnnouncer

        self.announcer = StreamAnnouncer(self.backend_client, self.live, self.wallet)
        self.chat_room = ChatRoom(self.backend_client)
        self.chat_room.follow(self.announcer)

    async def start_wallet(self) -> None:
        """Compose the wallet, for the window and `harmonie-studio publish` alike: a
        WalletSession on the profile's network, the remembered account (else the keyring's
        first) selected, and a BackendClient that signs in with it. Tip alerts are not part
        of it: start_services() adds them."""
        from backend.devnet import FAUCET_PATH
        from chain.errors import ChainError
        from chain.wallet import Wallet
        from studio.social.backend_client import BackendClient, CallableSigner
        from studio.wallet.session import WalletSession, network_for_profile

        try:
            network = await network_for_profile(self.profile.chain, self.backend_url)
        except (ChainError, httpx.HTTPError, KeyError, ValueError) as exc:
            log.warning("no chain for this profile: %s", exc)
            self._set_status(chain_state="unavailable")
            return
        local = self.profile.chain.rpc_url == EMBEDDED and self.backend_url
        faucet = f"{self.backend_url}{FAUCET_PATH}" if local else None  # coin for new wallets
        wallet = WalletSession(
            Wallet(), network, self.data_dir / "transactions.sqlite3", faucet_url=faucet
        )
        self.wallet = wallet
        try:
            await wallet.connect()
            self._set_status(chain_state=f"chain id {wallet.network.chain_id}")
        except (ChainError, OSError) as exc:
            log.warning("chain not reachable: %s", exc)
            self._set_status(chain_state="unreachable")
        try:
            accounts = await wallet.accounts()
        except ChainError as exc:  # no keyring: the wallet panel shows the way forward
            log.warning("wallet accounts unavailable: %s", exc)
            accounts = []
        remembered = self.settings.get("wallet_address")
        if accounts:
            wallet.select(remembered if remembered in accounts else accounts[0])
        if self.backend_url:

            def sign(text: str) -> str:
                return wallet.sign_text(text)

            self.backend_client = BackendClient(
                self.backend_url,
                CallableSigner(address=wallet.address or "", sign=sign),
                chain_id=network.chain_id,
            )
            self.backend_client.after_sign_in = self._after_sign_in
        wallet.changed.connect(self._on_wallet_changed)
        wallet.chain_seen.connect(self._on_chain_seen)

    def _on_chain_seen(self, seen: "ChainSeen | None" = None) -> None:
        """The wallet connected to a chain. When it is not the chain this studio knew (a
        local devnet deleted or reset), tracks registered on the old one are marked so, to
        be registered again, and the studio says it (once: the stores record the new chain)."""
        seen = seen or (self.wallet.chain if self.wallet is not None else None)
        if seen is None:
            return
        moved = self.publish.queue.adopt_chain(seen.genesis, seen.instance) if self.publish else []
        if not (seen.replaced or moved):
            return
        self._set_status(chain_notice=chain_replaced_notice(len(moved), seen.previous_txs))
        event(
            log,
            "chain_replaced",
            chain_id=seen.chain_id,
            genesis=seen.genesis,
            instance=seen.instance,
            tracks=len(moved),
            transactions=seen.previous_txs,
        )

    async def _after_sign_in(self, address: str) -> None:
        await self._ensure_artist_profile(address)
        if self.review is not None:  # a reviewer here gets the Review page
            # Not awaited: this runs inside sign_in, under the client's token lock.
            self._review_check = asyncio.ensure_future(self.review.check_quietly())

    async def _ensure_artist_profile(self, address: str) -> None:
        """Whoever signs in from the studio is an artist: the first sign-in makes their
        artist profile (named in Settings, else after the address) so their tracks can be
        listed and their shows announced. An existing profile is left as it is."""
        from backend.wire import ProfileIn
        from studio.social.backend_client import BackendClientError

        assert self.backend_client is not None
        name = str(self.settings.get("artist_name") or f"Artist {address[:6]}...{address[-4:]}")
        try:
            await self.backend_client.ensure_profile(ProfileIn(role="artist", display_name=name))
        except (BackendClientError, httpx.HTTPError) as exc:  # listing/announcing will say
            log.warning("could not make the artist profile: %s", exc)

    def _on_wallet_changed(self, *_: object) -> None:
        wallet = self.wallet
        if wallet is None:
            return
        if wallet.address and wallet.address != self.settings.get("wallet_address"):
            self.settings.set("wallet_address", wallet.address)
        if self.backend_client is not None and wallet.address:
            from studio.social.backend_client import CallableSigner

            self.backend_client.signer = CallableSigner(
                address=wallet.address, sign=wallet.sign_text
            )
        if not self._tips_wanted:  # a headless command: no tip alerts to follow
            return
        watched = self.tips.alerts.artist if self.tips is not None else None
        if wallet.address != watched:
            self._tips_restart = asyncio.ensure_future(self._restart_tips())
        elif wallet.unlocked:
            self._follow_backend_tips()

    def _follow_backend_tips(self) -> None:
        """Tips also arrive as backend notifications (signed in with the unlocked wallet);
        TipAlerts shows each (tx hash, log index) once whichever source is first."""
        if self._backend_tips is not None and not self._backend_tips.done():
            return
        if self.backend_client is None or self.tips is None:
            return
        from studio.social.backend_client import NotificationSubscription

        alerts = self.tips.alerts
        subscription = NotificationSubscription(self.backend_client)

        async def follow() -> None:
            try:
                await alerts.follow_backend(subscription)
            except Exception:  # the chain watcher still delivers every tip
                log.warning("backend tip notifications stopped", exc_info=True)
            finally:
                await subscription.close()

        self._backend_tips = asyncio.ensure_future(follow())

    async def _restart_tips(self) -> None:
        await self._stop_tips()
        await self._watch_tips()

    async def _watch_tips(self) -> None:
        """Follow Tipped events for the wallet's address (the artist) on the profile's chain."""
        wallet = self.wallet
        if wallet is None or not wallet.address or "tipping" not in wallet.network.contracts:
            self.tips_changed.emit(None)
            return
        from studio.tips.alert_rules import AlertRules, RulesError
        from studio.tips.alerts import price_from_settings
        from studio.tips.overlay import TipOverlayLink
        from studio.tips.overlay_page import OverlayServer, overlay_settings
        from studio.tips.service import TipService

        try:
            rules = AlertRules.from_settings(self.settings)
        except RulesError as exc:
            log.warning("alert rules not used (%s); alerts play with the default rules", exc)
            rules = AlertRules()
        self.tips = TipService(
            wallet.network,
            wallet.address,
            self.data_dir,
            price=price_from_settings(self.settings),
            rules=rules,
        )
        if self.backend_client is not None:  # fans by their profile names
            from studio.tips.fan_names import FanNames, profile_lookup

            self.tips.alerts.names = FanNames(profile_lookup(self.backend_client))
        if self.live is not None:  # tips drawn into the live picture for a few seconds
            enabled = bool(self.settings.get("tip_overlay", True))
            self._tip_overlay = TipOverlayLink(self.tips.queue, self.live.alert_overlay, enabled)
            self.tips.queue.follow_shows(self.live)  # "largest tip of this show"
        await self.tips.start()
        secret, port = overlay_settings(self.settings)
        self.overlay_page = OverlayServer(self.tips.queue, secret, port=port)
        try:
            await self.overlay_page.start()
        except OSError as exc:
            log.warning("the OBS alert page could not start on port %d: %s", port, exc)
            self.overlay_page = None
        self.tips_changed.emit(self.tips)
        if wallet.unlocked:
            self._follow_backend_tips()

    async def _stop_tips(self) -> None:
        if self.overlay_page is not None:
            await self.overlay_page.stop()
            self.overlay_page = None
        if self._tip_overlay is not None:
            self._tip_overlay.close()
            self._tip_overlay = None
        if self._backend_tips is not None:
            self._backend_tips.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._backend_tips
            self._backend_tips = None
        if self.tips is not None:
            await self.tips.stop()
        self.tips = None

    async def stop_services(self) -> None:
        await self._stop_services_but_preview()
        await self._stop_preview()

    async def _stop_preview(self) -> None:
        if self.live is not None:
            await self.live.stop_preview()  # lets go of the preview's devices

    async def _stop_services_but_preview(self) -> None:
        self._tips_wanted = False  # the wallet locking as it closes must not watch tips again
        if self.live is not None:
            await self.live.stop()  # ends a running show (and its recording) cleanly
        if self.announcer is not None:
            await self.announcer.aclose()  # the backend hears of the end before the client goes
        if self.chat_room is not None:
            await self.chat_room.close()
        await self._stop_tips()
        if self.publish is not None:
            await self.publish.aclose()
        if self._review_check is not None and not self._review_check.done():
            self._review_check.cancel()
        if self.backend_client is not None:
            await self.backend_client.aclose()
        if self.wallet is not None:
            await self.wallet.close()

    async def stop(self) -> None:
        # The preview (its devices and threads; a preview still opening is waited for) stops
        # beside the rest and the backend, not before them: in turn they took the quit past
        # its 5 s deadline on a loaded machine.
        preview = asyncio.ensure_future(self._stop_preview())
        await self._stop_services_but_preview()
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
            self._monitor = None
        if self.local_backend is not None:
            await self.local_backend.stop()
        await preview
        self._set_status(backend="stopped")
        event(log, "studio_stopped")


def chain_replaced_notice(tracks: int, transactions: int) -> str:
    """What the artist is told when the local chain is new (deleted or reset)."""
    text = "The local chain is new: the previous one was deleted or reset."
    if tracks:
        text += (
            f" {tracks} track{'s' if tracks != 1 else ''} registered on it "
            f'{"are" if tracks != 1 else "is"} marked "On a previous local chain": '
            "select one in the Library and press Register again."
        )
    if transactions:
        text += ' Its wallet transactions are kept, marked "previous chain".'
    return text


def _registry_of(profile: Profile) -> tuple[str, str] | None:
    """The content registry the studio registers on, when it is not the embedded devnet's."""
    from chain.contracts import CONTENT_REGISTRY  # web3 comes with it: not at startup

    address = profile.chain.contracts.get(CONTENT_REGISTRY)
    if profile.chain.rpc_url == EMBEDDED or not address:
        return None
    return profile.chain.rpc_url, address
