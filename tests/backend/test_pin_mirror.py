"""Listed content pinned on two more IPFS nodes (real js-ipfs daemons), and
`harmonie-backend check-pins` as the operator runs it: what is missing where, as JSON."""

import asyncio
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.config import BackendConfig
from backend.pin_mirror import KuboMirror
from harness.ipfs_node import JSIPFS, IpfsNode, jsipfs_node, stop
from tests.backend.conftest import JWT_SECRET
from tests.backend.support import ROOT, RunningBackend, bearer, make_profile, upload


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[IpfsNode]]:
    if not JSIPFS.exists() or shutil.which("node") is None:
        pytest.skip(f"js-ipfs is not installed ({JSIPFS} missing; run `make node`)")
    with ExitStack() as stack:
        started = []
        for name in ("first", "second"):
            (tmp_path / name).mkdir()
            started.append(stack.enter_context(jsipfs_node(tmp_path / name)))
        yield started


@pytest.fixture
def backend_config(tmp_path: Path, nodes: list[IpfsNode]) -> BackendConfig:
    return BackendConfig(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'backend.db'}",
        data_dir=tmp_path,
        jwt_secret=JWT_SECRET,
        pin_mirrors=tuple(node.api_url for node in nodes),
    )


def check_pins(config: BackendConfig, *extra: str) -> tuple[int, dict[str, Any], str]:
    command = [sys.executable, "-m", "backend", "check-pins", "--database-url",
               config.database_url, "--data-dir", str(config.data_dir)]  # fmt: skip
    for url in config.pin_mirrors:
        command += ["--pin-mirror", url]
    done = subprocess.run([*command, *extra], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


def unpinned(report: dict[str, Any]) -> dict[str, list[str]]:
    return {place["place"]: place["unpinned"] for place in report["places"]}


async def pinned_on(node: IpfsNode) -> set[str]:
    async with httpx.AsyncClient(timeout=10) as http:
        return await KuboMirror(node.api_url).pinned(http)


async def test_listed_tracks_are_pinned_on_the_mirrors_and_checked(
    backend: RunningBackend, client: httpx.AsyncClient, nodes: list[IpfsNode]
) -> None:
    _, tokens = await make_profile(client, backend, name="Nova")
    audio = b"midnight drive " * 40_000  # 600 kB: more than one 256 KiB chunk
    cids = [
        await upload(client, backend, tokens, audio),
        await upload(client, backend, tokens, b"cover"),
    ]
    listed = await client.post(
        f"{backend.url}/tracks",
        json={"title": "Midnight Drive", "cid": cids[0], "duration_s": 201.5,
              "artwork_cid": cids[1]},
        headers=bearer(tokens),
    )  # fmt: skip
    assert listed.status_code == 201, listed.text

    deadline = time.monotonic() + 60
    while not all([set(cids) <= await pinned_on(node) for node in nodes]):
        assert time.monotonic() < deadline, "the mirrors did not pin the listed CIDs"
        await asyncio.sleep(0.2)
    async with httpx.AsyncClient(timeout=10) as http:  # the same bytes, under the same CID
        cat = await http.post(f"{nodes[1].api_url}/api/v0/cat", params={"arg": cids[0]})
    assert cat.content == audio

    config = backend.config
    code, report, _ = await asyncio.to_thread(check_pins, config)
    assert code == 0 and report["ok"] and report["listed"] == 2
    assert unpinned(report) == {"content store": [], nodes[0].api_url: [], nodes[1].api_url: []}

    async with httpx.AsyncClient(timeout=10) as http:  # someone unpins on the first mirror
        removed = await http.post(f"{nodes[0].api_url}/api/v0/pin/rm", params={"arg": cids[1]})
    assert removed.status_code == 200, removed.text
    code, report, _ = await asyncio.to_thread(check_pins, config)
    assert code == 1 and not report["ok"]
    assert unpinned(report)[nodes[0].api_url] == [cids[1]]
    assert unpinned(report)[nodes[1].api_url] == []

    code, report, _ = await asyncio.to_thread(check_pins, config, "--repin")
    assert code == 0 and report["ok"], report

    stop(nodes[1].process)  # the second mirror goes down: reported, not a crash
    code, report, _ = await asyncio.to_thread(check_pins, config)
    assert code == 1
    down = next(p for p in report["places"] if p["place"] == nodes[1].api_url)
    assert "cannot be reached" in down["error"] and down["unpinned"] == sorted(cids)
    assert unpinned(report)[nodes[0].api_url] == []
    assert unpinned(report)["content store"] == []


def test_check_pins_without_a_database_says_so_and_creates_none(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "backend", "check-pins", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"there is no database at {tmp_path / 'backend.db'}" in done.stderr
    assert not (tmp_path / "backend.db").exists()
