"""The chat of the show on air: follows one announced stream's room, sends, and moderates it
(delete, time out, ban, slow mode).

It opens when the stream announcer announces a show and closes when the show ends. Messages,
deletions and mutes arrive through the backend client's ChatSubscription (which reconnects
and resumes without duplicates); what the artist sends goes over HTTP, retried without
duplicates. Message text is plain text from strangers: views must never render it as markup.

    room = ChatRoom(studio.backend_client)
    room.follow(announcer)
    room.message_added.connect(view.add)
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

from backend.wire import ChatMessage, LiveStream
from chain.errors import WalletLockedError
from studio.errors import StudioError
from studio.signals import Signal
from studio.social.backend_client import (
    BackendClient,
    BackendClientError,
    ChatEvent,
    ChatSubscription,
)

if TYPE_CHECKING:
    from studio.social.stream_announcer import StreamAnnouncer

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_TEXT = 500  # the backend's ChatText limit
TIMEOUT_S = 600  # "Time out" in the Chat dock: ten minutes
SLOW_MODE_CHOICES = (0, 5, 30, 60, 300)  # seconds; 0 is off

STATE_TEXT = {
    "off air": "Not live: the chat opens when you go live with the wallet unlocked.",
    "connecting": "Joining the chat…",
    "open": "Chat is open.",
    "ended": "The show has ended; the chat is closed.",
}


class ChatRoomError(StudioError):
    """A chat action cannot be done; str() is a sentence for the artist."""


def short_address(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}" if len(address) > 12 else address


def sender_label(message: ChatMessage) -> str:
    """Display name when the sender has one, else the short address (plain text)."""
    return message.sender_name or short_address(message.sender)


class ChatRoom:
    def __init__(self, client: BackendClient) -> None:
        self.client = client
        self.stream: LiveStream | None = None
        self.state = "off air"  # off air | unavailable | connecting | open | ended
        self.detail = ""  # why the chat is unavailable
        self.messages: dict[int, ChatMessage] = {}  # oldest first
        # a deleted message's own broadcast can arrive after its deletion: never shown again
        self._deleted: set[int] = set()
        self.muted: set[str] = set()
        self.slow_mode_s = 0
        self.changed = Signal()  # (ChatRoom) state or stream changed
        self.message_added = Signal()  # (ChatMessage)
        self.message_deleted = Signal()  # (message id)
        self.mute_changed = Signal()  # (address, muted)
        self.notice = Signal()  # (sentence) something the artist should read
        self._subscription: ChatSubscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing: asyncio.Future[None] | None = None

    # -- state -----------------------------------------------------------------------------

    @property
    def status_text(self) -> str:
        if self.state == "unavailable":
            return f"No chat for this show. {self.detail}".strip()
        return STATE_TEXT.get(self.state, self.state)

    @property
    def is_artist(self) -> bool:
        """True when the signed-in studio owns this room (may delete and mute)."""
        stream, address = self.stream, self.client.address
        return bool(stream and address and stream.artist_address.lower() == address.lower())

    def _set_state(self, state: str, detail: str = "") -> None:
        self.state, self.detail = state, detail
        self.changed.emit(self)

    # -- open / close ----------------------------------------------------------------------

    def follow(self, announcer: "StreamAnnouncer") -> None:
        """Open with each announced show, close when it ends, say why when there is none."""
        announcer.announced.connect(self.open)
        announcer.ended.connect(self._on_ended)
        announcer.unavailable.connect(self.set_unavailable)

    def open(self, stream: LiveStream) -> None:
        """Follow `stream`'s chat (closing any other first). Call on the event loop."""
        self._stop_following()
        self.stream = stream
        self.messages.clear()
        self._deleted.clear()
        self.muted.clear()
        self.slow_mode_s = 0
        self._subscription = self.client.chat(stream.id, write=False)
        self._task = asyncio.ensure_future(self._follow(self._subscription))
        self._set_state("connecting")

    def set_unavailable(self, reason: str) -> None:
        self._stop_following()
        self.stream = None
        self._set_state("unavailable", reason)

    def _on_ended(self, stream_id: str) -> None:
        if self.stream is not None and self.stream.id == stream_id:
            self._closing = asyncio.ensure_future(self.close())

    async def close(self) -> None:
        """Stop following; the messages stay readable until the next show opens."""
        task = self._stop_following()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.stream is not None and self.state != "ended":
            self._set_state("ended")

    def _stop_following(self) -> asyncio.Task[None] | None:
        self._subscription = None  # the reader task closes it as it ends
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
        return task

    async def _follow(self, subscription: ChatSubscription) -> None:
        watch = asyncio.ensure_future(self._watch_connection(subscription))
        try:
            # closed here, on this loop: left to the GC, its socket's close would run in a
            # finalizer that cannot await ("async generator ignored GeneratorExit")
            async with contextlib.aclosing(aiter(subscription)) as events:
                async for event in events:
                    self._apply(event)
                    if event.kind == "stream_ended":
                        break
        except BackendClientError as exc:
            self._set_state("unavailable", str(exc))
        finally:
            watch.cancel()
            await subscription.close()

    async def _watch_connection(self, subscription: ChatSubscription) -> None:
        await subscription.connected.wait()
        if self.state == "connecting":
            self._set_state("open")

    def _apply(self, event: ChatEvent) -> None:
        if event.kind == "message" and event.message is not None:
            if self.state == "connecting":
                self._set_state("open")
            self._add(event.message)
        elif event.kind == "deleted":
            self._remove(int(event.data.get("id", -1)))
        elif event.kind in ("muted", "unmuted"):
            self._set_muted(str(event.data.get("address", "")), event.kind == "muted")
        elif event.kind == "settings":
            self._set_slow_mode(int(event.data.get("slow_mode_s") or 0))
        elif event.kind == "stream_ended":
            self._set_state("ended")
        elif event.kind == "error":
            detail = str(event.data.get("detail") or event.data.get("code") or "chat error")
            self.notice.emit(f"Chat: {detail}")

    def _add(self, message: ChatMessage) -> None:
        if message.id in self.messages or message.id in self._deleted:
            return
        self.messages[message.id] = message
        self.message_added.emit(message)

    def _remove(self, message_id: int) -> None:
        self._deleted.add(message_id)
        if self.messages.pop(message_id, None) is not None:
            self.message_deleted.emit(message_id)

    def _set_muted(self, address: str, muted: bool) -> None:
        if not address or (address in self.muted) == muted:
            return
        (self.muted.add if muted else self.muted.discard)(address)
        self.mute_changed.emit(address, muted)

    def _set_slow_mode(self, seconds: int) -> None:
        if seconds != self.slow_mode_s:
            self.slow_mode_s = seconds
            self.changed.emit(self)

    # -- actions ---------------------------------------------------------------------------

    def _open_stream(self) -> LiveStream:
        if self.stream is None or self.state in ("off air", "unavailable", "ended"):
            raise ChatRoomError("The chat opens when you go live with the wallet unlocked.")
        return self.stream

    async def send(self, text: str) -> ChatMessage:
        """Post `text` as the artist; the message appears in the room at once."""
        # One line of printable text: the backend refuses control characters.
        text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
        if not text:
            raise ChatRoomError("Type a message first.")
        if len(text) > MAX_TEXT:
            raise ChatRoomError(f"Messages are at most {MAX_TEXT} characters.")
        stream = self._open_stream()
        message = await self._call(self.client.send_chat(stream.id, text))
        self._add(message)
        return message

    async def delete(self, message_id: int) -> None:
        stream = self._open_stream()
        self._must_own()
        await self._call(self.client.delete_chat(stream.id, message_id))
        self._remove(message_id)

    async def mute(self, address: str, muted: bool = True) -> None:
        """Ban `address` from your chats (muted=True), or lift a ban or a time-out."""
        stream = self._open_stream()
        self._must_own()
        await self._call(self.client.mute(stream.id, address, muted))
        self._set_muted(address, muted)

    async def time_out(self, address: str, seconds: int = TIMEOUT_S) -> None:
        stream = self._open_stream()
        self._must_own()
        await self._call(self.client.time_out(stream.id, address, seconds))
        self._set_muted(address, True)

    async def set_slow_mode(self, seconds: int) -> None:
        """Fans may send one message every `seconds` (0: off); you are never slowed."""
        stream = self._open_stream()
        self._must_own()
        settings = await self._call(
            self.client.update_chat_settings(stream.id, slow_mode_s=seconds)
        )
        self._set_slow_mode(settings.slow_mode_s)

    def _must_own(self) -> None:
        if not self.is_artist:
            raise ChatRoomError("Only the show's artist can moderate this chat.")

    @staticmethod
    async def _call(call: Awaitable[T]) -> T:
        try:
            return await call
        except WalletLockedError as exc:
            raise ChatRoomError("The wallet is locked: unlock it to write in the chat.") from exc
        except BackendClientError as exc:
            raise ChatRoomError(f"The chat refused that: {str(exc).rstrip('.')}.") from exc
