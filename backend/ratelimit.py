"""Per-address token buckets for chat: `burst` messages at once, refilled at `rate` per second.

In-process by default; with Redis the bucket lives in Redis (one atomic script), so an address
gets the same allowance however many instances it spreads its messages over.
"""

import logging
import time
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class RateLimiter(Protocol):
    async def allow(self, key: str) -> bool: ...


class LocalRateLimiter:
    def __init__(self, burst: int, rate: float) -> None:
        self.burst, self.rate = burst, rate
        self._buckets: dict[str, tuple[float, float]] = {}

    async def allow(self, key: str) -> bool:
        return self.allow_now(key)

    def allow_now(self, key: str) -> bool:
        now = time.monotonic()
        tokens, since = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - since) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > 50_000:  # forget buckets that have refilled
            full = [
                k for k, (t, s) in self._buckets.items() if t + (now - s) * self.rate >= self.burst
            ]
            for k in full:
                del self._buckets[k]
        return allowed


_BUCKET = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 't', 's')
local tokens = tonumber(state[1]) or burst
local since = tonumber(state[2]) or now
tokens = math.min(burst, tokens + (now - since) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 's', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return allowed
"""


class RedisRateLimiter:
    PREFIX = "harmonie:ratelimit:"

    def __init__(self, client: aioredis.Redis, burst: int, rate: float) -> None:
        self.burst, self.rate = burst, rate
        self._script = client.register_script(_BUCKET)
        self._fallback = LocalRateLimiter(burst, rate)

    async def allow(self, key: str) -> bool:
        try:
            allowed = await self._script(keys=[self.PREFIX + key], args=[self.burst, self.rate])
        except (RedisError, OSError) as exc:
            # Redis is down: keep limiting, per instance, rather than not at all.
            log.warning("redis rate limit unavailable (%s); limiting locally", type(exc).__name__)
            return self._fallback.allow_now(key)
        return bool(allowed)


def make_rate_limiter(bus: object, burst: int, rate: float) -> RateLimiter:
    """Shared in Redis when the instance fans out over Redis, in-process otherwise."""
    client = getattr(bus, "client", None)
    if isinstance(client, aioredis.Redis):
        return RedisRateLimiter(client, burst, rate)
    return LocalRateLimiter(burst, rate)
