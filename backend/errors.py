"""Errors as JSON: `{"detail": "..."}` with a 4xx status, documented in the OpenAPI schema."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.params import documented_operations
from backend.wire import ErrorBody

log = logging.getLogger(__name__)

_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Not signed in, or the token is invalid or expired",
    403: "Signed in, but not allowed to do this",
    404: "No such resource",
    409: "Conflicts with the current state",
    429: "Too many requests; slow down",
    503: "A service this needs is unavailable; try again",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in codes}


# Every operation may answer these; declared once for the whole app.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorBody,
        "description": "Malformed request (unparsable body, unknown parameter)",
    },
    408: {"model": ErrorBody, "description": "The request body stopped arriving"},
    413: {"model": ErrorBody, "description": "The request body is larger than this route takes"},
}


def _allowed_methods(request: Request) -> list[str]:
    """The documented methods of the request's path (Starlette reports one route's only)."""
    path = request.scope.get("path", "")
    table = documented_operations(request.app)
    return sorted({m.upper() for regex, item in table if regex.match(path) for m in item})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        allowed = _allowed_methods(request)
        return JSONResponse(
            {"detail": "method not allowed"}, status_code=405, headers={"Allow": ", ".join(allowed)}
        )
    return await http_exception_handler(request, exc)


async def _integrity_error(_request: Request, _exc: Exception) -> JSONResponse:
    # Two requests raced on a unique key; the loser gets a retryable 409, not a 500.
    return JSONResponse({"detail": "conflicting concurrent change; retry"}, status_code=409)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return JSONResponse({"detail": "internal error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(Exception, _unexpected)
