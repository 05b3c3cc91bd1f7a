"""The composition root: one `Studio` holds the profile, settings and every service.

The GUI and the headless commands both drive this object; neither knows how the backend is
started or where the chain is. Services report through `studio.signals.Signal`.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from studio import paths
from studio.errors import BackendStartError
from studio.local_backend import LocalBackend
from studio.logs import event
from studio.profiles import EMBEDDED, Profile
from studio.settings import Settings
from studio.signals import Signal

log = logging.getLogger(__name__)

HEALTH_INTERVAL_S = 5.0


@dataclass(frozen=True)
class StudioStatus:
    profile: str
    backend: str = (
        "stopped"  # stopped | starting | connected | unreachable | not configured | failed
    )
    backend_url: str | None = None
    backend_detail: str = ""
    chain: str = ""
    chain_state: str = "unknown"

    def as_dict(self) -> dict[str, object]:
        return dict(vars(self))


class Studio:
    def __init__(
        self,
        profile: Profile,
        settings: Settings,
        data_dir: Path | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.profile = profile
        self.settings = settings
        self.data_dir = data_dir or paths.data_dir()
        self.log_dir = log_dir or paths.log_dir()
        self.local_backend: LocalBackend | None = (
            LocalBackend(self.data_dir / "backend", self.log_dir)
            if profile.embedded_backend
            else None
        )
        self.status = StudioStatus(profile=profile.name, chain=profile.chain.name)
        self.status_changed = Signal()
        self.health: dict[str, object] = {}
        self._monitor: asyncio.Task[None] | None = None

    @property
    def backend_url(self) -> str | None:
        if self.local_backend is not None:
            return self.local_backend.url if self.local_backend.port else None
        return self.profile.backend_url or None

    def _set_status(self, **changes: object) -> None:
        self.status = replace(self.status, **changes)
        self.status_changed.emit(self.status)

    async def start(self) -> None:
        """Start what the profile needs. Failures land in `status`, never as a silent exit."""
        if self.local_backend is not None:
            self._set_status(backend="starting")
            try:
                url = await self.local_backend.start()
            except BackendStartError as exc:
                log.error("local backend failed: %s", exc)
                self._set_status(backend="failed", backend_detail=str(exc))
                raise
            self._set_status(backend_url=url)
        elif not self.profile.backend_url:
            self._set_status(
                backend="not configured",
                backend_detail=f"Set a backend URL for the '{self.profile.name}' profile.",
            )
            return
        await self.check_health()
        self._monitor = asyncio.create_task(self._watch_health())

    async def check_health(self) -> dict[str, object]:
        url = self.backend_url
        if not url:
            return {}
        try:
            async with httpx.AsyncClient(timeout=3.0) as client:
                response = await client.get(f"{url}/health")
                response.raise_for_status()
                self.health = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            self.health = {}
            self._set_status(backend="unreachable", backend_url=url, backend_detail=str(exc))
            return {}
        chain = self.health.get("components", {}).get("chain", {})  # type: ignore[union-attr]
        chain_state = chain.get("status", "unknown") if isinstance(chain, dict) else "unknown"
        if self.profile.chain.rpc_url != EMBEDDED:
            chain_state = "remote"
        self._set_status(
            backend="connected", backend_url=url, backend_detail="", chain_state=chain_state
        )
        return self.health

    async def _watch_health(self) -> None:
        while True:
            await asyncio.sleep(HEALTH_INTERVAL_S)
            await self.check_health()

    async def stop(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
            self._monitor = None
        if self.local_backend is not None:
            await self.local_backend.stop()
        self._set_status(backend="stopped")
        event(log, "studio_stopped")
