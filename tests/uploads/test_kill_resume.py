"""Kill the studio during an upload and during a registration; restart; every track ends
listed exactly once (one registry entry, one listing per CID)."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import chain.contracts  # noqa: F401 (fails loudly if our own code is broken)
from media.cid import file_cid
from tests.conftest import ROOT
from tests.uploads.audio import make_audio, make_sox
from tests.uploads.conftest import siwe_token
from tests.uploads.test_publish import chain_track_count, listed_cids


def start_worker(config_path: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.uploads.publish_worker", str(config_path)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for(
    queue_db: Path, worker: subprocess.Popen[bytes], sql: str, timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert worker.poll() is None, "the worker finished before the moment to kill it"
        if queue_db.exists():
            try:
                with sqlite3.connect(f"file:{queue_db}?mode=ro", uri=True, timeout=1) as db:
                    if db.execute(sql).fetchone():
                        return
            except sqlite3.OperationalError:
                pass
        time.sleep(0.005)
    raise AssertionError(f"never saw: {sql}")


def kill(worker: subprocess.Popen[bytes]) -> None:
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


@pytest.mark.slow
def test_kill_during_upload_and_registration(backend, chain, tmp_path: Path) -> None:
    from chain.devnet import dev_accounts

    account_index = 9
    account = dev_accounts(10)[account_index]
    token = siwe_token(backend.url, account)
    masters = tmp_path / "masters"
    masters.mkdir()
    run = uuid.uuid4().hex[:8]
    big = make_sox(masters / "01 long take.wav", seconds=330.0)  # ~58 MB
    from tests.uploads.audio import write_tags

    write_tags(
        big,
        {
            "title": f"long {run}",
            "artist": "K",
            "album": "",
            "genre": "",
            "isrc": "",
            "release_date": "",
        },
    )
    make_audio(masters, "flac", seconds=1.0, name="02 short", title=f"short {run}")
    make_audio(masters, "mp3", seconds=1.0, name="03 sketch", title=f"sketch {run}")
    queue_db = tmp_path / "data" / "uploads.sqlite3"
    config = {
        "queue": str(queue_db),
        "work": str(tmp_path / "data" / "uploads"),
        "account": account_index,
        "rpc_url": chain.rpc_url,
        "registry": chain.registry_address,
        "backend_url": backend.url,
        "token": token,
        "paths": [str(masters)],
    }
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    log = tmp_path / "worker.log"

    worker = start_worker(config_path, log)
    wait_for(queue_db, worker, "SELECT 1 FROM tracks WHERE state = 'uploading' AND bytes_done > 0")
    kill(worker)

    worker = start_worker(config_path, log)
    wait_for(
        queue_db, worker, "SELECT 1 FROM tracks WHERE state = 'registering' AND tx_hash IS NOT NULL"
    )
    kill(worker)

    worker = start_worker(config_path, log)
    assert worker.wait(timeout=240) == 0, log.read_text()[-3000:]

    with sqlite3.connect(queue_db) as db:
        rows = db.execute("SELECT path, state, cid FROM tracks ORDER BY id").fetchall()
    assert len(rows) == 3
    assert {state for _, state, _ in rows} == {"listed"}, rows
    cids = [cid for _, _, cid in rows]
    assert cids == [file_cid(Path(path)).cid for path, _, _ in rows]
    assert chain_track_count(chain, account.address) == 3
    assert sorted(listed_cids(backend, account.address)) == sorted(cids)
    leftovers = list((backend.data_dir / "ipfs" / "incoming").iterdir())
    assert leftovers == []
