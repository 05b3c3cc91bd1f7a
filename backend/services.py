"""What every route and internal caller shares: storage, fan-out, local subscribers, metrics."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, WebSocket
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from backend.config import BackendConfig
from backend.hub import Hub
from backend.instance_bus import Bus
from backend.metrics import Metrics
from backend.ratelimit import RateLimiter

if TYPE_CHECKING:
    from backend.content_store import ContentStore
    from backend.mail import Mailer
    from backend.pin_mirror import PinMirrors
    from backend.web_push import Pusher

HealthCheck = Callable[[], Awaitable[dict[str, str]]]


@dataclass
class Services:
    config: BackendConfig
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: Bus
    hub: Hub
    metrics: Metrics
    chat_limiter: RateLimiter
    auth_limiter: RateLimiter
    play_limiter: RateLimiter  # play reports per client address (backend.analytics)
    jwt_secret: str = field(repr=False)
    health_checks: dict[str, HealthCheck] = field(default_factory=dict)
    content_store: "ContentStore | None" = None  # who uploaded what (backend.ownership)
    mailer: "Mailer | None" = None  # the email outbox's sender, when SMTP is configured
    pin_mirrors: "PinMirrors | None" = None  # listed CIDs pinned on other nodes too
    pusher: "Pusher | None" = None  # the Web Push outbox's sender (backend.web_push)


def services_of(holder: "FastAPI | Starlette | Request | WebSocket | Services") -> Services:
    """The Services of an app (or of the request/socket being served, or Services itself)."""
    if isinstance(holder, Services):
        return holder
    app = holder.app if isinstance(holder, Request | WebSocket) else holder
    return app.state.services  # type: ignore[no-any-return]


def get_services(request: Request) -> Services:
    return services_of(request)


def register_health_check(app: FastAPI, name: str, check: HealthCheck) -> None:
    """Other parts (e.g. the stream relay) report a component in /health: {"status": "ok"|...}."""
    services_of(app).health_checks[name] = check
