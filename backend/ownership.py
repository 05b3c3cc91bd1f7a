"""Whose track is this CID: the content registry on chain, else this backend's content store.

The registry (`artist_of(cid)`) is the authority when the backend knows one: the embedded
devnet's, or `registry_rpc_url` + `content_registry_address`. Without one, the content store's
record of who uploaded the file decides. When neither can tell, a hosted backend refuses the
listing: a track is never listed under an artist nobody has shown to own it. The studio's own
`--local` backend (loopback only, files stored unsigned, so uploaders are unknown) lists it.
"""

from typing import Any

import httpx
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address
from fastapi import HTTPException

from backend.services import Services

_ARTIST_OF = keccak(text="artist_of(string)")[:4]
_ZERO = "0x" + "00" * 20


def _calldata(cid: str) -> str:
    return "0x" + (_ARTIST_OF + abi_encode(["string"], [cid])).hex()


async def _eth_call(app: Any, services: Services, cid: str) -> str | None:
    """The raw result of `artist_of(cid)`, or None when no registry is known."""
    config = services.config
    devnet = getattr(app.state, "devnet", None)

    def request(to: str) -> dict[str, Any]:
        call = {"to": to, "data": _calldata(cid)}
        return {"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [call, "latest"]}

    if config.registry_rpc_url and config.content_registry_address:
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.post(
                config.registry_rpc_url, json=request(config.content_registry_address)
            )
            reply = answer.json()
    elif devnet is not None:
        from chain.contracts import CONTENT_REGISTRY

        chain = await devnet.get()
        reply = await devnet.run(chain.handle, request(chain.contracts[CONTENT_REGISTRY]))
    else:
        return None
    if "result" not in reply:
        raise ValueError(str(reply.get("error")))
    return str(reply["result"])


async def registered_artist(app: Any, services: Services, cid: str) -> str | None:
    """The checksummed address that registered `cid` on chain (the zero address if nobody
    has), or None when this backend knows no registry. HTTP 503 if the registry is down."""
    try:
        result = await _eth_call(app, services, cid)
    except (httpx.HTTPError, ValueError) as exc:
        raise HTTPException(
            503, detail=f"cannot ask the content registry who owns this CID ({exc}); try again"
        ) from None
    if result is None:
        return None
    (address,) = abi_decode(["address"], bytes.fromhex(result.removeprefix("0x")))
    return to_checksum_address(address)


async def check_owner(app: Any, services: Services, cid: str, caller: str) -> None:
    """HTTP 403 unless `caller` registered `cid` (or, with no registry, uploaded it here)."""
    artist = await registered_artist(app, services, cid)
    if artist is not None:
        if artist == _ZERO:
            raise HTTPException(403, detail="this CID is not registered on chain; register it")
        if artist.lower() != caller.lower():
            raise HTTPException(403, detail=f"this CID is registered on chain by {artist}")
        return
    store = services.content_store
    uploaders = store.uploaders(cid) if store is not None else []
    if caller.lower() in uploaders:
        return
    if uploaders:
        raise HTTPException(403, detail="this CID was uploaded to this backend by another account")
    if services.config.local:
        return  # one machine's own listings, reachable from loopback only
    raise HTTPException(
        403,
        detail="cannot tell that this CID is yours: upload the file to this backend's content "
        "store first (this backend knows no content registry)",
    )
