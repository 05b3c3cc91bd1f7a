"""The async JSON-RPC over HTTP provider every async chain reader in the product uses.

web3's own ``AsyncHTTPProvider`` (8.0) takes one process-wide ``threading.Lock`` on every
request, acquiring it from an executor thread. A request cancelled while it waits there (a
tip watcher stopped, a desk closed, a ``wait_for`` timing out) leaves the lock taken by
nobody, and from then on every HTTP call in the process, sync and async, hangs forever
(ethereum/web3.py#3867; the fix, #3872, is not released). This provider keeps web3's
request and retry logic and replaces only the session cache: one aiohttp session per event
loop, owned by this provider, with no lock, since a loop runs on one thread.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import ClientSession, ClientTimeout, TCPConnector
from eth_typing import URI
from web3 import AsyncHTTPProvider
from web3._utils.http_session_manager import HTTPSessionManager


class _PerLoopSessions(HTTPSessionManager):
    """web3's session manager, minus the process-wide lock on the async path."""

    async def async_cache_and_return_session(
        self,
        endpoint_uri: URI,
        session: ClientSession | None = None,
        request_timeout: ClientTimeout | None = None,
    ) -> ClientSession:
        running = asyncio.get_running_loop()
        key = f"{id(running)}:{endpoint_uri}"
        cached = self.session_cache.get_cache_entry(key)
        if session is None:
            if cached is not None and not cached.closed and not cached._loop.is_closed():
                return cached
            session = ClientSession(
                raise_for_status=True,
                connector=TCPConnector(force_close=True, enable_cleanup_closed=True),
            )
        self.session_cache.pop(key)
        _, evicted = self.session_cache.cache(key, session)
        for old in [cached, *(evicted or {}).values()]:
            # a session can only be closed from its own loop; others' go with their loops
            if old is not None and old is not session and not old.closed and old._loop is running:
                await old.close()
        return session


class AsyncRpcProvider(AsyncHTTPProvider):
    """``AsyncHTTPProvider`` that a cancelled request cannot wedge (see the module's doc)."""

    def __init__(
        self, endpoint_uri: URI | str, request_kwargs: Any | None = None, **kwargs: Any
    ) -> None:
        super().__init__(endpoint_uri, request_kwargs, **kwargs)
        self._request_session_manager = _PerLoopSessions(session_pool_max_workers=1)
