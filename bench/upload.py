"""Publishing throughput: local CID vs sha256sum, upload to an IPFS node and to the backend's
content store, memory while uploading.

    .venv/bin/python bench/upload.py [--size-mb 1024] [--ipfs URL]

Makes a WAV of the given size (streamed to disk), then measures:
  sha256_mb_s            sha256sum over the file (the reference)
  cid_mb_s               media.cid.file_cid over the same file (target: >= 80% of sha256_mb_s)
  upload_ipfs_mb_s       studio.ipfs_client.KuboClient.add, as the studio publishes, to a real
                         IPFS node: js-ipfs from node_modules (offline, loopback, started as
                         tests/uploads/conftest.py does), or the Kubo RPC at --ipfs; CID checked
  upload_store_mb_s      the same client to the backend's content store (`python -m backend
                         --local` as the studio starts it: the local profile's IPFS), CID
                         checked
  rss_growth_ipfs_mb, rss_growth_store_mb
                         peak growth of this (the uploading) process's resident memory during
                         each upload; rss_growth_mb is the larger (target < 100)
The last line printed is one JSON object with these figures and the load average.
"""

import argparse
import asyncio
import os
import struct
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import report, rss_mb  # noqa: E402
from harness.ipfs_node import JSIPFS, jsipfs_node, stop, wait_for_api  # noqa: E402
from media.cid import file_cid  # noqa: E402
from studio.local_backend import free_port  # noqa: E402
from studio.publishing.ipfs_client import KuboClient  # noqa: E402


class PeakRss:
    def __init__(self) -> None:
        self.start = rss_mb(os.getpid())
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(os.getpid()))
            time.sleep(0.02)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def write_wav(path: Path, size_mb: int) -> None:
    """16-bit stereo 44.1 kHz noise, written a few MB at a time."""
    data_bytes = size_mb * 1024 * 1024 - 44
    data_bytes -= data_bytes % 4
    header = b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 2, 44_100, 44_100 * 4, 4, 16)
    header += b"data" + struct.pack("<I", data_bytes)
    block = os.urandom(4 << 20)
    with path.open("wb") as f:
        f.write(header)
        remaining = data_bytes
        while remaining:
            n = min(len(block), remaining)
            f.write(block[:n])
            remaining -= n


def start_store(scratch: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """`python -m backend --local`, as the studio starts it: its content store is the IPFS."""
    port = free_port()
    data = scratch / "backend"
    data.mkdir()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "backend", "--host", "127.0.0.1", "--port", str(port),
            "--database-url", f"sqlite+aiosqlite:///{data / 'backend.db'}",
            "--data-dir", str(data), "--local", "--log-level", "warning",
        ],
        cwd=ROOT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_for_api(url, process, "the backend")
    return url, process


def upload(url: str, path: Path, cid: str) -> tuple[float, float]:
    """Seconds to add `path` through the studio's client, and the peak RSS growth in MB."""

    async def add() -> float:
        async with KuboClient(url, timeout=600) as client:
            begin = time.perf_counter()
            result = await client.add(path, expected_cid=cid)
            assert result.cid == cid
            return time.perf_counter() - begin

    with PeakRss() as rss:
        seconds = asyncio.run(add())
    return seconds, rss.peak - rss.start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--ipfs", help="a Kubo RPC URL instead of starting js-ipfs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="harmonie-bench-upload-") as tmp:
        scratch = Path(tmp)
        path = scratch / "master.wav"
        write_wav(path, args.size_mb)
        size_mb = path.stat().st_size / (1024 * 1024)
        subprocess.run(["sha256sum", str(path)], check=True, capture_output=True)  # warm the cache

        started = time.perf_counter()
        subprocess.run(["sha256sum", str(path)], check=True, capture_output=True)
        sha_s = time.perf_counter() - started

        started = time.perf_counter()
        cid = file_cid(path).cid
        cid_s = time.perf_counter() - started

        with ExitStack() as stack:
            if args.ipfs:
                ipfs_url = args.ipfs
            else:
                if not JSIPFS.exists():
                    raise SystemExit(f"js-ipfs is not installed ({JSIPFS}); run `make node`")
                (scratch / "jsipfs").mkdir()
                ipfs_url = stack.enter_context(jsipfs_node(scratch / "jsipfs")).api_url
            ipfs_s, ipfs_rss = upload(ipfs_url, path, cid)
        store_url, store = start_store(scratch)
        try:
            store_s, store_rss = upload(store_url, path, cid)
        finally:
            stop(store)
        figures = {
            "size_mb": round(size_mb, 1),
            "ipfs_node": args.ipfs or "js-ipfs (node_modules, offline)",
            "cid": cid,
            "sha256_mb_s": round(size_mb / sha_s, 1),
            "cid_mb_s": round(size_mb / cid_s, 1),
            "cid_vs_sha256": round(sha_s / cid_s, 3),
            "upload_ipfs_mb_s": round(size_mb / ipfs_s, 1),
            "upload_store_mb_s": round(size_mb / store_s, 1),
            "rss_growth_ipfs_mb": round(ipfs_rss, 1),
            "rss_growth_store_mb": round(store_rss, 1),
            "rss_growth_mb": round(max(ipfs_rss, store_rss), 1),
        }
    report(figures)


if __name__ == "__main__":
    main()
