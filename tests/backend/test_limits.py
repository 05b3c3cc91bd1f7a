"""The backend's fail-open paths, closed: body size and pace, slowloris, trusted proxies,
upload limits and quotas, who may list a CID, and how the CLI reads its arguments."""

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from backend.cli import main as cli_main
from backend.config import MIB, BackendConfig
from studio.local_backend import free_port
from tests.backend.support import (
    ROOT,
    RunningBackend,
    bearer,
    make_profile,
    serve,
    sign_in,
    upload,
)
from tests.backend.test_cli import _stop, _wait_healthy
from tests.uploads.test_large_file import rss_mb


async def _response_head(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)


async def test_an_oversized_body_is_refused_before_it_is_read(backend: RunningBackend) -> None:
    host, port = "127.0.0.1", backend.config.port
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        b"POST /auth/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 52428800\r\n\r\n{"
    )
    await writer.drain()
    head = await _response_head(reader)  # answered with 50 MB still unsent
    writer.close()
    assert head.startswith(b"HTTP/1.1 413"), head


async def test_six_streamed_50_mb_bodies_are_cut_off_at_the_limit(
    backend: RunningBackend,
) -> None:
    """No Content-Length (chunked): counted as it streams, refused once past 64 KiB."""
    chunk = b"x" * (1 << 20)

    async def fifty_megabytes() -> AsyncIterator[bytes]:
        for _ in range(50):
            yield chunk

    async def send(http: httpx.AsyncClient) -> int:
        try:
            response = await http.post(
                f"{backend.url}/auth/verify",
                content=fifty_megabytes(),
                headers={"Content-Type": "application/json"},
            )
        except httpx.TransportError:
            return -1  # the server hung up mid-body: it did not read it all either
        return response.status_code

    before = rss_mb()  # client and server share this process
    async with httpx.AsyncClient(timeout=60) as http:
        statuses = await asyncio.gather(*(send(http) for _ in range(6)))
    grown = rss_mb() - before
    assert set(statuses) <= {413, -1} and 413 in statuses, statuses
    assert grown < 100, f"RSS grew by {grown:.0f} MB"


async def test_a_body_that_stops_arriving_is_answered_408(backend_config: BackendConfig) -> None:
    async with serve(replace(backend_config, body_timeout_s=1.0)) as running:
        reader, writer = await asyncio.open_connection("127.0.0.1", running.config.port)
        writer.write(
            b"POST /auth/refresh HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"refresh_'
        )
        await writer.drain()
        head = await _response_head(reader)
        writer.close()
    assert head.startswith(b"HTTP/1.1 408"), head


async def test_a_thousand_half_sent_requests_neither_stay_nor_block_health(
    backend_config: BackendConfig,
) -> None:
    config = replace(backend_config, header_timeout_s=2.0)
    async with serve(config) as running:
        port = running.config.port
        half_open: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        try:
            for _ in range(1000):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # never finished
                half_open.append((reader, writer))
            async with httpx.AsyncClient(timeout=30) as http:
                health = await http.get(f"{running.url}/health")
            assert health.status_code == 200
            # The server hangs up on every one of them by itself.
            closed = await asyncio.gather(
                *(asyncio.wait_for(r.read(), 60) for r, _ in half_open), return_exceptions=True
            )
            assert all(c == b"" for c in closed), {type(c).__name__ for c in closed}
        finally:
            for _, writer in half_open:
                writer.close()


def _from(address: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(transport=transport, timeout=10)


async def test_sign_in_limit_keys_on_the_client_a_trusted_proxy_names(
    backend_config: BackendConfig,
) -> None:
    config = replace(backend_config, auth_burst=2, trusted_proxies=("127.0.0.2",))
    async with serve(config) as running, _from("127.0.0.2") as proxy, _from("127.0.0.3") as other:
        nonce = f"{running.url}/auth/nonce"

        async def statuses(http: httpx.AsyncClient, headers: list[dict[str, str]]) -> list[int]:
            return [(await http.get(nonce, headers=h)).status_code for h in headers]

        first = {"X-Forwarded-For": "203.0.113.1"}
        assert await statuses(proxy, [first, first, first]) == [200, 200, 429]
        # Other clients behind the same proxy have their own buckets, in either header.
        second = {"X-Forwarded-For": "198.51.100.7, 127.0.0.2"}
        assert await statuses(proxy, [second]) == [200]
        assert await statuses(proxy, [{"Forwarded": 'for="[2001:db8::9]:4711";proto=https'}]) == [
            200
        ]
        # A client that is not a trusted proxy cannot pick a fresh bucket per request.
        spoofed = [{"X-Forwarded-For": f"192.0.2.{n}"} for n in range(3)]
        assert await statuses(other, spoofed) == [200, 200, 429]


async def test_uploads_have_a_size_limit_and_accounts_a_quota(
    backend_config: BackendConfig, client: httpx.AsyncClient
) -> None:
    config = replace(backend_config, max_upload_bytes=1 * MIB, storage_quota_bytes=2 * MIB)
    async with serve(config) as running:
        add = f"{running.url}/api/v0/add"
        _account, tokens = await sign_in(client, running)

        async def put(data: bytes, tokens: dict[str, str]) -> httpx.Response:
            return await client.post(
                add,
                params={"cid-version": "1"},
                files={"file": ("f.bin", data)},
                headers=bearer(tokens),
            )

        too_big = await put(os.urandom(MIB + 100_000), tokens)
        assert too_big.status_code == 413
        assert "1 MiB" in too_big.json()["Message"]
        for _ in range(2):
            assert (await put(os.urandom(MIB - 1000), tokens)).status_code == 200
        over = await put(os.urandom(200_000), tokens)
        assert over.status_code == 507
        assert "quota" in over.json()["Message"]
        assert not list((running.config.data_dir / "ipfs" / "incoming").iterdir())
        _other, other_tokens = await sign_in(client, running)
        assert (await put(os.urandom(200_000), other_tokens)).status_code == 200


async def test_an_artist_cannot_list_another_artists_cid(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    _a, a_tokens = await make_profile(client, backend, name="Artist A")
    _b, b_tokens = await make_profile(client, backend, name="Artist B")
    theirs = await upload(client, backend, a_tokens, b"artist A's master")
    body = {"title": "Stolen", "cid": theirs, "duration_s": 60}
    stolen = await client.post(f"{backend.url}/tracks", json=body, headers=bearer(b_tokens))
    assert stolen.status_code == 403
    assert "another account" in stolen.json()["detail"]
    unknown = {**body, "cid": "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"}
    nowhere = await client.post(f"{backend.url}/tracks", json=unknown, headers=bearer(b_tokens))
    assert nowhere.status_code == 403
    own = await client.post(
        f"{backend.url}/tracks", json={**body, "title": "Mine"}, headers=bearer(a_tokens)
    )
    assert own.status_code == 201 and own.json()["artist_name"] == "Artist A"


async def test_a_plain_sqlite_url_gets_its_async_driver(tmp_path: Path) -> None:
    config = BackendConfig(database_url=f"sqlite:///{tmp_path / 'plain.db'}", data_dir=tmp_path)
    async with serve(config) as running, httpx.AsyncClient() as http:
        health = (await http.get(f"{running.url}/health")).json()
    assert health["components"]["database"]["status"] == "ok"
    assert (tmp_path / "plain.db").exists()


def test_local_refuses_a_public_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["--local", "--host", "0.0.0.0", "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert "--local" in err and "loopback" in err and "0.0.0.0" in err
    with pytest.raises(ValueError, match="loopback"):
        BackendConfig(host="192.0.2.1", local=True)
    assert BackendConfig(host="::1", local=True).local


def test_the_data_dir_defaults_to_the_users_not_the_working_directory(tmp_path: Path) -> None:
    cwd, data_home = tmp_path / "started-here", tmp_path / "xdg-data"
    cwd.mkdir()
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "backend", "--port", str(port)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "XDG_DATA_HOME": str(data_home), "PYTHONPATH": str(ROOT)},
    )
    try:
        _wait_healthy(process, port)
    finally:
        _stop(process)
    assert list(cwd.iterdir()) == []
    assert (data_home / "harmonie-backend" / "ingest-token").exists()
    assert (data_home / "harmonie-backend" / "backend.db").exists()
