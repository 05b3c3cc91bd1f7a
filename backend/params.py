"""Request parameters shared by the routers (path addresses, pagination)."""

import re
from typing import Annotated, Any

from eth_utils import to_checksum_address
from fastapi import HTTPException, Path, Query
from pydantic import AfterValidator, BeforeValidator
from starlette.requests import HTTPConnection

# Ids stay within JSON's exact integers, so every client (and the schema) agrees on limits.
MAX_ID = 2**53 - 1


def _whole_number_text(value: Any) -> Any:
    # Pydantic would read "1.0" as 1; the schema says integer, so text must be digits.
    if isinstance(value, str) and not re.fullmatch(r"-?[0-9]{1,20}", value):
        raise ValueError("must be a whole number")
    return value


def _boolean_text(value: Any) -> Any:
    if isinstance(value, str) and value not in ("true", "false"):
        raise ValueError("must be true or false")
    return value


WholeNumber = BeforeValidator(_whole_number_text)
Boolean = BeforeValidator(_boolean_text)

AddressPath = Annotated[
    str,
    Path(pattern=r"^0x[0-9a-fA-F]{40}$", description="account address (any case)"),
    AfterValidator(to_checksum_address),
]
StreamIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Limit = Annotated[int, Query(ge=1, le=100, description="page size"), WholeNumber]
Offset = Annotated[int, Query(ge=0, le=100_000, description="items to skip"), WholeNumber]
IdPath = Annotated[int, Path(ge=1, le=MAX_ID), WholeNumber]


def next_offset(offset: int, limit: int, fetched: int) -> int | None:
    """Callers fetch limit+1 rows: one more than a page means there is a next page."""
    return offset + limit if fetched > limit else None


def documented_operations(app: Any) -> list[tuple[re.Pattern[str], dict[str, Any]]]:
    """(path regex, {method: operation}) for each path of the app's OpenAPI document, cached."""
    table = getattr(app.state, "documented_operations", None)
    if table is None:
        table = [
            (re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$"), item)
            for path, item in app.openapi().get("paths", {}).items()
        ]
        app.state.documented_operations = table
    return table  # type: ignore[no-any-return]


async def reject_unknown_query(request: HTTPConnection) -> None:
    """Router dependency: a misspelt or unknown query parameter is an error, not ignored."""
    if request.scope["type"] != "http" or not request.query_params:
        return
    method = request.scope.get("method", "GET").lower()
    path = request.scope.get("path", "")
    known: set[str] = set()
    for regex, item in documented_operations(request.app):
        if regex.match(path) and method in item:
            parameters = item[method].get("parameters", [])
            known |= {p["name"] for p in parameters if p.get("in") == "query"}
    unknown = sorted(set(request.query_params.keys()) - known)
    if unknown:
        shown = ", ".join(repr(name[:40]) for name in unknown[:5])
        raise HTTPException(400, detail=f"unknown query parameter(s): {shown}")
