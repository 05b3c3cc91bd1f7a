"""IPFS over HTTP: the Kubo RPC API (add, pin, stat, cat) and the IPFS Pinning Service API.

httpx speaks both. `ipfshttpclient` is not used: it refuses every Kubo since 0.8. The file
is streamed as a multipart body with a known length, one MiB at a time, so a 1 GB master
never sits in memory; progress is the count of file bytes handed to the socket.

The node must agree with the studio: `add` takes the CID computed locally and refuses an
answer that differs (a different chunker, CID version or a node bug would otherwise publish
something other than what the artist dropped).
"""

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from media.cid import CHUNK_SIZE, normalise_cid
from studio.errors import StudioError

log = logging.getLogger(__name__)

READ_SIZE = 1 << 20
ADD_PARAMS = {
    "cid-version": "1",
    "raw-leaves": "true",
    "chunker": f"size-{CHUNK_SIZE}",
    "cid-base": "base32",
    "progress": "false",
}

Progress = Callable[[int, int], None]


class IpfsError(StudioError):
    """The node could not do what was asked; str() says what and what to check."""


class IpfsUnreachable(IpfsError):
    pass


class CidMismatch(IpfsError):
    pass


@dataclass(frozen=True)
class AddResult:
    cid: str
    cumulative_size: int


def multipart_head(boundary: str, filename: str) -> bytes:
    return (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


def multipart_tail(boundary: str) -> bytes:
    return f"\r\n--{boundary}--\r\n".encode()


async def stream_file(
    path: Path, head: bytes, tail: bytes, size: int, on_progress: Progress | None
) -> AsyncIterator[bytes]:
    """The multipart body: head, the file read in slices off the event loop, tail."""
    yield head
    sent = 0
    with path.open("rb") as f:
        while True:
            data = await asyncio.to_thread(f.read, READ_SIZE)
            if not data:
                break
            sent += len(data)
            if sent > size:
                raise IpfsError(
                    f"{path.name} grew while it was being uploaded; it will be re-read."
                )
            yield data
            if on_progress is not None:
                on_progress(sent, size)
    if sent != size:
        raise IpfsError(
            f"{path.name} changed size while it was being uploaded; it will be re-read."
        )
    yield tail


class KuboClient:
    """A Kubo RPC API endpoint (Kubo, js-ipfs, IPFS Cluster's proxy, the local content store)."""

    def __init__(
        self,
        api_url: str,
        *,
        timeout: float = 30.0,
        headers: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=f"{self.api_url}/api/v0",
            timeout=httpx.Timeout(timeout, read=max(timeout, 300.0)),
            headers=headers,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> "KuboClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _post(self, endpoint: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._client.post(endpoint, **kwargs)
        except httpx.ConnectError:
            raise IpfsUnreachable(
                f"The IPFS node at {self.api_url} is unreachable; is it running?"
            ) from None
        except httpx.TimeoutException:
            raise IpfsUnreachable(
                f"The IPFS node at {self.api_url} did not answer in time."
            ) from None
        except httpx.TransportError as exc:
            raise IpfsUnreachable(f"The connection to the IPFS node broke ({exc}).") from None
        if response.status_code >= 400:
            raise IpfsError(f"The IPFS node refused {endpoint}: {_node_message(response)}")
        return response

    async def version(self) -> dict[str, Any]:
        return (await self._post("/version")).json()

    async def add(
        self,
        path: Path,
        *,
        expected_cid: str | None = None,
        pin: bool = True,
        on_progress: Progress | None = None,
    ) -> AddResult:
        path = Path(path)
        size = path.stat().st_size
        boundary = uuid.uuid4().hex
        head, tail = multipart_head(boundary, "file"), multipart_tail(boundary)
        body = stream_file(path, head, tail, size, on_progress)
        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + size + len(tail)),
        }
        params = {**ADD_PARAMS, "pin": "true" if pin else "false"}
        response = await self._post("/add", params=params, content=body, headers=headers)
        answer = _last_json_line(response.text)
        try:
            cid = normalise_cid(str(answer["Hash"]))
        except (KeyError, ValueError):
            raise IpfsError(f"The IPFS node gave no usable CID for {path.name}: {answer}") from None
        if expected_cid is not None and cid != expected_cid:
            raise CidMismatch(
                f"The IPFS node stored {path.name} as {cid}, but its content is {expected_cid}; "
                "the node uses other add options (CID version, raw leaves, chunker). "
                "Nothing was published."
            )
        return AddResult(cid, int(answer.get("Size", size)))

    async def pin(self, cid: str) -> None:
        answer = (await self._post("/pin/add", params={"arg": cid})).json()
        pins = [normalise_cid(p) for p in answer.get("Pins", [])]
        if cid not in pins:
            raise IpfsError(f"The IPFS node did not confirm the pin of {cid}: {answer}")

    async def stat(self, cid: str) -> dict[str, Any]:
        """`block/stat` of the root: {'Key': cid, 'Size': root block bytes}."""
        answer = (await self._post("/block/stat", params={"arg": cid, "cid-base": "base32"})).json()
        answer["Key"] = normalise_cid(str(answer.get("Key", "")))
        return answer

    async def has(self, cid: str) -> bool:
        """Whether the node already holds the root of `cid`, asked offline with a short timeout
        (an online node would otherwise search the network for a block it does not have)."""
        try:
            response = await self._client.post(
                "/block/stat", params={"arg": cid, "offline": "true", "timeout": "5s"}, timeout=10
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def cat(self, cid: str) -> bytes:
        return (await self._post("/cat", params={"arg": cid})).content


def _node_message(response: httpx.Response) -> str:
    try:
        message = response.json().get("Message")
    except (ValueError, AttributeError):
        message = None
    return str(message or response.text[:300] or f"HTTP {response.status_code}").strip()


def _last_json_line(text: str) -> dict[str, Any]:
    lines = [line for line in text.splitlines() if line.strip()]
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        raise IpfsError(
            f"The IPFS node answered something that is not JSON: {text[:200]!r}"
        ) from None


class PinningServiceClient:
    """The IPFS Pinning Service API (https://ipfs.github.io/pinning-services-api-spec/).

    The access token goes in a header only; it is never logged or put in an error text.
    """

    def __init__(
        self,
        endpoint: str,
        access_token: str,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.endpoint,
            timeout=timeout,
            headers={"Authorization": f"Bearer {access_token}"},
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._client.request(method, url, **kwargs)
        except httpx.TransportError:
            raise IpfsUnreachable(
                f"The pinning service at {self.endpoint} is unreachable."
            ) from None
        if response.status_code == 401:
            raise IpfsError(
                f"The pinning service at {self.endpoint} refused the access token; "
                "check it in Settings."
            )
        if response.status_code >= 400:
            try:
                reason = response.json()["error"]["reason"]
                details = response.json()["error"].get("details", "")
            except (ValueError, KeyError, TypeError):
                reason, details = f"HTTP {response.status_code}", response.text[:200]
            raise IpfsError(f"The pinning service refused: {reason} {details}".strip())
        return response

    async def add_pin(
        self,
        cid: str,
        name: str = "",
        origins: list[str] | None = None,
        meta: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"cid": cid}
        if name:
            body["name"] = name[:255]
        if origins:
            body["origins"] = origins
        if meta:
            body["meta"] = meta
        return (await self._request("POST", "/pins", json=body)).json()

    async def get(self, request_id: str) -> dict[str, Any]:
        return (await self._request("GET", f"/pins/{request_id}")).json()

    async def find(self, cid: str) -> list[dict[str, Any]]:
        answer = (await self._request("GET", "/pins", params={"cid": cid})).json()
        return list(answer.get("results", []))

    async def remove(self, request_id: str) -> None:
        await self._request("DELETE", f"/pins/{request_id}")

    async def wait_pinned(
        self, request_id: str, poll_s: float = 2.0, timeout_s: float = 600.0
    ) -> dict[str, Any]:
        """Poll until 'pinned'; raise on 'failed' or when the service takes too long."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            status = await self.get(request_id)
            if status.get("status") == "pinned":
                return status
            if status.get("status") == "failed":
                raise IpfsError(
                    f"The pinning service could not pin {status.get('pin', {}).get('cid')}."
                )
            if loop.time() > deadline:
                raise IpfsError(
                    "The pinning service is still pinning; the studio will check again later."
                )
            await asyncio.sleep(poll_s)
