"""The `local` profile's IPFS-compatible content store.

It speaks the subset of the Kubo RPC API the studio uses (`add` with CIDv1 and raw leaves,
`pin/add`, `block/stat`, `files/stat`, `cat`, `version`) and serves `GET /ipfs/{cid}` with
Range support, so the studio's IPFS client talks to it exactly as to a Kubo node and gets
the same CIDs (media.cid computes them the way Kubo does). Files live whole on disk under
`<data-dir>/ipfs/`, named by CID; nothing is ever held whole in memory.

Limits: one file at most `max_upload_bytes` (413), and on a hosted store (sign-in required)
each account's files together at most `quota_bytes` (507). Each file's metadata names the
accounts that uploaded it (`uploaders`), which discovery checks before listing a track.
"""

import asyncio
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from backend.auth import current_address
from backend.limits import human_size
from backend.scanner import Scanner, ScannerUnavailable
from media.cid import CHUNK_SIZE, MAX_LINKS, CidBuilder, is_cid, normalise_cid

READ_SIZE = 1 << 20


class StoreError(Exception):
    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.status = status


def kubo_error(message: str, status: int = 500) -> JSONResponse:
    """Kubo's error shape: {"Message", "Code", "Type": "error"}."""
    return JSONResponse({"Message": message, "Code": 0, "Type": "error"}, status_code=status)


class ContentStore:
    def __init__(self, root: Path, scanner: Scanner | None = None) -> None:
        self.root = root
        self.scanner = scanner  # every file is scanned before it is stored, when set
        self.blobs = root / "blobs"
        self.incoming = root / "incoming"
        self.pins = root / "pins"
        self.usage_dir = root / "usage"
        for directory in (self.blobs, self.incoming, self.pins, self.usage_dir):
            directory.mkdir(parents=True, exist_ok=True)

    def blob(self, cid: str) -> Path:
        return self.blobs / cid

    def meta(self, cid: str) -> dict[str, Any]:
        try:
            return json.loads((self.blobs / f"{cid}.json").read_text())
        except FileNotFoundError:
            raise StoreError(f"{cid} is not in this content store", 404) from None

    def has(self, cid: str) -> bool:
        return self.blob(cid).exists() and (self.blobs / f"{cid}.json").exists()

    def pin(self, cid: str) -> None:
        if not self.has(cid):
            raise StoreError(f"pin: {cid} is not in this content store; add it first", 404)
        (self.pins / cid).touch()

    def is_pinned(self, cid: str) -> bool:
        return (self.pins / cid).exists()

    def uploaders(self, cid: str) -> list[str]:
        """The accounts (lower-case addresses) that uploaded `cid`; [] if none or not here."""
        try:
            return list(self.meta(normalise_cid(cid)).get("uploaders", []))
        except (StoreError, ValueError):
            return []

    def usage(self, account: str) -> int:
        """Bytes of the files `account` uploaded (each counted once)."""
        try:
            return int((self.usage_dir / account.lower()).read_text())
        except (FileNotFoundError, ValueError):
            return 0

    def _record_uploader(self, meta: dict[str, Any], account: str) -> None:
        account = account.lower()
        meta_path = self.blobs / f"{meta['cid']}.json"
        try:
            uploaders = json.loads(meta_path.read_text()).get("uploaders", [])
        except FileNotFoundError:
            uploaders = []
        if account not in uploaders:
            uploaders.append(account)
            (self.usage_dir / account).write_text(str(self.usage(account) + meta["size"]))
        meta["uploaders"] = uploaders

    async def _scan(self, path: Path) -> None:
        """StoreError unless the scanner (if any) finds the file clean; fails closed."""
        if self.scanner is None:
            return
        try:
            verdict = await self.scanner.scan(path)
        except ScannerUnavailable as exc:
            raise StoreError(
                f"Uploads are refused until the malware scanner is back: {exc}.", 503
            ) from None
        if not verdict.clean:
            raise StoreError(
                f"This file was refused: the malware scanner found {verdict.signature} in it.",
                422,
            )

    async def add_stream(
        self, parts: AsyncIterator[bytes], chunk_size: int, account: str | None = None
    ) -> dict[str, Any]:
        """Write the file part to a temporary file while hashing it, then file it by CID
        (counted against `account`'s usage)."""
        builder = CidBuilder(chunk_size)
        partial = self.incoming / uuid.uuid4().hex
        try:
            with partial.open("wb") as f:
                async for data in parts:
                    builder.update(data)
                    await asyncio.to_thread(f.write, data)
            result = builder.result()
            meta = {
                "cid": result.cid,
                "size": result.size,
                "cumulative_size": result.cumulative_size,
                "root_block_size": len(result.root_block) if result.root_block else result.size,
                "root_links": _root_links(result.leaves) if result.root_block else 0,
            }
            if chunk_size == CHUNK_SIZE:  # only the default layout is served under its CID
                await self._scan(partial)
                os.replace(partial, self.blob(result.cid))
                if account is not None:
                    self._record_uploader(meta, account)
                else:
                    meta["uploaders"] = self.uploaders(result.cid)
                (self.blobs / f"{result.cid}.json").write_text(json.dumps(meta))
            return meta
        finally:
            partial.unlink(missing_ok=True)


def _root_links(leaves: int) -> int:
    level = leaves
    while level > MAX_LINKS:
        level = -(-level // MAX_LINKS)
    return level


class MultipartFile:
    """Streams the first file part of a multipart/form-data body without buffering it."""

    def __init__(self, body: AsyncIterator[bytes], boundary: str) -> None:
        self.body = body
        self.delimiter = b"\r\n--" + boundary.encode()
        self.filename = ""

    async def parts(self) -> AsyncIterator[bytes]:
        buffer = b"\r\n"  # the first boundary has no CRLF before it; pretend it does
        iterator = self.body.__aiter__()
        while True:  # up to the end of the first part's headers
            start = buffer.find(self.delimiter)
            end = buffer.find(b"\r\n\r\n", start) if start >= 0 else -1
            if end >= 0:
                headers = buffer[start:end].decode("utf-8", "replace")
                match = re.search(r'filename="([^"]*)"', headers)
                self.filename = match.group(1) if match else ""
                buffer = buffer[end + 4 :]
                break
            if len(buffer) > 64 * 1024:
                raise StoreError("multipart headers are too long", 400)
            try:
                buffer += await iterator.__anext__()
            except StopAsyncIteration:
                raise StoreError("the request has no file part", 400) from None
        keep = len(self.delimiter) - 1  # a delimiter may straddle two reads
        while True:
            index = buffer.find(self.delimiter)
            if index >= 0:
                if index:
                    yield buffer[:index]
                return
            if len(buffer) > keep:
                yield buffer[: len(buffer) - keep]
                buffer = buffer[len(buffer) - keep :]
            try:
                buffer += await iterator.__anext__()
            except StopAsyncIteration:
                raise StoreError("the upload ended before the file part did", 400) from None


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.lower() in ("1", "true", "yes")


def _chunk_size(chunker: str | None) -> int:
    if not chunker:
        return CHUNK_SIZE
    match = re.fullmatch(r"size-(\d+)", chunker)
    if not match or not 1 <= int(match.group(1)) <= 1 << 20:
        raise StoreError(f"chunker {chunker!r} is not supported; use size-N", 400)
    return int(match.group(1))


def _cid_arg(value: str | None) -> str:
    text = (value or "").removeprefix("/ipfs/").split("/")[0]
    try:
        return normalise_cid(text)
    except ValueError:
        raise StoreError(f"invalid CID {value!r}", 400) from None


# Room for the multipart headers and boundaries around the file in a request body.
MULTIPART_OVERHEAD = 64 * 1024


def content_store_router(
    data_dir: Path,
    require_sign_in: bool = False,
    max_upload_bytes: int = 0,
    quota_bytes: int = 0,
    store: ContentStore | None = None,
    scanner: Scanner | None = None,
) -> APIRouter:
    """The store's Kubo-compatible API and gateway. Reads are public. Writes (add, pin) are
    open on the studio's own loopback backend; a hosted backend passes `require_sign_in`, so
    only a signed-in address (Bearer JWT) may store files on it, each within `quota_bytes`.
    A file over `max_upload_bytes` is refused (0: no limit, for either); with a `scanner`, so
    is a file it finds malware in, and every file while it cannot answer."""
    store = store or ContentStore(Path(data_dir) / "ipfs", scanner)
    writer_check = [Depends(current_address)] if require_sign_in else []
    router = APIRouter(tags=["ipfs"])
    router.store = store  # type: ignore[attr-defined]  # for discovery and tests
    in_flight: dict[str, int] = {}  # bytes being uploaded now, per account

    def too_large() -> StoreError:
        return StoreError(
            f"This file is larger than the {human_size(max_upload_bytes)} this store takes "
            "in one upload.",
            413,
        )

    def check_quota(account: str | None, size: int) -> None:
        if account is None or not quota_bytes:
            return
        used = store.usage(account) + in_flight.get(account, 0)
        if used + size > quota_bytes:
            raise StoreError(
                f"This upload would take your files on this store past your "
                f"{human_size(quota_bytes)} quota ({human_size(used)} used).",
                507,
            )

    async def capped(parts: AsyncIterator[bytes], account: str | None) -> AsyncIterator[bytes]:
        size = 0
        try:
            async for data in parts:
                size += len(data)
                if max_upload_bytes and size > max_upload_bytes:
                    raise too_large()
                check_quota(account, len(data))
                if account is not None:
                    in_flight[account] = in_flight.get(account, 0) + len(data)
                yield data
        finally:
            if account is not None:
                in_flight[account] = in_flight.get(account, 0) - size
                if in_flight[account] <= 0:
                    del in_flight[account]

    async def anonymous() -> None:
        return None

    writer = current_address if require_sign_in else anonymous

    @router.post("/api/v0/version", summary="Kubo-compatible version")
    async def version() -> dict[str, str]:
        return {"Version": "0.0.0-harmonie-content-store", "System": "harmonie"}

    @router.post("/api/v0/add", summary="Kubo-compatible add: CIDv1, raw leaves, balanced DAG")
    async def add(request: Request, signed_in: Annotated[str | None, Depends(writer)]) -> Response:
        query = request.query_params
        account = signed_in.lower() if signed_in else None
        try:
            declared = request.headers.get("content-length", "")
            if declared.isdigit():
                file_size = max(0, int(declared) - MULTIPART_OVERHEAD)
                if max_upload_bytes and file_size > max_upload_bytes:
                    raise too_large()
                check_quota(account, file_size)
            if query.get("cid-version", "0") != "1":
                raise StoreError("this store only makes CIDv1: pass cid-version=1", 400)
            if not _flag(query.get("raw-leaves"), True):
                raise StoreError("this store only makes raw leaves: pass raw-leaves=true", 400)
            chunk_size = _chunk_size(query.get("chunker"))
            content_type = request.headers.get("content-type", "")
            match = re.search(r"boundary=\"?([^\";]+)\"?", content_type)
            if not content_type.startswith("multipart/form-data") or not match:
                raise StoreError("send the file as multipart/form-data", 400)
            upload = MultipartFile(request.stream(), match.group(1))
            meta = await store.add_stream(capped(upload.parts(), account), chunk_size, account)
            if _flag(query.get("pin"), True) and chunk_size == CHUNK_SIZE:
                store.pin(meta["cid"])
        except StoreError as exc:
            return kubo_error(str(exc), exc.status)
        line = {
            "Name": upload.filename or meta["cid"],
            "Hash": meta["cid"],
            "Size": str(meta["cumulative_size"]),
        }
        return Response(json.dumps(line) + "\n", media_type="application/json")

    @router.post("/api/v0/pin/add", summary="Kubo-compatible pin/add", dependencies=writer_check)
    async def pin_add(arg: str = "") -> Response:
        try:
            cid = _cid_arg(arg)
            store.pin(cid)
        except StoreError as exc:
            return kubo_error(str(exc), exc.status)
        return JSONResponse({"Pins": [cid]})

    @router.post("/api/v0/block/stat", summary="Kubo-compatible block/stat of a root")
    async def block_stat(arg: str = "") -> Response:
        try:
            cid = _cid_arg(arg)
            meta = store.meta(cid)
        except StoreError as exc:
            return kubo_error(str(exc), exc.status)
        return JSONResponse({"Key": cid, "Size": meta["root_block_size"]})

    @router.post("/api/v0/files/stat", summary="Kubo-compatible files/stat of /ipfs/<cid>")
    async def files_stat(arg: str = "") -> Response:
        try:
            cid = _cid_arg(arg)
            meta = store.meta(cid)
        except StoreError as exc:
            return kubo_error(str(exc), exc.status)
        return JSONResponse(
            {
                "Hash": cid,
                "Size": meta["size"],
                "CumulativeSize": meta["cumulative_size"],
                "Blocks": meta["root_links"],
                "Type": "file",
                "Pinned": store.is_pinned(cid),
            }
        )

    @router.post("/api/v0/cat", summary="Kubo-compatible cat")
    async def cat(arg: str = "") -> Response:
        try:
            cid = _cid_arg(arg)
            meta = store.meta(cid)
        except StoreError as exc:
            return kubo_error(str(exc), exc.status)
        return _file_response(store.blob(cid), meta["size"], None, cid)

    @router.get("/ipfs/{cid}", summary="Gateway: the file's bytes, with Range support")
    @router.head("/ipfs/{cid}")
    async def gateway(cid: str, request: Request) -> Response:
        if not is_cid(cid) and not cid.startswith("z"):
            return Response(f"{cid} is not a CID\n", status_code=400, media_type="text/plain")
        try:
            cid = normalise_cid(cid)
            meta = store.meta(cid)
        except (StoreError, ValueError):
            return Response(
                f"{cid} is not in this content store\n", status_code=404, media_type="text/plain"
            )
        return _file_response(store.blob(cid), meta["size"], request.headers.get("range"), cid)

    return router


def _file_response(path: Path, size: int, range_header: str | None, cid: str) -> Response:
    headers = {
        "Accept-Ranges": "bytes",
        "Etag": f'"{cid}"',
        "Cache-Control": "public, max-age=29030400, immutable",
        "X-Ipfs-Path": f"/ipfs/{cid}",
    }
    start, end = 0, size - 1
    status = 200
    if range_header:
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", range_header.strip())
        if not match or (not match.group(1) and not match.group(2)):
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        if match.group(1):
            start = int(match.group(1))
            end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
        else:  # suffix range: the last N bytes
            start, end = max(0, size - int(match.group(2))), size - 1
        if start >= size or start > end:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1 if size else 0)
    return StreamingResponse(
        _read_range(path, start, end + 1),
        status_code=status,
        headers=headers,
        media_type="application/octet-stream",
    )


async def _read_range(path: Path, start: int, stop: int) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        f.seek(start)
        remaining = stop - start
        while remaining > 0:
            data = await asyncio.to_thread(f.read, min(READ_SIZE, remaining))
            if not data:
                return
            remaining -= len(data)
            yield data
