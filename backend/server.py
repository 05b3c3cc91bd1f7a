"""The HTTP server around the app: uvicorn, with limits a public listener needs.

uvicorn times out idle keep-alive connections but not a request whose headers never finish
(slowloris): each such connection holds a socket until the process runs out of descriptors.
`guarded_h11` closes a connection whose request headers are not complete within
`header_timeout_s`, and keeps at most `max_pending` such connections: past that the oldest is
closed, so a flood of half-sent requests never crowds out a whole one. Request bodies are
timed and capped by `backend.limits` (an ASGI middleware, whatever the server).
"""

import asyncio
import logging
import resource
from typing import Any

import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from backend.config import BackendConfig

log = logging.getLogger(__name__)
# Descriptors kept for the database, logs, media sockets and the listening socket.
_SPARE_FDS = 256


def guarded_h11(header_timeout_s: float, max_pending: int) -> type[H11Protocol]:
    """An h11 protocol class whose connections must send whole headers in time."""
    pending: dict[H11Protocol, asyncio.TimerHandle] = {}  # insertion order: oldest first

    class GuardedH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
            super().connection_made(transport)  # type: ignore[arg-type]
            self._watch_headers()

        def connection_lost(self, exc: Exception | None) -> None:
            self._headers_arrived()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            super().handle_events()
            self._watch_headers()

        def _watch_headers(self) -> None:
            waiting = self.conn.their_state is h11.IDLE and not self.transport.is_closing()
            if not waiting:
                self._headers_arrived()
                return
            if self in pending:
                return  # the clock runs from the start of the wait, not the last byte
            pending[self] = self.loop.call_later(header_timeout_s, self._drop)
            while len(pending) > max_pending:
                next(iter(pending))._drop()

        def _headers_arrived(self) -> None:
            timer = pending.pop(self, None)
            if timer is not None:
                timer.cancel()

        def _drop(self) -> None:
            self._headers_arrived()
            self.transport.close()

    return GuardedH11Protocol


def raise_open_file_limit(wanted: int) -> int:
    """Raise this process's descriptor limit towards `wanted` (within the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft if soft != resource.RLIM_INFINITY else wanted


def server_config(app: FastAPI, config: BackendConfig, **options: Any) -> uvicorn.Config:
    """The uvicorn configuration the backend runs with (`options` adds or overrides)."""
    open_files = raise_open_file_limit(config.max_connections + _SPARE_FDS)
    max_connections = min(config.max_connections, max(open_files - _SPARE_FDS, 64))
    if max_connections < config.max_connections:
        log.warning(
            "%d open files allowed: serving at most %d connections", open_files, max_connections
        )
    settings: dict[str, Any] = {
        "host": config.host,
        "port": config.port,
        "access_log": False,
        "http": guarded_h11(config.header_timeout_s, config.max_pending_connections),
        # Past this many connections (or requests in progress) uvicorn answers 503.
        "limit_concurrency": max_connections,
        "timeout_keep_alive": 5,
        "h11_max_incomplete_event_size": 16 * 1024,  # request line and headers
        # The app reads X-Forwarded-For / Forwarded itself, from configured proxies only
        # (backend.limits); uvicorn's own default would trust 127.0.0.1.
        "proxy_headers": False,
        "ws_max_size": 64 * 1024,  # chat and notification frames are small; refuse floods early
        # Compressing small frames per connection costs CPU and ~256 KiB of zlib state per
        # socket: off, so one instance holds thousands of chat readers.
        "ws_per_message_deflate": False,
    }
    settings.update(options)
    return uvicorn.Config(app, **settings)
