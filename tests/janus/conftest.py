"""Fixtures for the stream through Janus: Debian's `janus` as real processes, configured in
tmp, and the backend's stream routes on `JanusMediaServer` served by uvicorn in the test's loop.

Janus 1.1.2 (libnice) never gathers a loopback candidate, whatever `ice_enforce_list` says, so
this area runs in a network namespace of its own (tests/support/in_netns.sh, from tests/run.sh)
whose veth pair gives Janus and our aiortc peers two test addresses: every packet stays there.
"""

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import ifaddr
import pytest
from fastapi import FastAPI

from backend.streams import fan_page, streams_router
from backend.streams.janus_server import JanusMediaServer
from backend.streams.keys import read_ingest_token
from harness.janus import JanusServer, janus_servers
from media.ice import LOOPBACK_ENV
from tests.live_relay.conftest import serve


@dataclass
class JanusBackend:
    url: str
    token: str
    media: JanusMediaServer


@pytest.fixture(autouse=True)
def host_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LOOPBACK_ENV, raising=False)


def _in_test_namespace() -> bool:
    """Run by tests/support/in_netns.sh: the namespace's veth pair is here."""
    return any(adapter.name == "hv0" for adapter in ifaddr.get_adapters())


@pytest.fixture
def janus_runs() -> None:
    """Janus can run here: installed, and in the suite's own network namespace (Janus gathers
    no loopback candidates; its media must stay between the namespace's test addresses)."""
    if shutil.which("janus") is None:
        pytest.skip("janus is not installed (Debian package janus, packaging/debian-test-deps.txt)")
    if not _in_test_namespace():
        pytest.skip(
            "run through tests/support/in_netns.sh (make test does): Janus needs a "
            "non-loopback address, and the suite's are the namespace's veth pair"
        )


@pytest.fixture
def janus(tmp_path: Path, janus_runs: None) -> Iterator[dict[str, JanusServer]]:
    """An origin and two edges, each its own janus process."""
    with janus_servers(tmp_path / "janus", "origin", "edge-a", "edge-b") as servers:
        yield servers


async def backend_on(tmp_path: Path, media: JanusMediaServer) -> AsyncIterator[JanusBackend]:
    data_dir = tmp_path / "backend-data"
    app = FastAPI()
    app.include_router(streams_router(data_dir, media_server=media))
    app.mount("/fan", fan_page(), name="fan")
    url, server, task = await serve(app)
    yield JanusBackend(url=url, token=read_ingest_token(data_dir), media=media)
    server.should_exit = True
    await asyncio.wait_for(task, 15)


@pytest.fixture
async def origin_backend(tmp_path: Path, janus) -> AsyncIterator[JanusBackend]:  # type: ignore[no-untyped-def]
    """Viewers on the origin itself (VideoRoom subscribers)."""
    async for backend in backend_on(tmp_path, JanusMediaServer(janus["origin"].url)):
        yield backend


@pytest.fixture
async def edge_backend(tmp_path: Path, janus) -> AsyncIterator[JanusBackend]:  # type: ignore[no-untyped-def]
    """Viewers on the edges (Streaming mountpoints fed by the origin's RTP forwarders)."""
    media = JanusMediaServer(janus["origin"].url, [janus["edge-a"].url, janus["edge-b"].url])
    async for backend in backend_on(tmp_path, media):
        yield backend


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client
