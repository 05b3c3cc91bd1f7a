"""Tells the backend when the artist goes live, so fans find the show and its chat exists.

When a show starts with a WHIP URL, the announcer signs in with the studio wallet (the
backend client does SIWE), announces the show (`POST /streams` -> stream id) and, when the
ingest is the backend's own relay, publishes to `<backend>/whip/<stream id>` with the access
token, asked afresh for each WHIP request so a long show outlives it: relay stream, chat
room and discovery entry are then one and the same. An external WHIP ingest keeps its URL
and key; the show is still announced so fans see it and can chat.

When sign-in is not possible (wallet locked, no account, backend unreachable, no artist
profile) the show goes on exactly as asked (the panel's ingest URL and key) and the session
says why it was not announced. Given the wallet session, the announcer tries again when the
wallet is unlocked mid-show: the show is announced then, and a show on the backend's
own relay moves to the announced stream (the recording goes on without a break). When the
show ends or fails, the stream is ended on the backend.

    announcer = StreamAnnouncer(studio.backend_client, studio.live, studio.wallet)
    announcer.announced.connect(chat_room.open)
    announcer.fan_page_url()   # the link fans watch the show at, while it is live
"""

import asyncio
import contextlib
import logging
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from backend.wire import LiveStream
from chain.errors import WalletLockedError
from studio.live.session import LiveOptions, LiveSession
from studio.signals import Signal
from studio.social.backend_client import BackendClient, BackendClientError

log = logging.getLogger(__name__)

DEFAULT_TITLE = "Live now"
LATE_RETRY_S = (0.0, 1.0, 3.0)  # the waits before each try to announce a show already live
NOT_ANNOUNCED = "Going live without announcing: fans will not find the show and there is no chat."


def sign_in_problem(exc: BaseException) -> str:
    """A sentence for the artist: why the studio could not sign in to the backend."""
    if isinstance(exc, WalletLockedError):
        return "The wallet is locked: unlock it to announce your show and open its chat."
    if isinstance(exc, BackendClientError):  # SignInError included: already a sentence
        return str(exc).rstrip(".") + "."
    return f"Signing in to the backend failed ({type(exc).__name__})."


def is_own_relay(whip_url: str, backend_url: str) -> bool:
    """True when `whip_url` publishes to the backend's own relay (which knows announced ids)."""
    prefix = backend_url.rstrip("/") + "/whip/"
    return whip_url.startswith(prefix) and "/" not in whip_url[len(prefix) :].strip("/")


def fan_page_url(backend_url: str, stream: str | None = None) -> str:
    """The backend's fan page, opened on `stream` when one is given."""
    page = backend_url.rstrip("/") + "/fan/"
    return f"{page}?stream={quote(stream, safe='')}" if stream else page


class StreamAnnouncer:
    def __init__(
        self,
        client: BackendClient,
        session: LiveSession,
        wallet: Any = None,  # studio.wallet.session.WalletSession: its unlock announces
    ) -> None:
        self.client = client
        self.session = session
        self.stream: LiveStream | None = None  # the announced show, while it lasts
        self.announced = Signal()  # (LiveStream) announced: its chat room exists
        self.ended = Signal()  # (stream id) the announced show is over
        self.unavailable = Signal()  # (sentence) live without an announcement, and why
        self._ending: asyncio.Future[None] | None = None
        self._late: asyncio.Future[None] | None = None  # announcing a show already live
        self._wallet = wallet
        self._was_unlocked = bool(wallet is not None and wallet.unlocked)
        session.options_resolver = self.resolve
        session.state_changed.connect(self._on_state)
        if wallet is not None:
            wallet.changed.connect(self._on_wallet_changed)

    def detach(self) -> None:
        if self.session.options_resolver == self.resolve:
            self.session.options_resolver = None
        self.session.state_changed.disconnect(self._on_state)
        if self._wallet is not None:
            self._wallet.changed.disconnect(self._on_wallet_changed)
            self._wallet = None

    def fan_page_url(self) -> str:
        """Where fans watch this show: the announced stream, else the relay stream the show
        publishes to, else the fan page's list of live shows."""
        if self.stream is not None:
            return fan_page_url(self.client.base_url, self.stream.id)
        options = self.session.options
        whip_url = options.whip_url if options is not None else None
        if whip_url and is_own_relay(whip_url, self.client.base_url):
            return fan_page_url(self.client.base_url, whip_url.rstrip("/").rsplit("/", 1)[-1])
        return fan_page_url(self.client.base_url)

    async def resolve(self, options: LiveOptions) -> LiveOptions:
        """LiveSession.options_resolver: announce the show, point the publisher at it."""
        await self._wait_ending()
        if not options.whip_url:
            return options  # recording only: nothing public to announce
        reason, options = await self._announce(options)
        if reason is not None:
            self.session.say(f"{reason} {NOT_ANNOUNCED}")
            self.unavailable.emit(reason)
        return options

    async def _announce(self, options: LiveOptions) -> tuple[str | None, LiveOptions]:
        """Sign in and announce the show: (None, the options to publish with), or (why not,
        the options unchanged)."""
        reason = self._cannot_sign_in()
        if reason is None:
            try:
                await self._sign_in_as_current_account()
            except (BackendClientError, WalletLockedError) as exc:
                reason = sign_in_problem(exc)
            except Exception as exc:  # never fail the show over the announcement
                log.warning("sign-in for the announcement failed", exc_info=True)
                reason = sign_in_problem(exc)
        if reason is None:
            try:
                self.stream = await self.client.go_live(options.title or DEFAULT_TITLE)
            except BackendClientError as exc:
                reason = f"The backend did not announce the show: {str(exc).rstrip('.')}."
            except WalletLockedError as exc:  # the token needed renewing with a signature
                reason = sign_in_problem(exc)
        if reason is not None or self.stream is None:
            return reason or "The backend did not announce the show.", options
        stream = self.stream
        if is_own_relay(options.whip_url, self.client.base_url):
            # The client's access_token itself, not its current value: the publisher asks it
            # for every (re)connection and the final DELETE, and the client refreshes it, so
            # a show outlives the token's lifetime (15 min).
            options = replace(
                options,
                whip_url=f"{self.client.base_url}/whip/{stream.id}",
                whip_token=self.client.access_token,
            )
        self.session.say(f"Announced “{stream.title}”: fans can find the show and chat.")
        self.announced.emit(stream)
        return None, options

    # -- announcing a show already live (the wallet was unlocked mid-show) -------------------

    def _on_wallet_changed(self, *_: object) -> None:
        """The wallet was just unlocked (not any other change): announce a show live
        unannounced."""
        unlocked = self._wallet is not None and self._wallet.unlocked
        just_unlocked, self._was_unlocked = unlocked and not self._was_unlocked, unlocked
        options = self.session.options
        wanted = (
            just_unlocked
            and self.session.state == "live"
            and self.stream is None
            and options is not None
            and bool(options.whip_url)
        )
        if wanted and (self._late is None or self._late.done()):
            self._late = asyncio.ensure_future(self.announce_live_show())

    async def announce_live_show(self) -> bool:
        """Announce the show that is live unannounced (on the backend's relay, it moves to
        the announced stream); True when it is announced now."""
        options = self.session.options
        if self.session.state != "live" or self.stream is not None or options is None:
            return False
        if not options.whip_url:
            return False
        before = options.whip_url
        for delay in LATE_RETRY_S:  # one unlock is one chance: a backend hiccup is retried
            await asyncio.sleep(delay)
            if self.session.state != "live" or self.stream is not None:
                return False
            reason, announced = await self._announce(options)
            if reason is None:
                break
            log.info("the show is still not announced: %s", reason)
        else:
            self.session.say(f"{reason} The show is still not announced.")
            return False
        if self.session.state != "live":  # ended while we announced: end the stream too
            await self.end()
            return False
        if announced.whip_url and announced.whip_url != before:
            await self.session.republish(announced.whip_url, announced.whip_token)
        return True

    async def _sign_in_as_current_account(self) -> None:
        """A token for the wallet's current account: after an account switch the client's
        tokens still name the previous one, and the show must not go out under that name."""
        signer, signed_in = self.client.signer, self.client.address
        if signer is not None and signed_in and signed_in.lower() != signer.address.lower():
            await self.client.sign_in()
        else:
            await self.client.access_token()

    def _cannot_sign_in(self) -> str | None:
        signer = self.client.signer
        if signer is None or not signer.address:
            return "No wallet account yet: create or import one to announce your show."
        return None

    # -- the end ---------------------------------------------------------------------------

    def _on_state(self, session: LiveSession) -> None:
        over = session.state in ("ended", "failed") and self.stream is not None
        if over and (self._ending is None or self._ending.done()):
            self._ending = asyncio.ensure_future(self.end())

    async def end(self) -> None:
        """End the announced stream on the backend (idempotent; failures become a message)."""
        stream, self.stream = self.stream, None
        if stream is None:
            return
        try:
            await self.client.end_stream(stream.id)
        except BackendClientError as exc:
            if exc.status != 404:
                self.session.say(
                    f"The backend was not told the show ended ({str(exc).rstrip('.')}); "
                    "it ends it when the relay sees the stream stop."
                )
        except Exception:
            log.warning("ending stream %s failed", stream.id, exc_info=True)
        finally:
            self.ended.emit(stream.id)

    async def _wait_ending(self) -> None:
        if self._ending is not None and not self._ending.done():
            with contextlib.suppress(Exception):
                await self._ending
        if self.stream is not None:  # a show that never reached ended/failed
            await self.end()

    async def aclose(self) -> None:
        """Finish ending the stream (before the backend client closes)."""
        await self._wait_ending()
        self.detach()
