"""Fixtures for the stream relay: a real backend (uvicorn) on loopback, in the test's loop.

Media stays on 127.0.0.1: `HARMONIE_ICE_LOOPBACK=only` makes every aiortc peer gather the
loopback host candidate and nothing else.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from backend.streams import streams_router
from backend.streams.keys import read_ingest_token
from backend.streams.relay import BuiltinRelay
from studio.local_backend import free_port


@dataclass
class RunningServer:
    url: str
    token: str
    relay: BuiltinRelay
    data_dir: Path


async def serve(app: FastAPI) -> tuple[str, uvicorn.Server, asyncio.Task[None]]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    for _ in range(200):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.025)
    return f"http://127.0.0.1:{port}", server, task


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARMONIE_ICE_LOOPBACK", "only")


@pytest.fixture
async def relay_server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    data_dir = tmp_path / "backend-data"
    router = streams_router(data_dir)
    app = FastAPI()
    app.include_router(router)
    url, server, task = await serve(app)
    yield RunningServer(
        url=url, token=read_ingest_token(data_dir), relay=router.media_server, data_dir=data_dir
    )
    server.should_exit = True
    await asyncio.wait_for(task, 15)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def wait_until(predicate, timeout: float = 20.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    """Poll `predicate()` until true; fail with `what` after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
