"""Tells the backend when the artist goes live, so fans find the show and its chat exists.

When a show starts with a WHIP URL, the announcer signs in with the studio wallet (the
backend client does SIWE), announces the show (`POST /streams` -> stream id) and, when the
ingest is the backend's own relay, publishes to `<backend>/whip/<stream id>` with the access
token, asked afresh for each WHIP request so a long show outlives it: relay stream, chat
room and discovery entry are then one and the same. An external WHIP ingest keeps its URL
and key; the show is still announced so fans see it and can chat.

When sign-in is not possible (wallet locked, no account, backend unreachable, no artist
profile) the show goes on exactly as asked (the panel's ingest URL and key) and the session
says why it was not announced. When the show ends or fails, the stream is ended on the backend.

    announcer = StreamAnnouncer(studio.backend_client, studio.live)   # hooks the session
    announcer.announced.connect(chat_room.open)
"""

import asyncio
import contextlib
import logging
from dataclasses import replace

from backend.wire import LiveStream
from chain.errors import WalletLockedError
from studio.live.session import LiveOptions, LiveSession
from studio.signals import Signal
from studio.social.backend_client import BackendClient, BackendClientError

log = logging.getLogger(__name__)

DEFAULT_TITLE = "Live now"
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


class StreamAnnouncer:
    def __init__(self, client: BackendClient, session: LiveSession) -> None:
        self.client = client
        self.session = session
        self.stream: LiveStream | None = None  # the announced show, while it lasts
        self.announced = Signal()  # (LiveStream) announced: its chat room exists
        self.ended = Signal()  # (stream id) the announced show is over
        self.unavailable = Signal()  # (sentence) live without an announcement, and why
        self._ending: asyncio.Future[None] | None = None
        session.options_resolver = self.resolve
        session.state_changed.connect(self._on_state)

    def detach(self) -> None:
        if self.session.options_resolver == self.resolve:
            self.session.options_resolver = None
        self.session.state_changed.disconnect(self._on_state)

    async def resolve(self, options: LiveOptions) -> LiveOptions:
        """LiveSession.options_resolver: announce the show, point the publisher at it."""
        await self._wait_ending()
        if not options.whip_url:
            return options  # recording only: nothing public to announce
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
            reason = reason or "The backend did not announce the show."
            self.session.say(f"{reason} {NOT_ANNOUNCED}")
            self.unavailable.emit(reason)
            return options
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
        return options

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
