"""A 1 GB WAV goes through CID and upload as a stream: memory stays flat, CIDs agree."""

import threading
import time
from pathlib import Path

import pytest

from media.cid import file_cid
from media.probe import probe
from studio.publishing.ipfs_client import KuboClient

SIZE = 1 << 30


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def write_wav(path: Path, size: int) -> None:
    import struct

    import numpy as np

    data_bytes = size - 44
    header = b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 2, 44_100, 44_100 * 4, 4, 16)
    header += b"data" + struct.pack("<I", data_bytes)
    rng = np.random.default_rng(5)
    block = (rng.normal(0, 3000, 2 << 20)).astype("<i2").tobytes()  # 4 MiB of noise
    with path.open("wb") as f:
        f.write(header)
        remaining = data_bytes
        while remaining:
            n = min(len(block), remaining)
            f.write(block[:n])
            remaining -= n


@pytest.mark.slow
async def test_one_gigabyte_wav_streams(content_store, tmp_path: Path) -> None:
    path = tmp_path / "long master.wav"
    write_wav(path, SIZE)
    info = probe(path)
    assert info.codec == "pcm_s16le" and info.duration_s > 6000
    baseline = rss_mb()
    peak = [baseline]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mb())
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        expected = file_cid(path)
        progress: list[int] = []
        async with KuboClient(content_store.url, timeout=300) as client:
            result = await client.add(
                path,
                expected_cid=expected.cid,
                on_progress=lambda sent, total: progress.append(sent),
            )
    finally:
        stop.set()
        sampler.join()
    assert result.cid == expected.cid
    assert result.cumulative_size == expected.cumulative_size
    assert progress[-1] == SIZE and len(progress) >= 1000
    stored = content_store.data_dir / "ipfs" / "blobs" / expected.cid
    assert stored.stat().st_size == SIZE
    # Client and store both run in this process: neither may hold the file in memory.
    assert peak[0] - baseline < 150, f"RSS grew by {peak[0] - baseline:.0f} MB"


@pytest.mark.slow
async def test_one_gigabyte_to_js_ipfs_and_back(ipfs_node, tmp_path: Path) -> None:
    import hashlib

    import httpx

    path = tmp_path / "master.wav"
    write_wav(path, SIZE)
    expected = file_cid(path)
    async with KuboClient(ipfs_node.api_url, timeout=300) as client:
        result = await client.add(path, expected_cid=expected.cid)
    assert result.cid == expected.cid
    local = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            local.update(chunk)
    remote = hashlib.sha256()
    received = 0
    async with (
        httpx.AsyncClient(timeout=300) as http,
        http.stream(
            "POST", f"{ipfs_node.api_url}/api/v0/cat", params={"arg": result.cid}
        ) as answer,
    ):
        async for chunk in answer.aiter_bytes():
            remote.update(chunk)
            received += len(chunk)
    assert received == SIZE
    assert remote.digest() == local.digest()
