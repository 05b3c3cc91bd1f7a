"""Local CIDs against a real js-ipfs node: same CID, same bytes back."""

import os
import random
from pathlib import Path

import httpx
import pytest

from media.cid import CHUNK_SIZE, MAX_LINKS, CidBuilder, bytes_cid, cid_from_str, file_cid, is_cid


def node_add(api_url: str, path: Path, chunker: str | None = None) -> dict[str, object]:
    params = {"cid-version": "1", "raw-leaves": "true", "cid-base": "base32", "pin": "false"}
    if chunker:
        params["chunker"] = chunker
    with path.open("rb") as f:
        response = httpx.post(
            f"{api_url}/api/v0/add", params=params, files={"file": (path.name, f)}, timeout=300
        )
    response.raise_for_status()
    return response.json()


def node_cat(api_url: str, cid: str) -> bytes:
    response = httpx.post(f"{api_url}/api/v0/cat", params={"arg": cid}, timeout=120)
    response.raise_for_status()
    return response.content


SIZES = {
    "empty": 0,
    "one byte": 1,
    "one chunk": CHUNK_SIZE,
    "one chunk plus one": CHUNK_SIZE + 1,
    "three chunks and a tail": 3 * CHUNK_SIZE + 17,
    "174 chunks": MAX_LINKS * CHUNK_SIZE,
    "175 chunks": MAX_LINKS * CHUNK_SIZE + 5,
    "400 chunks": 400 * CHUNK_SIZE + 9,
}


@pytest.mark.parametrize("name", SIZES)
def test_cid_equals_js_ipfs_and_bytes_read_back(ipfs_node, tmp_path: Path, name: str) -> None:
    path = tmp_path / "file.bin"
    path.write_bytes(os.urandom(SIZES[name]))
    ours = file_cid(path)
    answer = node_add(ipfs_node.api_url, path)
    assert answer["Hash"] == ours.cid
    assert int(answer["Size"]) == ours.cumulative_size
    assert ours.size == SIZES[name]
    if SIZES[name] <= 10 * CHUNK_SIZE:
        assert node_cat(ipfs_node.api_url, ours.cid) == path.read_bytes()


def test_three_level_tree_matches_with_small_chunks(ipfs_node, tmp_path: Path) -> None:
    """174*174+ chunks need a third level; 1 KiB chunks make that testable in 30 MB."""
    path = tmp_path / "deep.bin"
    path.write_bytes(os.urandom(1024 * (MAX_LINKS * MAX_LINKS + 5) + 7))
    ours = file_cid(path, chunk_size=1024)
    answer = node_add(ipfs_node.api_url, path, chunker="size-1024")
    assert answer["Hash"] == ours.cid
    assert ours.leaves == MAX_LINKS * MAX_LINKS + 6


def test_incremental_builder_matches_whole_file(tmp_path: Path) -> None:
    data = os.urandom(5 * CHUNK_SIZE + 123)
    builder = CidBuilder()
    rng = random.Random(7)
    i = 0
    while i < len(data):
        n = rng.choice([1, 100, 4096, CHUNK_SIZE - 1, CHUNK_SIZE, 3 * CHUNK_SIZE])
        builder.update(data[i : i + n])
        i += n
    path = tmp_path / "f"
    path.write_bytes(data)
    assert builder.result().cid == file_cid(path).cid == bytes_cid(data)


def test_known_cids() -> None:
    # Well-known: the empty file and "hello world\n" added with --cid-version=1 --raw-leaves.
    assert bytes_cid(b"") == "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    assert bytes_cid(b"hello world\n") == (
        "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"
    )


def test_one_byte_change_changes_cid() -> None:
    data = bytearray(os.urandom(2 * CHUNK_SIZE))
    before = bytes_cid(bytes(data))
    data[-1] ^= 1
    assert bytes_cid(bytes(data)) != before


def test_cid_parsing() -> None:
    assert is_cid(bytes_cid(b"x"))
    assert not is_cid("QmNotBase32")
    assert not is_cid("bnotacid")
    with pytest.raises(ValueError):
        cid_from_str("")
