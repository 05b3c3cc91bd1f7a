"""Request parameters shared by the routers (path addresses, pagination)."""

from typing import Annotated

from eth_utils import to_checksum_address
from fastapi import Path, Query
from pydantic import AfterValidator

AddressPath = Annotated[
    str,
    Path(pattern=r"^0x[0-9a-fA-F]{40}$", description="account address (any case)"),
    AfterValidator(to_checksum_address),
]
StreamIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Limit = Annotated[int, Query(ge=1, le=100, description="page size")]
Offset = Annotated[int, Query(ge=0, le=100_000, description="items to skip")]


def next_offset(offset: int, limit: int, fetched: int) -> int | None:
    """Callers fetch limit+1 rows: one more than a page means there is a next page."""
    return offset + limit if fetched > limit else None
