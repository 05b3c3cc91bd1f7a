"""The studio's client for the hosted backend: sign-in with the studio wallet (SIWE), a JWT kept
fresh, typed calls, and WebSocket subscriptions that reconnect with backoff and resume without
duplicates. Qt-free; the Chat dock and the Alerts feed consume the subscriptions.

    client = BackendClient(url, signer, chain_id=1114)
    await client.sign_in()
    async for event in client.chat(stream_id):          # ChatEvent, forever (reconnects)
        ...
    async for notification in client.notifications():   # Notification, forever
        ...

The signer is anything with an `address` and `sign_message(text) -> hex signature` (EIP-191
personal_sign; sync or async), so this module does not depend on the wallet implementation.
"""

# Over 450 lines on purpose: one client for the backend's whole API (SIWE sign-in with token
# refresh, REST calls, the WebSocket with resume), so every call shares one session and its tokens.

import asyncio
import contextlib
import inspect
import json
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
from eth_account.messages import SignableMessage, encode_defunct
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from backend.siwe import SiweMessage
from backend.wire import (
    ChatMessage,
    ChatSettings,
    LiveStream,
    Notification,
    NotificationsPage,
    Page,
    Profile,
    ProfileIn,
    ReviewIn,
    SearchResults,
    TokenPair,
    Track,
    TrackIn,
)
from studio.errors import StudioError

log = logging.getLogger(__name__)

REFRESH_MARGIN_S = 60.0
DEFAULT_STATEMENT = "Sign in to HarmonieCORE with this wallet."


class SiweSigner(Protocol):
    @property
    def address(self) -> str: ...

    def sign_message(self, text: str) -> "str | Awaitable[str]": ...


@dataclass(frozen=True)
class CallableSigner:
    """Adapts `(address, sign(text) -> hex)` to SiweSigner."""

    address: str
    sign: Callable[[str], "str | Awaitable[str]"]

    def sign_message(self, text: str) -> "str | Awaitable[str]":
        return self.sign(text)


class _Eip191Key(Protocol):
    @property
    def address(self) -> str: ...

    def sign_message(self, message: SignableMessage) -> Any: ...


def signer_for_key(key: _Eip191Key) -> CallableSigner:
    """Adapt a key whose sign_message takes an EIP-191 SignableMessage (the studio wallet's
    unlocked key returns signature bytes; an eth_account account returns a SignedMessage)."""

    def sign(text: str) -> str:
        signed = key.sign_message(encode_defunct(text=text))
        return "0x" + bytes(getattr(signed, "signature", signed)).hex()

    return CallableSigner(address=key.address, sign=sign)


class BackendClientError(StudioError):
    """A backend call failed; str() is a sentence for the person, `status` the HTTP status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SignInError(BackendClientError):
    pass


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, list):  # validation errors: field and reason of the first
        first = detail[0] if detail else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:])
        return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg"))
    return str(detail) if detail else f"HTTP {response.status_code}"


@dataclass
class _Tokens:
    pair: TokenPair
    expires_at: float


class BackendClient:
    def __init__(
        self,
        base_url: str,
        signer: SiweSigner | None = None,
        *,
        chain_id: int,
        statement: str = DEFAULT_STATEMENT,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.signer = signer
        # Awaited with the address after each sign-in (the studio makes the artist's
        # profile there on the first one).
        self.after_sign_in: Callable[[str], Awaitable[object]] | None = None
        self.chain_id = chain_id
        self.statement = statement
        self._http = http or httpx.AsyncClient(timeout=15.0)
        self._own_http = http is None
        self._clock = clock
        self._tokens: _Tokens | None = None
        self._auth_lock = asyncio.Lock()

    @property
    def address(self) -> str | None:
        return self._tokens.pair.address if self._tokens else None

    @property
    def ws_url(self) -> str:
        scheme, rest = self.base_url.split("://", 1)
        return ("wss" if scheme == "https" else "ws") + "://" + rest

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    # -- sign-in and tokens ----------------------------------------------------------------

    async def sign_in(self) -> TokenPair:
        """Sign a fresh SIWE message with the wallet and trade it for tokens."""
        if self.signer is None:
            raise SignInError("No wallet to sign in with: unlock or create the studio wallet.")
        nonce = (await self._raw("GET", "/auth/nonce")).json()["nonce"]
        url = urlsplit(self.base_url)
        message = SiweMessage(
            domain=url.netloc,
            address=self.signer.address,
            statement=self.statement,
            uri=self.base_url + "/",
            chain_id=self.chain_id,
            nonce=nonce,
            issued_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        ).to_text()
        signature = self.signer.sign_message(message)
        if inspect.isawaitable(signature):
            signature = await signature
        if not signature.startswith("0x"):
            signature = "0x" + signature
        response = await self._raw(
            "POST", "/auth/verify", json={"message": message, "signature": signature}
        )
        if response.status_code != 200:
            raise SignInError(
                f"The backend refused the sign-in: {_detail(response)}", response.status_code
            )
        pair = self._store(TokenPair.model_validate(response.json()))
        if self.after_sign_in is not None:
            await self.after_sign_in(self.signer.address)
        return pair

    async def ensure_profile(self, wanted: ProfileIn) -> Profile:
        """The signed-in address's profile; made from `wanted` the first time (never
        overwrites one the person already has). Call it after sign-in."""
        address = self.address or (self.signer.address if self.signer else None)
        if address is None or self._tokens is None:
            raise SignInError("Sign in before making the profile.")
        existing = await self.profile(address)
        if existing is not None:
            return existing
        # The token just stored, not access_token(): this runs from sign_in(), which may
        # itself run under access_token()'s lock.
        token = self._tokens.pair.access_token
        response = await self._raw(
            "PUT",
            f"/profiles/{address}",
            json=wanted.model_dump(mode="json"),
            headers={"Authorization": f"Bearer {token}"},
        )
        if response.status_code >= 400:
            raise BackendClientError(_detail(response), response.status_code)
        return Profile.model_validate(response.json())

    def _store(self, pair: TokenPair) -> TokenPair:
        self._tokens = _Tokens(pair=pair, expires_at=self._clock() + pair.expires_in)
        return pair

    async def _refresh(self) -> TokenPair:
        assert self._tokens is not None
        response = await self._raw(
            "POST", "/auth/refresh", json={"refresh_token": self._tokens.pair.refresh_token}
        )
        if response.status_code != 200:
            return await self.sign_in()  # refresh token gone (expired, revoked): sign again
        return self._store(TokenPair.model_validate(response.json()))

    async def access_token(self) -> str:
        """A token valid for at least REFRESH_MARGIN_S more seconds (refreshing or signing in)."""
        async with self._auth_lock:
            if self._tokens is None:
                await self.sign_in()
            elif self._tokens.expires_at - self._clock() < REFRESH_MARGIN_S:
                await self._refresh()
            assert self._tokens is not None
            return self._tokens.pair.access_token

    async def _force_renewal(self, stale_token: str) -> None:
        async with self._auth_lock:
            if self._tokens is not None and self._tokens.pair.access_token == stale_token:
                await self._refresh()

    # -- HTTP ------------------------------------------------------------------------------

    async def _raw(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, self.base_url + path, **kwargs)
        except httpx.TransportError as exc:
            raise BackendClientError(
                f"The backend at {self.base_url} cannot be reached ({type(exc).__name__})."
            ) from exc

    async def request(
        self, method: str, path: str, *, auth: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """One call; with auth, a 401 (token expired server-side) renews once and retries."""
        if not auth:
            response = await self._raw(method, path, **kwargs)
        else:
            token = await self.access_token()
            response = await self._raw(
                method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs
            )
            if response.status_code == 401:
                await self._force_renewal(token)
                token = await self.access_token()
                response = await self._raw(
                    method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs
                )
        if response.status_code >= 400:
            raise BackendClientError(_detail(response), response.status_code)
        return response

    # -- typed calls -------------------------------------------------------------------------

    async def profile(self, address: str) -> Profile | None:
        try:
            response = await self.request("GET", f"/profiles/{address}", auth=False)
        except BackendClientError as exc:
            if exc.status == 404:
                return None
            raise
        return Profile.model_validate(response.json())

    async def save_profile(self, profile: ProfileIn) -> Profile:
        address = self.address or (self.signer.address if self.signer else None)
        if address is None:
            raise SignInError("Sign in before editing the profile.")
        response = await self.request(
            "PUT", f"/profiles/{address}", json=profile.model_dump(mode="json")
        )
        return Profile.model_validate(response.json())

    async def list_track(self, track: TrackIn) -> Track:
        response = await self.request("POST", "/tracks", json=track.model_dump(mode="json"))
        return Track.model_validate(response.json())

    async def held_tracks(self, limit: int = 100, offset: int = 0) -> Page[Track]:
        """The tracks held for review, oldest first (this backend's reviewers only: 403)."""
        response = await self.request(
            "GET", "/review/held-tracks", params={"limit": limit, "offset": offset}
        )
        return Page[Track].model_validate(response.json())

    async def review_track(self, track_id: int, decision: ReviewIn) -> Track:
        """List a held track, or keep it off with a reason its artist is shown."""
        response = await self.request(
            "POST", f"/review/tracks/{track_id}", json=decision.model_dump(mode="json")
        )
        return Track.model_validate(response.json())

    async def search(self, query: str, limit: int = 10, offset: int = 0) -> SearchResults:
        response = await self.request(
            "GET", "/search", auth=False, params={"q": query, "limit": limit, "offset": offset}
        )
        return SearchResults.model_validate(response.json())

    async def live_now(self, limit: int = 20, offset: int = 0) -> Page[LiveStream]:
        response = await self.request(
            "GET", "/live", auth=False, params={"limit": limit, "offset": offset}
        )
        return Page[LiveStream].model_validate(response.json())

    async def go_live(self, title: str) -> LiveStream:
        response = await self.request("POST", "/streams", json={"title": title})
        return LiveStream.model_validate(response.json())

    async def end_stream(self, stream_id: str) -> LiveStream:
        response = await self.request("POST", f"/streams/{stream_id}/end")
        return LiveStream.model_validate(response.json())

    async def send_chat(
        self, stream_id: str, text: str, client_id: str | None = None
    ) -> ChatMessage:
        """Send once: retried after a dropped connection, the same client_id never duplicates."""
        client_id = client_id or uuid.uuid4().hex
        body = {"text": text, "client_id": client_id}
        for attempt in range(3):
            try:
                response = await self.request("POST", f"/streams/{stream_id}/chat", json=body)
                return ChatMessage.model_validate(response.json())
            except BackendClientError as exc:
                if exc.status is not None or attempt == 2:
                    raise
                await asyncio.sleep(0.5 * (attempt + 1))
        raise AssertionError("unreachable")

    async def delete_chat(self, stream_id: str, message_id: int) -> None:
        await self.request("DELETE", f"/streams/{stream_id}/chat/{message_id}")

    async def mute(self, stream_id: str, address: str, muted: bool = True) -> None:
        """Ban `address` from the artist's chats (no end), or lift a ban or a time-out."""
        await self.request("PUT" if muted else "DELETE", f"/streams/{stream_id}/mutes/{address}")

    async def time_out(self, stream_id: str, address: str, seconds: int) -> None:
        await self.request(
            "PUT", f"/streams/{stream_id}/timeouts/{address}", json={"seconds": seconds}
        )

    async def update_chat_settings(
        self,
        stream_id: str,
        *,
        slow_mode_s: int | None = None,
        blocked_words: list[str] | None = None,
    ) -> ChatSettings:
        """Change slow mode and/or the blocked words (artist or moderator); None keeps."""
        body: dict[str, Any] = {}
        if slow_mode_s is not None:
            body["slow_mode_s"] = slow_mode_s
        if blocked_words is not None:
            body["blocked_words"] = blocked_words
        response = await self.request(
            "PATCH", f"/streams/{stream_id}/moderation/settings", json=body
        )
        return ChatSettings.model_validate(response.json())

    async def notifications_page(
        self, *, before: int | None = None, limit: int = 50
    ) -> NotificationsPage:
        params: dict[str, Any] = {"limit": limit}
        if before is not None:
            params["before"] = before
        response = await self.request("GET", "/notifications", params=params)
        return NotificationsPage.model_validate(response.json())

    async def mark_read(self, up_to: int) -> int:
        response = await self.request("POST", "/notifications/read", json={"up_to": up_to})
        return int(response.json()["last_read_id"])

    # -- subscriptions -----------------------------------------------------------------------

    def chat(self, stream_id: str, *, write: bool = True) -> "ChatSubscription":
        """A stream's chat: history, then live events; `write` signs the socket in to send."""
        return ChatSubscription(self, stream_id, authenticate=write)

    def notifications(self, after: int = 0) -> "NotificationSubscription":
        return NotificationSubscription(self, after=after)


@dataclass(frozen=True)
class ChatEvent:
    """kind: message | deleted | muted | unmuted | settings | stream_ended | error."""

    kind: str
    message: ChatMessage | None = None
    data: dict[str, Any] = field(default_factory=dict)


class _Subscription:
    """Reconnects with exponential backoff (jittered); resumes after the last id it delivered and
    drops anything already delivered, so a consumer sees each event once."""

    path = ""
    authenticate = True
    initial_backoff_s = 0.2
    max_backoff_s = 10.0

    def __init__(self, client: BackendClient, after: int | None) -> None:
        self.client = client
        self.last_id = after
        self._seen: deque[int] = deque(maxlen=2000)
        self._ws: ClientConnection | None = None
        self._closed = False
        self.connected = asyncio.Event()
        self.reconnects = 0

    def _url(self) -> str:
        query = f"?after={self.last_id}" if self.last_id is not None else ""
        return f"{self.client.ws_url}{self.path}{query}"

    def _is_new(self, event_id: int) -> bool:
        if event_id in self._seen:
            return False
        self._seen.append(event_id)
        self.last_id = max(self.last_id or 0, event_id)
        return True

    def _events(self, frame: dict[str, Any]) -> list[Any]:
        raise NotImplementedError

    async def send(self, frame: dict[str, Any]) -> None:
        if self._ws is None:
            raise BackendClientError("Not connected to the backend right now; try again shortly.")
        await self._ws.send(json.dumps(frame))

    async def close(self) -> None:
        self._closed = True
        if self._ws is not None:
            await self._ws.close()

    async def __aiter__(self) -> AsyncIterator[Any]:
        attempt = 0
        while not self._closed:
            try:
                async with connect(self._url(), open_timeout=10, max_size=2**20) as ws:
                    self._ws = ws
                    if self.authenticate:
                        token = await self.client.access_token()
                        await ws.send(json.dumps({"type": "auth", "token": token}))
                    self.connected.set()
                    async for raw in ws:
                        attempt = 0
                        for event in self._events(json.loads(raw)):
                            yield event
            except (
                OSError,
                ConnectionClosed,
                InvalidHandshake,
                TimeoutError,
                BackendClientError,
            ) as exc:
                log.info("backend socket %s dropped: %s", self.path, type(exc).__name__)
            except InvalidURI as exc:
                raise BackendClientError(f"Bad backend address {self.client.base_url!r}.") from exc
            finally:
                self._ws = None
                self.connected.clear()
            if self._closed:
                return
            delay = min(self.max_backoff_s, self.initial_backoff_s * 2**attempt)
            attempt += 1
            self.reconnects += 1
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))


class ChatSubscription(_Subscription):
    def __init__(self, client: BackendClient, stream_id: str, authenticate: bool = True) -> None:
        super().__init__(client, after=None)
        self.stream_id = stream_id
        self.path = f"/streams/{stream_id}/chat/ws"
        self.authenticate = authenticate

    def _events(self, frame: dict[str, Any]) -> list[ChatEvent]:
        kind = frame.get("type")
        if kind == "history":
            messages = [ChatMessage.model_validate(m) for m in frame.get("messages", [])]
            events = [ChatEvent("message", m) for m in messages if self._is_new(m.id)]
            if "slow_mode_s" in frame:
                events.insert(0, ChatEvent("settings", data={"slow_mode_s": frame["slow_mode_s"]}))
            return events
        if kind == "message":
            message = ChatMessage.model_validate(frame["message"])
            return [ChatEvent("message", message)] if self._is_new(message.id) else []
        if kind in ("deleted", "muted", "unmuted", "settings", "stream_ended", "error"):
            return [ChatEvent(kind, data=frame)]
        return []

    async def say(self, text: str, client_id: str | None = None) -> None:
        await self.send({"type": "send", "text": text, "client_id": client_id or uuid.uuid4().hex})


class NotificationSubscription(_Subscription):
    path = "/notifications/ws"

    def __init__(self, client: BackendClient, after: int = 0) -> None:
        super().__init__(client, after=after)

    def _events(self, frame: dict[str, Any]) -> list[Notification]:
        kind = frame.get("type")
        if kind == "backlog":
            items = [Notification.model_validate(n) for n in frame.get("notifications", [])]
            return [n for n in items if self._is_new(n.id)]
        if kind == "notification":
            notification = Notification.model_validate(frame["notification"])
            return [notification] if self._is_new(notification.id) else []
        if kind == "error" and frame.get("code") == "unauthorized":
            # The token was refused (server restarted with a new key?): renew, then reconnect.
            with contextlib.suppress(Exception):
                self.client._tokens = None
        return []
