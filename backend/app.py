"""The ASGI application: `create_app(config)` wires storage, fan-out and the routers.

Other parts mount their routers here with one line each (`app.include_router(...)`).
"""

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from backend import (
    __version__,
    accounts,
    analytics,
    auth,
    chat,
    discovery,
    mail,
    notifications,
    ops,
    review,
    web_push,
)
from backend.config import MIB, BackendConfig
from backend.content_store import content_store_router
from backend.database import make_engine, make_sessions, migrate
from backend.devnet import RPC_PATH, mount_devnet
from backend.errors import COMMON_RESPONSES, install_error_handlers
from backend.hub import Hub
from backend.instance_bus import make_bus
from backend.limits import BodyLimits, TrustedProxyHeaders
from backend.loop_watchdog import LoopWatchdog
from backend.market import GATED_MAX_BYTES, GATED_PATH, start_market
from backend.market import router as market_router
from backend.metrics import Metrics, RequestCounter
from backend.pin_mirror import PinMirrors
from backend.ratelimit import make_rate_limiter
from backend.scanner import ClamdScanner
from backend.services import Services
from backend.streams import announcements, fan_page, media_server_for, streams_router
from backend.tip_watcher import start_tip_watcher

log = logging.getLogger(__name__)


def create_services(config: BackendConfig) -> Services:
    engine = make_engine(config.resolved_database_url())
    bus = make_bus(config.redis_url)
    return Services(
        config=config,
        engine=engine,
        sessions=make_sessions(engine),
        bus=bus,
        hub=Hub(),
        metrics=Metrics(),
        chat_limiter=make_rate_limiter(bus, config.chat_burst, config.chat_rate_per_s),
        auth_limiter=make_rate_limiter(bus, config.auth_burst, config.auth_rate_per_s),
        play_limiter=make_rate_limiter(bus, config.play_burst, config.play_rate_per_s),
        jwt_secret=config.jwt_secret or secrets.token_urlsafe(32),
    )


def create_app(config: BackendConfig) -> FastAPI:
    services = create_services(config)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if config.run_migrations:
            try:
                await migrate(services.engine)
            except Exception as exc:
                where = services.engine.url.render_as_string(hide_password=True)
                log.error("cannot prepare the database %s: %s", where, exc)
                raise
        await services.bus.start(services.hub.dispatch)
        tips = start_tip_watcher(_app)  # Tipped events -> tip_received notifications
        mailer = mail.start_mailer(services)  # the email outbox, when SMTP is configured
        pusher = web_push.start_pusher(services)  # "<artist> is live" to subscribed browsers
        market = start_market(_app)  # sales and subscriptions: index, notifications, keys
        sampler = analytics.start_sampler(services)  # live shows' viewers, every 10 s
        watchdog = LoopWatchdog() if config.watch_loop else None
        if watchdog is not None:
            watchdog.start()
        try:
            yield
        finally:
            if watchdog is not None:
                await watchdog.stop()
            await sampler.stop()
            if market.watcher is not None:
                await market.watcher.stop()
            if mailer is not None:
                await mailer.stop()
            await pusher.stop()
            if tips is not None:
                await tips.stop()
            devnet = getattr(_app.state, "devnet", None)
            if devnet is not None:
                await asyncio.to_thread(devnet.close)  # its process commits and ends
            if services.pin_mirrors is not None:
                await services.pin_mirrors.close()
            await services.bus.close()
            await services.engine.dispose()

    app = FastAPI(
        title="HarmonieCORE backend",
        version=__version__,
        lifespan=lifespan,
        responses=COMMON_RESPONSES,
    )
    app.state.config = config
    app.state.engine = services.engine
    app.state.services = services
    install_error_handlers(app)
    app.add_middleware(RequestCounter, metrics=services.metrics)
    app.add_middleware(
        BodyLimits,
        max_body_bytes=config.max_body_bytes,
        body_timeout_s=config.body_timeout_s,
        # The content store's add answers its own limit, in Kubo's error shape; the devnet's
        # JSON-RPC carries contract bytecode.
        per_route={
            "/api/v0/add": None,
            RPC_PATH: 4 * MIB,
            GATED_PATH: min(GATED_MAX_BYTES, config.max_upload_bytes),
        },
    )
    app.add_middleware(TrustedProxyHeaders, trusted_hosts=list(config.trusted_proxies))

    app.include_router(ops.router)
    app.include_router(auth.router)
    app.include_router(accounts.router)
    app.include_router(discovery.router)
    app.include_router(announcements.router)
    app.include_router(chat.router)
    app.include_router(notifications.router)
    app.include_router(mail.router)
    app.include_router(web_push.router)
    app.include_router(market_router)
    app.include_router(analytics.router)
    app.include_router(review.router)
    store = content_store_router(
        config.data_dir,
        require_sign_in=not config.local,
        max_upload_bytes=config.max_upload_bytes,
        quota_bytes=config.storage_quota_bytes,
        scanner=ClamdScanner(config.clamd) if config.clamd else None,
    )
    services.content_store = store.store  # type: ignore[attr-defined]
    if config.pin_mirrors:
        services.pin_mirrors = PinMirrors(config.pin_mirrors, services.content_store)
    app.include_router(store)
    app.include_router(
        streams_router(
            config.data_dir,
            media_server=media_server_for(config),
            viewers_per_client=config.viewer_sessions_per_client,
            retry_after_s=config.viewer_retry_after_s,
        )
    )
    mount_devnet(app)  # local profile only (HARMONIE_DEVNET=1)
    app.mount("/fan", fan_page(), name="fan")
    return app
