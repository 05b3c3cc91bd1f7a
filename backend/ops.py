"""Operations: /health (each component's status) and /metrics (Prometheus text)."""

import platform
from importlib.metadata import version

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse

from backend import __version__
from backend.auth import ServicesDep
from backend.database import database_status
from backend.params import reject_unknown_query

router = APIRouter(tags=["ops"], dependencies=[Depends(reject_unknown_query)])

# "disabled" components (no Redis configured, no relay mounted) do not degrade the service.
_FINE = ("ok", "disabled")


@router.get("/health", summary="Versions and the status of each component")
async def health(services: ServicesDep) -> dict[str, object]:
    components: dict[str, dict[str, str]] = {
        "database": await database_status(services.engine),
        "redis": await services.bus.status(),
        "relay": {"status": "disabled", "detail": "no relay mounted"},
    }
    for name, check in services.health_checks.items():
        try:
            components[name] = await check()
        except Exception as exc:  # a broken check reports its component down, not a 500
            components[name] = {"status": "down", "detail": type(exc).__name__}
    ok = all(c.get("status") in _FINE for c in components.values())
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


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(services: ServicesDep) -> PlainTextResponse:
    return PlainTextResponse(
        services.metrics.render(services.hub), media_type="text/plain; version=0.0.4"
    )
