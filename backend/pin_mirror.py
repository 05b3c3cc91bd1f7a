"""Listed content pinned in a second place, and `harmonie-backend check-pins`.

Each mirror is another IPFS node's Kubo RPC API (`--pin-mirror URL`, repeatable; env
HARMONIE_PIN_MIRRORS, comma separated). When a track is listed, its CIDs (audio and artwork)
go to every mirror: the file is sent from the content store with the same `add` options the
studio uses (CIDv1, raw leaves), so the mirror makes the same CID and pins it; a CID the store
does not hold is pinned by CID (the node fetches it from the network). A mirror that is down
loses nothing: `check-pins` reports what is missing where, and `--repin` sends it again.
"""

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from backend.content_store import ContentStore
from backend.models import TrackRow
from media.cid import normalise_cid

log = logging.getLogger(__name__)
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
READ_SIZE = 1 << 20


class MirrorError(Exception):
    """A mirror that did not pin; the message says which and why."""


def _kubo_message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("Message") or response.text)
    except ValueError:
        return response.text[:200]


@dataclass(frozen=True)
class KuboMirror:
    api_url: str

    def _url(self, command: str) -> str:
        return f"{self.api_url.rstrip('/')}/api/v0/{command}"

    async def pinned(self, http: httpx.AsyncClient) -> set[str]:
        """Every CID pinned (recursively) on this node, normalised."""
        try:
            response = await http.post(self._url("pin/ls"), params={"type": "recursive"})
        except httpx.HTTPError as exc:
            raise MirrorError(f"{self.api_url} cannot be reached ({exc!r})") from None
        if response.status_code != 200:
            raise MirrorError(f"{self.api_url} pin/ls: {_kubo_message(response)}")
        keys: dict[str, Any] = {}
        for line in response.text.splitlines():  # one object, or one per pin (streamed)
            if line.strip():
                item = json.loads(line)
                if "Keys" in item:
                    keys.update(item["Keys"] or {})
                elif "Cid" in item:
                    keys[item["Cid"]] = item
        return {_normal(cid) for cid in keys}

    async def pin(self, http: httpx.AsyncClient, cid: str, store: ContentStore | None) -> None:
        """Pin `cid` here: sent from `store` when it holds the file, else by CID."""
        try:
            if store is not None and store.has(cid):
                boundary = uuid.uuid4().hex
                response = await http.post(
                    self._url("add"),
                    params={"cid-version": "1", "raw-leaves": "true", "pin": "true"},
                    headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
                    content=_multipart(store, cid, boundary),
                )
            else:
                response = await http.post(self._url("pin/add"), params={"arg": cid})
        except httpx.HTTPError as exc:
            raise MirrorError(f"{self.api_url} cannot be reached ({exc!r})") from None
        if response.status_code != 200:
            raise MirrorError(f"{self.api_url} did not pin {cid}: {_kubo_message(response)}")
        if store is not None and store.has(cid):
            made = _normal(json.loads(response.text.splitlines()[-1])["Hash"])
            if made != _normal(cid):
                raise MirrorError(f"{self.api_url} made {made} from the file of {cid}")


def _normal(cid: str) -> str:
    try:
        return normalise_cid(cid)
    except ValueError:
        return cid


async def _multipart(store: ContentStore, cid: str, boundary: str) -> AsyncIterator[bytes]:
    """The file as one multipart/form-data part, read from disk as it is sent."""
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{cid}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    with store.blob(cid).open("rb") as f:
        while chunk := await asyncio.to_thread(f.read, READ_SIZE):
            yield chunk
    yield f"\r\n--{boundary}--\r\n".encode()


class PinMirrors:
    """The mirrors of a running backend: listed CIDs are pinned there in the background."""

    def __init__(self, urls: Iterable[str], store: ContentStore | None) -> None:
        self.mirrors = [KuboMirror(url) for url in urls]
        self.store = store
        self._tasks: set[asyncio.Task[None]] = set()

    def schedule(self, cids: Iterable[str | None]) -> None:
        wanted = [c for c in cids if c]
        if self.mirrors and wanted:
            task = asyncio.get_running_loop().create_task(self.pin_all(wanted))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def pin_all(self, cids: list[str]) -> list[str]:
        """Pin `cids` on every mirror; the problems (logged, never raised)."""
        problems = []
        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            for mirror in self.mirrors:
                for cid in cids:
                    try:
                        await mirror.pin(http, cid, self.store)
                    except MirrorError as exc:
                        log.warning("pin mirror: %s", exc)
                        problems.append(str(exc))
        return problems

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def listed_cids(sessions: Any) -> list[str]:
    """Every CID the listings point at (tracks and their artwork), each once."""
    async with sessions() as session:
        rows = (await session.execute(select(TrackRow.cid, TrackRow.artwork_cid))).all()
    return sorted({c for row in rows for c in row if c})


async def check_pins(
    cids: list[str], store: ContentStore | None, mirrors: list[KuboMirror]
) -> dict[str, Any]:
    """Per place (the content store, each mirror), the listed CIDs not pinned there."""
    places: list[dict[str, Any]] = []
    if store is not None:
        places.append(
            {"place": "content store", "unpinned": [c for c in cids if not store.is_pinned(c)]}
        )
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        for mirror in mirrors:
            place: dict[str, Any] = {"place": mirror.api_url}
            try:
                pinned = await mirror.pinned(http)
                place["unpinned"] = [c for c in cids if _normal(c) not in pinned]
            except MirrorError as exc:
                place["error"] = str(exc)
                place["unpinned"] = list(cids)  # not known to be pinned anywhere there
            places.append(place)
    ok = all(not p["unpinned"] and "error" not in p for p in places)
    return {"ok": ok, "listed": len(cids), "places": places}
