"""The ASGI application: `create_app(config)` wires storage and routes."""

import platform
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI

from backend import __version__
from backend.config import BackendConfig
from backend.database import database_status, make_engine


def create_app(config: BackendConfig) -> FastAPI:
    engine = make_engine(config.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        yield
        await engine.dispose()

    app = FastAPI(title="HarmonieCORE backend", version=__version__, lifespan=lifespan)
    app.state.config = config
    app.state.engine = engine

    @app.get("/health", tags=["ops"], summary="Versions and the status of each component")
    async def health() -> dict[str, object]:
        components = {"database": await database_status(engine)}
        ok = all(c.get("status") == "ok" for c in components.values())
        return {
            "status": "ok" if ok else "degraded",
            "version": __version__,
            "versions": {
                "python": platform.python_version(),
                "fastapi": version("fastapi"),
                "sqlalchemy": version("sqlalchemy"),
            },
            "components": components,
        }

    return app
