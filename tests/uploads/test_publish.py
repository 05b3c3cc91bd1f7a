"""The publish pipeline end to end: real files, the backend's content store as the IPFS node,
the ContentRegistry on anvil, listings on the real backend. Bad input fails one track with a
reason and the rest goes on."""

import json
import uuid
from pathlib import Path

import httpx
import pytest

import chain.contracts  # noqa: F401 (fails loudly if our own code is broken)
from media.cid import file_cid
from studio.publishing.ipfs_client import KuboClient
from studio.publishing.publisher import (
    WAITING_NO_BACKEND,
    WAITING_NO_WALLET,
    Publisher,
    metadata_document,
)
from studio.publishing.upload_queue import State, UploadQueue
from tests.uploads.audio import FORMATS, TAGS, make_audio
from tests.uploads.conftest import free_port, lister_for, registrar_for


def chain_track_count(chain, address: str) -> int:
    from web3 import Web3

    from chain import contracts

    w3 = Web3(Web3.HTTPProvider(chain.rpc_url))
    registry = contracts.deployed(contracts.CONTENT_REGISTRY, w3, chain.registry_address)
    return registry.functions.track_count(address).call()


def listed_cids(backend, address: str) -> list[str]:
    page = httpx.get(f"{backend.url}/artists/{address}/tracks", params={"limit": 100}).json()
    return [t["cid"] for t in page["items"]]


@pytest.fixture
def queue(tmp_path: Path):
    q = UploadQueue(tmp_path / "queue.sqlite3")
    yield q
    q.close()


async def test_every_format_ends_listed_once(
    backend, chain, artist, queue: UploadQueue, tmp_path: Path
) -> None:
    account, token = artist
    folder = tmp_path / "masters"
    folder.mkdir()
    run = uuid.uuid4().hex[:6]
    for ext in FORMATS:
        make_audio(folder, ext, seconds=1.5, title=f"{TAGS['title']} {ext} {run}")
    (folder / "notes.txt").write_text("liner notes")
    added, refused = queue.add([folder])
    assert len(added) == len(FORMATS)
    assert [r.path.name for r in refused] == ["notes.txt"]
    async with KuboClient(backend.url) as ipfs:
        publisher = Publisher(
            queue,
            ipfs,
            tmp_path / "work",
            registrar=registrar_for(chain, account),
            lister=lister_for(backend, token),
        )
        results = await publisher.run()
    assert [t.state for t in results] == [State.LISTED] * len(FORMATS), [t.detail for t in results]
    for track in results:
        assert track.cid == file_cid(track.path).cid
        assert track.tx_hash and track.listing_id
    assert chain_track_count(chain, account.address) == len(FORMATS)
    assert sorted(listed_cids(backend, account.address)) == sorted(t.cid for t in results)
    # What fans fetch: the master, the metadata, the artwork, the stream, from the gateway.
    track = results[0]
    async with httpx.AsyncClient(base_url=backend.url) as http:
        master = await http.get(f"/ipfs/{track.cid}")
        assert master.content == track.path.read_bytes()
        metadata = (await http.get(f"/ipfs/{track.outputs['metadata_cid']}")).json()
        assert metadata["name"].startswith(TAGS["title"])
        assert metadata["audio"]["cid"] == track.cid
        assert metadata["image"] == f"ipfs://{track.outputs['artwork_cid']}"
        stream = await http.get(f"/ipfs/{track.outputs['rendition_cid']}")
        assert stream.status_code == 200 and stream.content[:4] == b"OggS"
    assert queue.overall_progress() == 1.0


async def test_bad_input_fails_alone(
    backend, chain, artist, queue: UploadQueue, tmp_path: Path
) -> None:
    import subprocess

    account, token = artist
    good = make_audio(tmp_path, "flac", seconds=1.0, title=f"good {uuid.uuid4().hex}")
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(b"\xff\xfb" + bytes(range(256)) * 40)
    empty = tmp_path / "empty.wav"
    empty.touch()
    adpcm = tmp_path / "adpcm.wav"
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-e",
            "ima-adpcm",
            str(adpcm),
            "synth",
            "1",
            "sine",
            "440",
        ],
        check=True,
    )
    doomed = make_audio(tmp_path, "wav", seconds=1.0, name="deleted", title="deleted")
    _added, refused = queue.add([corrupt, empty, adpcm, doomed, good])
    assert [r.path.name for r in refused] == ["empty.wav"]
    assert "empty" in refused[0].reason
    doomed.unlink()
    async with KuboClient(backend.url) as ipfs:
        publisher = Publisher(
            queue,
            ipfs,
            tmp_path / "work",
            registrar=registrar_for(chain, account),
            lister=lister_for(backend, token),
        )
        results = {t.path.name: t for t in await publisher.run()}
    assert results[good.name].state is State.LISTED
    assert (
        results["corrupt.mp3"].state is State.FAILED
        and "corrupt.mp3" in results["corrupt.mp3"].detail
    )
    assert results["adpcm.wav"].state is State.FAILED
    assert "codec 'adpcm_ima_wav' is not accepted" in results["adpcm.wav"].detail
    assert results["deleted.wav"].state is State.FAILED
    assert "no longer exists" in results["deleted.wav"].detail


async def test_unreachable_node_waits_then_resumes(
    backend, chain, artist, queue: UploadQueue, tmp_path: Path
) -> None:
    account, token = artist
    path = make_audio(tmp_path, "opus", seconds=1.0, title=f"retry {uuid.uuid4().hex}")
    queue.add([path])
    async with KuboClient(f"http://127.0.0.1:{free_port()}") as dead:
        publisher = Publisher(
            queue, dead, tmp_path / "work", registrar=registrar_for(chain, account)
        )
        (waiting,) = await publisher.run()
    # not the track's fault: it waits, with the reason, and the next pass takes it up again
    assert waiting.state is State.WAITING and "unreachable" in waiting.detail
    assert waiting.cid == file_cid(path).cid  # the analysis is kept
    async with KuboClient(backend.url) as ipfs:
        publisher = Publisher(
            queue,
            ipfs,
            tmp_path / "work",
            registrar=registrar_for(chain, account),
            lister=lister_for(backend, token),
        )
        (done,) = await publisher.run()
    assert done.state is State.LISTED


async def test_pin_refused_is_a_reason(backend, queue: UploadQueue, tmp_path: Path) -> None:
    """A node that stores but refuses to pin (quota, policy): the track fails with its words."""
    real = httpx.AsyncHTTPTransport()

    class RefusingPins(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/api/v0/pin/add":
                body = {
                    "Message": "pin quota exceeded for this account",
                    "Code": 0,
                    "Type": "error",
                }
                return httpx.Response(500, json=body)
            return await real.handle_async_request(request)

    path = make_audio(tmp_path, "mp3", seconds=1.0, title=f"pin {uuid.uuid4().hex}")
    queue.add([path])
    async with KuboClient(backend.url, transport=RefusingPins()) as ipfs:
        (track,) = await Publisher(queue, ipfs, tmp_path / "work").run()
    assert track.state is State.FAILED
    assert "pin quota exceeded" in track.detail


async def test_rejected_transaction_then_confirmed(
    backend, chain, artist, queue: UploadQueue, tmp_path: Path
) -> None:
    account, token = artist
    asked: list[str] = []

    async def decline(summary: str) -> bool:
        asked.append(summary)
        return False

    path = make_audio(tmp_path, "m4a", seconds=1.0, title=f"reject {uuid.uuid4().hex}")
    (track,), _ = queue.add([path])
    async with KuboClient(backend.url) as ipfs:
        publisher = Publisher(
            queue,
            ipfs,
            tmp_path / "work",
            registrar=registrar_for(chain, account, decline),
            lister=lister_for(backend, token),
        )
        (rejected,) = await publisher.run()
        assert rejected.state is State.FAILED and "declined" in rejected.detail
        assert asked and track.path.name not in asked[0] and rejected.cid in asked[0]
        assert chain_track_count(chain, account.address) == 0
        queue.retry(track.id)
        assert queue.get(track.id).state is State.REGISTERING  # on IPFS already
        publisher.registrar = registrar_for(chain, account)
        (listed,) = await publisher.run()
    assert listed.state is State.LISTED
    assert chain_track_count(chain, account.address) == 1


async def test_waits_for_a_wallet_and_a_backend(
    backend, chain, artist, queue: UploadQueue, tmp_path: Path
) -> None:
    account, token = artist
    path = make_audio(tmp_path, "aiff", seconds=1.0, title=f"wait {uuid.uuid4().hex}")
    (_track,), _ = queue.add([path])
    async with KuboClient(backend.url) as ipfs:
        (waiting,) = await Publisher(queue, ipfs, tmp_path / "work").run()
        assert waiting.state is State.WAITING and waiting.detail == WAITING_NO_WALLET
        publisher = Publisher(
            queue, ipfs, tmp_path / "work", registrar=registrar_for(chain, account)
        )
        (no_backend,) = await publisher.run()
        assert no_backend.state is State.WAITING and no_backend.detail == WAITING_NO_BACKEND
        assert chain_track_count(chain, account.address) == 1
        publisher.lister = lister_for(backend, token)
        (listed,) = await publisher.run()
    assert listed.state is State.LISTED
    assert chain_track_count(chain, account.address) == 1
    assert listed_cids(backend, account.address) == [listed.cid]


async def test_same_file_twice_is_registered_once(
    backend, chain, artist, queue: UploadQueue, tmp_path: Path
) -> None:
    account, token = artist
    first = make_audio(tmp_path, "flac", seconds=1.0, title=f"twice {uuid.uuid4().hex}")
    copy = tmp_path / "copy"
    copy.mkdir()
    second = copy / first.name
    second.write_bytes(first.read_bytes())
    sent: list[str] = []
    registrar = registrar_for(chain, account)
    original_register = registrar.register

    async def counting_register(cid, metadata_cid, on_submitted):
        sent.append(cid)
        return await original_register(cid, metadata_cid, on_submitted)

    registrar.register = counting_register  # type: ignore[method-assign]
    queue.add([first, second])
    async with KuboClient(backend.url) as ipfs:
        publisher = Publisher(
            queue, ipfs, tmp_path / "work", registrar=registrar, lister=lister_for(backend, token)
        )
        results = await publisher.run()
    assert [t.state for t in results] == [State.LISTED, State.LISTED]
    assert results[0].cid == results[1].cid
    assert sent == [results[0].cid]
    assert chain_track_count(chain, account.address) == 1
    assert listed_cids(backend, account.address) == [results[0].cid]


async def test_file_changed_after_queued_is_detected(
    backend, queue: UploadQueue, tmp_path: Path
) -> None:
    path = make_audio(tmp_path, "wav", seconds=1.0, title=f"before {uuid.uuid4().hex}")
    (_track,), _ = queue.add([path])
    (analysed,) = await Publisher(queue, None, tmp_path / "work").run()
    assert analysed.state is State.WAITING  # analysed, no IPFS node configured
    before = analysed.cid
    make_audio(tmp_path, "wav", seconds=1.2, title=f"after {uuid.uuid4().hex}")  # re-exported
    async with KuboClient(backend.url) as ipfs:
        (uploaded,) = await Publisher(queue, ipfs, tmp_path / "work").run()
    assert uploaded.cid != before
    assert uploaded.cid == file_cid(path).cid
    assert uploaded.info["duration_s"] == pytest.approx(1.2, abs=0.01)
    assert uploaded.state is State.WAITING and uploaded.detail == WAITING_NO_WALLET


async def test_edits_reach_the_metadata(backend, queue: UploadQueue, tmp_path: Path) -> None:
    path = make_audio(tmp_path, "ogg", seconds=1.0, title=f"edit {uuid.uuid4().hex}")
    cover = tmp_path / "cover.png"
    from tests.uploads.audio import artwork_png

    cover.write_bytes(artwork_png())
    (track,), _ = queue.add([path])
    queue.edit(track.id, title="Ночной поезд", genre="Ambient", artwork_path=str(cover))
    async with KuboClient(backend.url) as ipfs:
        (done,) = await Publisher(queue, ipfs, tmp_path / "work", rendition="mp3").run()
        document = json.loads(await ipfs.cat(done.outputs["metadata_cid"]))
    assert document["name"] == "Ночной поезд"
    assert {"trait_type": "Genre", "value": "Ambient"} in document["attributes"]
    assert document["properties"]["artist"] == TAGS["artist"]  # unedited: from the file's tags
    assert document["streaming"]["mime"] == "audio/mpeg"
    assert document == metadata_document(done)


async def test_pipeline_against_js_ipfs(ipfs_node, queue: UploadQueue, tmp_path: Path) -> None:
    """The same pipeline on a real IPFS node: its CIDs are ours, its bytes are the files'."""
    paths = [
        make_audio(tmp_path, ext, seconds=1.0, title=f"node {ext} {uuid.uuid4().hex}")
        for ext in ("flac", "m4a")
    ]
    queue.add(paths)
    async with KuboClient(ipfs_node.api_url) as ipfs:
        results = await Publisher(queue, ipfs, tmp_path / "work").run()
        for track in results:
            assert track.state is State.WAITING and track.detail == WAITING_NO_WALLET
            assert await ipfs.cat(track.cid) == track.path.read_bytes()
            document = json.loads(await ipfs.cat(track.outputs["metadata_cid"]))
            assert document["audio"]["cid"] == track.cid
            rendition = Path(track.outputs["rendition_path"])
            assert await ipfs.cat(track.outputs["rendition_cid"]) == rendition.read_bytes()
