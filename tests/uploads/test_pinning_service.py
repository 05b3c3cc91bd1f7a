"""The Pinning Service API client against a small spec-shaped service (a stand-in for a
hosted provider, which the tests cannot reach), and the pipeline asking it to pin."""

import itertools
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Header, HTTPException, Response

from studio.publishing.ipfs_client import IpfsError, KuboClient, PinningServiceClient
from studio.publishing.publisher import Publisher
from studio.publishing.upload_queue import State, UploadQueue
from tests.uploads.audio import make_audio

TOKEN = "secret-token-123"


def pinning_service() -> FastAPI:
    """POST/GET/DELETE /pins as the spec shapes them; a pin turns 'pinned' on its 2nd look."""
    app = FastAPI()
    pins: dict[str, dict] = {}
    looks: dict[str, itertools.count] = {}

    def check(authorization: str | None) -> None:
        if authorization != f"Bearer {TOKEN}":
            raise HTTPException(401, detail={"error": {"reason": "UNAUTHORIZED"}})

    @app.post("/pins", status_code=202)
    async def add(body: dict, authorization: str | None = Header(None)) -> dict:
        check(authorization)
        if not str(body.get("cid", "")).startswith("b"):
            raise HTTPException(400, detail="bad cid")
        request_id = uuid.uuid4().hex
        pins[request_id] = {
            "requestid": request_id,
            "status": "queued",
            "created": "2026-01-01T00:00:00Z",
            "pin": body,
            "delegates": [],
        }
        looks[request_id] = itertools.count()
        return pins[request_id]

    @app.get("/pins/{request_id}")
    async def get(request_id: str, authorization: str | None = Header(None)) -> dict:
        check(authorization)
        if next(looks[request_id]) >= 1:
            pins[request_id]["status"] = "pinned"
        return pins[request_id]

    @app.get("/pins")
    async def find(cid: str, authorization: str | None = Header(None)) -> dict:
        check(authorization)
        results = [p for p in pins.values() if p["pin"]["cid"] == cid]
        return {"count": len(results), "results": results}

    @app.delete("/pins/{request_id}", status_code=202)
    async def remove(request_id: str, authorization: str | None = Header(None)) -> Response:
        check(authorization)
        pins.pop(request_id)
        return Response(status_code=202)

    return app


@pytest.fixture
def service_transport() -> httpx.ASGITransport:
    return httpx.ASGITransport(app=pinning_service())


async def test_pin_lifecycle(service_transport) -> None:
    client = PinningServiceClient("http://pins.test", TOKEN, transport=service_transport)
    cid = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    status = await client.add_pin(cid, name="Track", meta={"app": "harmonie"})
    assert status["status"] == "queued"
    done = await client.wait_pinned(status["requestid"], poll_s=0.01)
    assert done["status"] == "pinned"
    assert [p["requestid"] for p in await client.find(cid)] == [status["requestid"]]
    await client.remove(status["requestid"])
    assert await client.find(cid) == []
    await client.aclose()


async def test_bad_token_is_explained_without_the_token(service_transport) -> None:
    client = PinningServiceClient(
        "http://pins.test", "wrong-token-456", transport=service_transport
    )
    with pytest.raises(IpfsError) as caught:
        await client.add_pin("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
    assert "access token" in str(caught.value) and "wrong-token-456" not in str(caught.value)
    await client.aclose()


async def test_pipeline_asks_the_pinning_service(
    content_store, service_transport, tmp_path: Path
) -> None:
    pinning = PinningServiceClient("http://pins.test", TOKEN, transport=service_transport)
    queue = UploadQueue(tmp_path / "q.sqlite3")
    queue.add([make_audio(tmp_path, "flac", seconds=0.3)])
    async with KuboClient(content_store.url) as ipfs:
        (track,) = await Publisher(queue, ipfs, tmp_path / "work", pinning=pinning).run()
    assert track.state is State.WAITING  # no wallet; but on IPFS and asked to be pinned
    assert track.outputs["remote_pin_status"] == "queued"
    (pin,) = await pinning.find(track.cid)
    assert pin["requestid"] == track.outputs["remote_pin_request"]
    await pinning.aclose()
    queue.close()
