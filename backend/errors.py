"""Errors as JSON: `{"detail": "..."}` with a 4xx status, documented in the OpenAPI schema."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from backend.wire import ErrorBody

log = logging.getLogger(__name__)

_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Not signed in, or the token is invalid or expired",
    403: "Signed in, but not allowed to do this",
    404: "No such resource",
    409: "Conflicts with the current state",
    429: "Too many requests; slow down",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in codes}


async def _integrity_error(_request: Request, _exc: Exception) -> JSONResponse:
    # Two requests raced on a unique key; the loser gets a retryable 409, not a 500.
    return JSONResponse({"detail": "conflicting concurrent change; retry"}, status_code=409)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return JSONResponse({"detail": "internal error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(Exception, _unexpected)
