"""The IPFS client against a real js-ipfs node and against the backend's content store:
same CIDs, same bytes, clear errors."""

import itertools
import os
from pathlib import Path

import httpx
import pytest

from media.cid import CHUNK_SIZE, bytes_cid, file_cid
from studio.publishing.ipfs_client import CidMismatch, IpfsError, IpfsUnreachable, KuboClient
from tests.uploads.conftest import free_port


@pytest.fixture
def multi_chunk_file(tmp_path: Path) -> Path:
    path = tmp_path / "master.wav"
    path.write_bytes(os.urandom(7 * CHUNK_SIZE + 1234))
    return path


async def test_add_to_js_ipfs_streams_and_matches(ipfs_node, multi_chunk_file: Path) -> None:
    expected = file_cid(multi_chunk_file)
    progress: list[tuple[int, int]] = []
    async with KuboClient(ipfs_node.api_url) as client:
        result = await client.add(
            multi_chunk_file,
            expected_cid=expected.cid,
            on_progress=lambda sent, total: progress.append((sent, total)),
        )
        assert result.cid == expected.cid
        assert result.cumulative_size == expected.cumulative_size
        await client.pin(result.cid)
        stat = await client.stat(result.cid)
        assert stat["Key"] == expected.cid
        assert stat["Size"] == len(expected.root_block)
        assert await client.cat(result.cid) == multi_chunk_file.read_bytes()
        assert await client.has(result.cid)
        assert not await client.has(bytes_cid(b"never added " + os.urandom(8)))
    size = multi_chunk_file.stat().st_size
    assert progress[-1] == (size, size)
    assert len(progress) >= 2 and all(a[0] < b[0] for a, b in itertools.pairwise(progress))


async def test_content_store_gives_the_same_cids_as_js_ipfs(
    ipfs_node, content_store, tmp_path: Path
) -> None:
    sizes = [0, 10, CHUNK_SIZE, CHUNK_SIZE + 1, 175 * CHUNK_SIZE + 3]
    async with KuboClient(ipfs_node.api_url) as node, KuboClient(content_store.url) as store:
        for size in sizes:
            path = tmp_path / f"f{size}.bin"
            path.write_bytes(os.urandom(size))
            from_node = await node.add(path, pin=False)
            from_store = await store.add(path)
            assert from_store.cid == from_node.cid == file_cid(path).cid
            assert from_store.cumulative_size == from_node.cumulative_size
            assert (await store.stat(from_store.cid))["Size"] == (await node.stat(from_node.cid))[
                "Size"
            ]
            await store.pin(from_store.cid)
            assert await store.has(from_store.cid)
        assert not await store.has(bytes_cid(b"never added " + os.urandom(8)))


async def test_content_store_gateway_serves_bytes_and_ranges(
    content_store, multi_chunk_file: Path
) -> None:
    data = multi_chunk_file.read_bytes()
    async with KuboClient(content_store.url) as store:
        cid = (await store.add(multi_chunk_file)).cid
        assert await store.cat(cid) == data
    async with httpx.AsyncClient(base_url=content_store.url) as http:
        whole = await http.get(f"/ipfs/{cid}")
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["accept-ranges"] == "bytes"
        part = await http.get(f"/ipfs/{cid}", headers={"Range": "bytes=1000-1999"})
        assert part.status_code == 206
        assert part.content == data[1000:2000]
        assert part.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
        tail = await http.get(f"/ipfs/{cid}", headers={"Range": "bytes=-10"})
        assert tail.content == data[-10:]
        beyond = await http.get(f"/ipfs/{cid}", headers={"Range": f"bytes={len(data)}-"})
        assert beyond.status_code == 416
        missing = await http.get(
            "/ipfs/bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
        )
        assert missing.status_code == 404
        assert (await http.get("/ipfs/not-a-cid")).status_code == 400
        stat = await http.post("/api/v0/files/stat", params={"arg": f"/ipfs/{cid}"})
        assert stat.json()["Size"] == len(data) and stat.json()["Blocks"] == 8
    stored = list((content_store.data_dir / "ipfs" / "blobs").glob("bafy*"))
    assert [p.name for p in stored if not p.name.endswith(".json")] == [cid]
    assert not list((content_store.data_dir / "ipfs" / "incoming").iterdir())


async def test_content_store_refuses_other_layouts(content_store, multi_chunk_file: Path) -> None:
    async with httpx.AsyncClient(base_url=content_store.url) as http:
        with multi_chunk_file.open("rb") as f:
            answer = await http.post(
                "/api/v0/add", params={"cid-version": "0"}, files={"file": ("x", f)}
            )
        assert answer.status_code == 400
        assert "CIDv1" in answer.json()["Message"]


async def test_pin_of_unknown_content_is_refused(content_store) -> None:
    async with KuboClient(content_store.url) as store:
        with pytest.raises(IpfsError, match="not in this content store"):
            await store.pin("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")


async def test_answer_that_differs_from_local_cid_is_refused(
    content_store, multi_chunk_file: Path
) -> None:
    wrong = file_cid(multi_chunk_file, chunk_size=1024).cid
    async with KuboClient(content_store.url) as store:
        with pytest.raises(CidMismatch, match="Nothing was published"):
            await store.add(multi_chunk_file, expected_cid=wrong)


async def test_unreachable_node(multi_chunk_file: Path) -> None:
    async with KuboClient(f"http://127.0.0.1:{free_port()}") as client:
        with pytest.raises(IpfsUnreachable, match="unreachable"):
            await client.add(multi_chunk_file)


async def test_file_changed_during_upload_is_detected(content_store, tmp_path: Path) -> None:
    path = tmp_path / "growing.wav"
    path.write_bytes(os.urandom(3 << 20))

    def grow(sent: int, total: int) -> None:
        if sent == 1 << 20:
            with path.open("ab") as f:
                f.write(b"more")

    async with KuboClient(content_store.url) as store:
        with pytest.raises(IpfsError, match="while it was being uploaded"):
            await store.add(path, on_progress=grow)


async def test_backend_app_mounts_the_content_store(tmp_path: Path) -> None:
    from backend.app import create_app
    from backend.config import BackendConfig

    app = create_app(BackendConfig(database_url="sqlite+aiosqlite://", data_dir=tmp_path))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://backend") as http:
        answer = await http.post("/api/v0/version")
        assert answer.status_code == 200 and "content-store" in answer.json()["Version"]
        assert (
            await http.get("/ipfs/bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
        ).status_code == 404


async def test_a_hosted_backend_takes_files_only_from_signed_in_artists(tmp_path: Path) -> None:
    from backend.app import create_app
    from backend.config import BackendConfig

    hosted = create_app(BackendConfig(database_url="sqlite+aiosqlite://", data_dir=tmp_path))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=hosted), base_url="http://backend"
    ) as http:
        files = {"file": ("x.bin", b"anyone's bytes")}
        params = {"cid-version": "1", "raw-leaves": "true"}
        refused = await http.post("/api/v0/add", params=params, files=files)
        assert refused.status_code == 401
        assert "sign in" in refused.json()["detail"]
        assert (await http.post("/api/v0/pin/add", params={"arg": "x"})).status_code == 401
    stored_files = [p for p in (tmp_path / "ipfs").rglob("*") if p.is_file()]
    assert stored_files == [], "nothing was stored"

    local = create_app(
        BackendConfig(database_url="sqlite+aiosqlite://", data_dir=tmp_path, local=True)
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=local), base_url="http://backend"
    ) as http:
        stored = await http.post("/api/v0/add", params=params, files=files)
        assert stored.status_code == 200 and stored.json()["Hash"].startswith("b")
    assert any(p.is_file() for p in (tmp_path / "ipfs" / "blobs").rglob("*"))
