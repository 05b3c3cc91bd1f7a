"""Fan-out between backend instances: in-process by default, Redis pub/sub with `--redis-url`.

Events are published as ready-to-send JSON text on a channel ("chat:<stream>", "user:<address>").
Every instance delivers what it receives to its own WebSocket clients (`backend.hub`). The
database stays the record: a client that missed events (reconnect, Redis blip) resumes from it.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

Deliver = Callable[[str, str], None]


class Bus(Protocol):
    async def start(self, deliver: Deliver) -> None: ...
    async def publish(self, channel: str, payload: str) -> None: ...
    async def close(self) -> None: ...
    async def status(self) -> dict[str, str]: ...


class InProcessBus:
    """One instance: publishing is delivering."""

    def __init__(self) -> None:
        self._deliver: Deliver | None = None

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def publish(self, channel: str, payload: str) -> None:
        if self._deliver is not None:
            self._deliver(channel, payload)

    async def close(self) -> None:
        self._deliver = None

    async def status(self) -> dict[str, str]:
        return {"status": "disabled", "detail": "single instance: in-process fan-out"}


class RedisBus:
    """Many instances: PUBLISH to Redis, and one PSUBSCRIBE per instance delivers locally."""

    PREFIX = "harmonie:"

    def __init__(self, url: str) -> None:
        self.url = url
        self._client = aioredis.from_url(url, decode_responses=True)
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self.publish_failures = 0

    @property
    def client(self) -> aioredis.Redis:
        return self._client

    async def start(self, deliver: Deliver) -> None:
        self._task = asyncio.create_task(self._listen(deliver), name="redis-fanout")
        # Wait briefly so events published right after startup are not missed; a Redis that
        # is down does not stop the instance (health reports it, the loop keeps retrying).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout=5.0)

    async def _listen(self, deliver: Deliver) -> None:
        backoff = 0.2
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(self.PREFIX + "*")
                self._subscribed.set()
                backoff = 0.2
                async for message in pubsub.listen():
                    if message.get("type") == "pmessage":
                        channel = message["channel"][len(self.PREFIX) :]
                        try:
                            deliver(channel, message["data"])
                        except Exception:  # one bad delivery must not stop fan-out
                            log.exception("fan-out delivery failed on %s", channel)
            except (RedisError, OSError) as exc:
                self._subscribed.clear()
                log.warning(
                    "redis fan-out lost (%s); retrying in %.1f s", type(exc).__name__, backoff
                )
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def publish(self, channel: str, payload: str) -> None:
        try:
            await self._client.publish(self.PREFIX + channel, payload)
        except (RedisError, OSError) as exc:
            # The event is already stored; clients catch up from the database on resume.
            self.publish_failures += 1
            log.warning("redis publish failed on %s: %s", channel, type(exc).__name__)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.aclose()

    async def status(self) -> dict[str, str]:
        try:
            await asyncio.wait_for(self._client.ping(), timeout=2.0)
        except (RedisError, OSError, TimeoutError) as exc:
            return {"status": "down", "detail": type(exc).__name__}
        if not self._subscribed.is_set():
            return {"status": "degraded", "detail": "not subscribed yet"}
        return {"status": "ok"}


def make_bus(redis_url: str | None) -> Bus:
    return RedisBus(redis_url) if redis_url else InProcessBus()
