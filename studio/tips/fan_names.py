"""Fans by name: the display name of the backend profile behind a tipping address.

    names = FanNames(profile_lookup(studio.backend_client))
    await names.resolve("0x3C44…")   # "Ann", or None when the address has no profile

Answers (a name, or "no profile") are kept for `ttl_s`, lookups of one address in flight are
shared, and a backend that cannot be reached gives None without being remembered, so the
next tip asks again.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

NAME_TTL_S = 600.0


def profile_lookup(client: Any) -> Callable[[str], Awaitable[str | None]]:
    """address -> the profile's display name through a studio.social BackendClient."""

    async def lookup(address: str) -> str | None:
        profile = await client.profile(address)
        if profile is None:
            return None
        return profile.display_name.strip() or None

    return lookup


class FanNames:
    def __init__(
        self,
        lookup: Callable[[str], Awaitable[str | None]],
        ttl_s: float = NAME_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lookup = lookup
        self.ttl_s = ttl_s
        self.clock = clock
        self._known: dict[str, tuple[float, str | None]] = {}
        self._asking: dict[str, asyncio.Future[str | None]] = {}

    def cached(self, address: str) -> tuple[bool, str | None]:
        """(known, name): known is False when the backend has to be asked."""
        entry = self._known.get(address.lower())
        if entry is None or self.clock() - entry[0] > self.ttl_s:
            return False, None
        return True, entry[1]

    def resolve(self, address: str) -> "asyncio.Future[str | None]":
        """The name (None: no profile, or the backend is away); one lookup per address."""
        key = address.lower()
        known, name = self.cached(key)
        loop = asyncio.get_running_loop()
        if known:
            done: asyncio.Future[str | None] = loop.create_future()
            done.set_result(name)
            return done
        asking = self._asking.get(key)
        if asking is None:
            asking = self._asking[key] = asyncio.ensure_future(self._ask(address, key))
        return asking

    async def _ask(self, address: str, key: str) -> str | None:
        try:
            name = await self.lookup(address)
        except Exception as exc:  # the backend is away: shown by address, asked again later
            log.info("no name for a fan: %s", type(exc).__name__)
            return None
        finally:
            self._asking.pop(key, None)
        self._known[key] = (self.clock(), name)
        return name
