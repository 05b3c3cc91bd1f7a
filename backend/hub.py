"""This instance's WebSocket subscribers, by channel, each with its own bounded send queue.

A payload is serialised once and handed to every subscriber; a subscriber that falls too far
behind is closed (it reconnects and resumes from the database) rather than slowing the room.
"""

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable

MAX_PENDING = 2000


class Subscriber:
    def __init__(self, send: Callable[[str], Awaitable[None]], hub: "Hub") -> None:
        self._send = send
        self._hub = hub
        self._pending: deque[str] = deque()
        self._wake = asyncio.Event()
        self._paused = True
        self.overflowed = asyncio.Event()

    def offer(self, payload: str) -> None:
        if len(self._pending) >= MAX_PENDING:
            self.overflowed.set()
            return
        self._pending.append(payload)
        if not self._paused:
            self._wake.set()

    def take_buffered(self) -> list[str]:
        """While paused (joining), events are only buffered; the joiner filters them."""
        items = list(self._pending)
        self._pending.clear()
        return items

    def resume(self) -> None:
        self._paused = False
        self._wake.set()

    async def run(self) -> None:
        """Send queued payloads until cancelled (the owner watches `overflowed`)."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                await self._send(self._pending.popleft())
                self._hub.delivered += 1


class Hub:
    def __init__(self) -> None:
        self._channels: dict[str, set[Subscriber]] = {}
        self._per_client: dict[str, int] = {}
        self.delivered = 0

    def admit(self, client: str, limit: int) -> bool:
        """Count one more socket for `client` unless it already holds `limit` (0: no cap)."""
        held = self._per_client.get(client, 0)
        if limit and held >= limit:
            return False
        self._per_client[client] = held + 1
        return True

    def release(self, client: str) -> None:
        held = self._per_client.get(client, 0) - 1
        if held > 0:
            self._per_client[client] = held
        else:
            self._per_client.pop(client, None)

    def subscriber(self, send: Callable[[str], Awaitable[None]]) -> Subscriber:
        return Subscriber(send, self)

    def subscribe(self, channel: str, subscriber: Subscriber) -> None:
        self._channels.setdefault(channel, set()).add(subscriber)

    def unsubscribe(self, channel: str, subscriber: Subscriber) -> None:
        members = self._channels.get(channel)
        if members is not None:
            members.discard(subscriber)
            if not members:
                del self._channels[channel]

    def dispatch(self, channel: str, payload: str) -> None:
        for subscriber in tuple(self._channels.get(channel, ())):
            subscriber.offer(payload)

    def count(self, prefix: str = "") -> int:
        return sum(len(s) for c, s in self._channels.items() if c.startswith(prefix))

    def channel_size(self, channel: str) -> int:
        return len(self._channels.get(channel, ()))


async def cancel(task: asyncio.Task[None] | None) -> None:
    """Cancel and reap a task (also reaps a finished one, so its exception is not reported)."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
