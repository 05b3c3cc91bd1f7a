"""The persistent queue on its own: folders, refusals, persistence, edits, retry, remove."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from studio.publishing.upload_queue import State, UploadQueue
from tests.conftest import ROOT
from tests.uploads.audio import make_audio


def test_folder_drop_accepts_audio_and_refuses_the_rest(tmp_path: Path) -> None:
    album = tmp_path / "album"
    (album / "disc 2").mkdir(parents=True)
    make_audio(album, "wav", seconds=0.2, name="01")
    make_audio(album / "disc 2", "flac", seconds=0.2, name="02")
    (album / "cover.jpg").write_bytes(b"\xff\xd8\xff")
    (album / ".DS_Store").write_bytes(b"x")
    queue = UploadQueue(tmp_path / "q.sqlite3")
    added, refused = queue.add([album])
    assert [t.path.name for t in added] == ["01.wav", "02.flac"]
    assert [(r.path.name, "not accepted" in r.reason) for r in refused] == [("cover.jpg", True)]
    assert all(t.state is State.QUEUED for t in added)
    again, _ = queue.add([album])  # dropping the same folder twice queues nothing new
    assert [t.id for t in again] == [t.id for t in added]
    assert len(queue.all()) == 2


def test_queue_survives_reopening(tmp_path: Path) -> None:
    path = make_audio(tmp_path, "mp3", seconds=0.2)
    db = tmp_path / "q.sqlite3"
    queue = UploadQueue(db)
    (track,), _ = queue.add([path])
    queue.update(track.id, state=State.UPLOADING, cid="bafkreiabc", bytes_done=500)
    queue.edit(track.id, title="Ünïcode — 曲")
    queue.record_registration("bafkreiabc", "bafkreimeta", "0xabc", "0xartist")
    queue.close()

    reopened = UploadQueue(db)
    (recovered,) = reopened.recover()
    assert recovered.state is State.UPLOADING and recovered.bytes_done == 0  # redone from start
    assert recovered.title == "Ünïcode — 曲"
    assert reopened.registration("bafkreiabc")["tx_hash"] == "0xabc"
    reopened.record_registration("bafkreiabc", "other", "0xdef", "0xartist")  # never overwritten
    assert reopened.registration("bafkreiabc")["tx_hash"] == "0xabc"
    reopened.close()


def test_retry_resumes_at_the_right_step_and_remove(tmp_path: Path) -> None:
    queue = UploadQueue(tmp_path / "q.sqlite3")
    paths = [make_audio(tmp_path, "flac", seconds=0.2, name=f"t{i}") for i in range(3)]
    added, _ = queue.add(paths)
    fresh, analysed, on_ipfs = added
    queue.update(fresh.id, state=State.FAILED, detail="boom")
    queue.update(analysed.id, state=State.FAILED, cid="bafkreiaaa", detail="node unreachable")
    queue.update(
        on_ipfs.id, state=State.FAILED, cid="bafkreibbb", outputs={"metadata_cid": "bafkreiccc"}
    )
    assert queue.retry(fresh.id).state is State.QUEUED
    assert queue.retry(analysed.id).state is State.UPLOADING
    assert queue.retry(on_ipfs.id).state is State.REGISTERING
    assert queue.get(fresh.id).detail == ""
    with pytest.raises(ValueError, match="being registered"):
        queue.remove(on_ipfs.id)
    with pytest.raises(ValueError, match="already registered"):
        queue.edit(on_ipfs.id, title="late")
    removed: list[int] = []
    queue.removed.connect(removed.append)
    queue.remove(fresh.id)
    assert removed == [fresh.id]
    assert [t.id for t in queue.all()] == [analysed.id, on_ipfs.id]
    with pytest.raises(ValueError, match="cannot edit"):
        queue.edit(analysed.id, cid="bafkreievil")


def test_progress(tmp_path: Path) -> None:
    queue = UploadQueue(tmp_path / "q.sqlite3")
    a, b = queue.add([make_audio(tmp_path, "wav", seconds=0.5, name=n) for n in ("a", "b")])[0]
    seen: list[int] = []
    queue.changed.connect(lambda t: seen.append(t.bytes_done))
    queue.update(a.id, state=State.UPLOADING)
    queue.set_progress(a.id, a.size // 2)
    assert seen[-1] == a.size // 2
    assert 0.4 < queue.get(a.id).progress < 0.6
    queue.update(b.id, state=State.LISTED)
    assert 0.5 < queue.overall_progress() < 1.0


def run_cli(*args: str, env_home: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(env_home),
        "XDG_CONFIG_HOME": str(env_home / "config"),
        "XDG_DATA_HOME": str(env_home / "data"),
        "XDG_STATE_HOME": str(env_home / "state"),
        "XDG_CACHE_HOME": str(env_home / "cache"),
    }
    return subprocess.run(
        [sys.executable, "-m", "widgets.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_dry_run_prints_one_json_line_per_track(tmp_path: Path, isolated_dirs: Path) -> None:
    from media.cid import file_cid

    folder = tmp_path / "drop"
    folder.mkdir()
    good = make_audio(folder, "opus", seconds=0.5)
    (folder / "broken.flac").write_bytes(b"fLaC" + b"\x00" * 100)
    (folder / "video.mkv").write_bytes(b"\x1a\x45\xdf\xa3")
    result = run_cli("publish", "--dry-run", str(folder), env_home=isolated_dirs)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    by_name = {Path(line["path"]).name: line for line in lines}
    assert set(by_name) == {good.name, "broken.flac", "video.mkv"}
    assert by_name[good.name]["status"] == "analysed"
    assert by_name[good.name]["cid"] == file_cid(good).cid
    assert by_name["broken.flac"]["status"] == "failed" and by_name["broken.flac"]["reason"]
    assert by_name["video.mkv"]["status"] == "refused"
    assert result.returncode == 1  # something was refused or failed
    assert not (isolated_dirs / "data" / "harmonie-studio" / "uploads.sqlite3").exists()


def test_cli_publish_to_a_node_leaves_tracks_waiting_without_a_wallet(
    tmp_path: Path, isolated_dirs: Path, content_store
) -> None:
    path = make_audio(tmp_path, "flac", seconds=0.5)
    result = run_cli(
        "--profile",
        "testnet",
        "publish",
        "--ipfs-api",
        content_store.url,
        str(path),
        env_home=isolated_dirs,
    )
    (line,) = [json.loads(x) for x in result.stdout.splitlines()]
    assert line["status"] == "waiting" and "no wallet" in line["detail"]
    assert line["cid"] and line["metadata_cid"]
    assert (content_store.data_dir / "ipfs" / "blobs" / line["cid"]).exists()
    assert result.returncode == 0, result.stderr


async def test_publish_service_for_a_studio_without_wallet(tmp_path: Path, content_store) -> None:
    from studio.core import Studio
    from studio.profiles import load_profile
    from studio.publishing.service import publish_service_for
    from studio.settings import Settings

    settings = Settings(tmp_path / "settings.toml")
    studio = Studio(
        load_profile("testnet", {"ipfs_api_url": content_store.url}), settings, data_dir=tmp_path
    )
    service = publish_service_for(studio)
    (track,), _ = service.add([make_audio(tmp_path, "flac", seconds=0.3)])
    await service.wait_idle()
    track = service.queue.get(track.id)
    assert track.state is State.WAITING and "no wallet" in track.detail
    assert (content_store.data_dir / "ipfs" / "blobs" / track.cid).exists()
    assert service.gateway_link(track.cid) == f"https://ipfs.io/ipfs/{track.cid}"
    await service.aclose()


async def test_a_file_keeps_one_row_through_failures_and_retries(tmp_path: Path) -> None:
    from studio.publishing.publisher import Publisher

    folder = tmp_path / "drop"
    folder.mkdir()
    good = make_audio(folder, "flac", seconds=0.2, name="good")
    (folder / "broken.flac").write_bytes(b"fLaC" + b"\x00" * 100)  # fails its analysis
    queue = UploadQueue(tmp_path / "q.sqlite3")
    first, _ = queue.add([folder])
    for attempt in range(3):  # three runs of `publish` on the same folder
        added, _ = queue.add([folder])
        assert [t.id for t in added] == [t.id for t in first], f"run {attempt}: same rows"
        await Publisher(queue, None, tmp_path / "work", rendition=None).run(
            only={t.id for t in added}
        )
        by_name = {t.path.name: t for t in queue.all()}
        assert by_name["broken.flac"].state is State.FAILED
        assert by_name[good.name].state is State.WAITING  # no IPFS node: it waits
    broken = next(t for t in queue.all() if t.path.name == "broken.flac")
    queue.retry(broken.id)  # the Retry button, then one more run
    await Publisher(queue, None, tmp_path / "work", rendition=None).run()
    assert queue.get(broken.id).state is State.FAILED
    assert len(queue.all()) == 2, "one row per file, whatever happened to it"


def test_a_failed_file_changed_since_starts_over_in_its_row(tmp_path: Path) -> None:
    path = make_audio(tmp_path, "wav", seconds=0.2)
    queue = UploadQueue(tmp_path / "q.sqlite3")
    (track,), _ = queue.add([path])
    queue.update(
        track.id, state=State.FAILED, cid="bafkreiold", outputs={"metadata_cid": "bafkreimeta"}
    )
    same, _ = queue.add([path])  # unchanged: resumes where it was
    assert [t.id for t in same] == [track.id] and same[0].state is State.REGISTERING
    queue.update(track.id, state=State.FAILED)
    make_audio(tmp_path, "wav", seconds=0.3)  # the artist saved a new version
    (again,), _ = queue.add([path])
    assert again.id == track.id and again.state is State.QUEUED
    assert again.cid is None and again.outputs == {}, "nothing of the old bytes is kept"
    assert len(queue.all()) == 1


def test_a_queue_holding_a_row_per_attempt_is_folded_to_one_row_per_file(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "q.sqlite3"
    old = sqlite3.connect(db)  # as earlier versions left it: a new row for each failed try
    old.executescript(
        "CREATE TABLE tracks (id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL,"
        " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, state TEXT NOT NULL,"
        " detail TEXT NOT NULL DEFAULT '', cid TEXT, bytes_done INTEGER NOT NULL DEFAULT 0,"
        " fields TEXT NOT NULL DEFAULT '{}', info TEXT NOT NULL DEFAULT '{}',"
        " outputs TEXT NOT NULL DEFAULT '{}', tx_hash TEXT, listing_id TEXT,"
        " created_at REAL NOT NULL, updated_at REAL NOT NULL);"
    )
    rows = [("/m/a.flac", "failed"), ("/m/a.flac", "waiting"), ("/m/a.flac", "failed"),
            ("/m/b.flac", "failed"), ("/m/b.flac", "failed")]  # fmt: skip
    old.executemany(
        "INSERT INTO tracks (path, size, mtime_ns, state, created_at, updated_at)"
        " VALUES (?, 1, 1, ?, 0, 0)",
        rows,
    )
    old.commit()
    old.close()
    queue = UploadQueue(db)
    kept = [(t.id, str(t.path), t.state) for t in queue.all()]
    assert kept == [(2, "/m/a.flac", State.WAITING), (5, "/m/b.flac", State.FAILED)]


def test_a_missing_path_and_an_empty_folder_say_so(tmp_path: Path) -> None:
    (tmp_path / "empty" / ".hidden").mkdir(parents=True)
    queue = UploadQueue(tmp_path / "q.sqlite3")
    added, refused = queue.add([tmp_path / "no such folder", tmp_path / "empty"])
    assert added == []
    assert [r.reason for r in refused] == [
        f"{tmp_path / 'no such folder'}: this path does not exist.",
        f"{tmp_path / 'empty'}: no files found in this folder.",
    ]


def test_cli_says_what_a_missing_or_empty_path_holds(tmp_path: Path, isolated_dirs: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run_cli(
        "publish", "--dry-run", str(tmp_path / "gone"), str(tmp_path / "empty"),
        env_home=isolated_dirs,
    )  # fmt: skip
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["path"], line["status"]) for line in lines] == [
        (str(tmp_path / "gone"), "refused"),
        (str(tmp_path / "empty"), "refused"),
    ]
    assert "does not exist" in lines[0]["reason"]
    assert "no files found" in lines[1]["reason"]
    assert result.returncode == 1


def test_cli_publish_of_an_empty_folder_prints_a_line(
    tmp_path: Path, isolated_dirs: Path, content_store
) -> None:
    (tmp_path / "empty").mkdir()
    result = run_cli(
        "--profile", "testnet", "publish", "--ipfs-api", content_store.url,
        str(tmp_path / "empty"), env_home=isolated_dirs,
    )  # fmt: skip
    (line,) = [json.loads(x) for x in result.stdout.splitlines()]
    assert line == {
        "path": str(tmp_path / "empty"),
        "cid": None,
        "status": "refused",
        "reason": f"{tmp_path / 'empty'}: no files found in this folder.",
    }
    assert result.returncode == 1


def test_registrations_of_a_chain_that_is_gone_are_marked_to_register_again(
    tmp_path: Path,
) -> None:
    queue = UploadQueue(tmp_path / "q.sqlite3")
    (track,), _ = queue.add([make_audio(tmp_path, "wav", 0.2)])
    queue.update(
        track.id, state=State.LISTED, cid="bafyold", tx_hash="0xabc", outputs={"metadata_cid": "m"}
    )
    queue.record_registration("bafyold", "m", "0xabc", "0xartist")  # before chains were kept
    assert queue.adopt_chain("0xGEN", "one") == [], "the first chain seen is no news"
    assert queue.registration("bafyold")["genesis"] == "0xgen"
    assert queue.adopt_chain("0xgen", "ONE") == [], "the same chain again"
    assert queue.get(track.id).state is State.LISTED

    (moved,) = queue.adopt_chain("0xgen", "two")  # same genesis, another devnet instance
    assert moved.id == track.id and moved.state is State.PREVIOUS_CHAIN and moved.tx_hash is None
    assert queue.registration("bafyold") is None
    assert queue.adopt_chain("0xgen", "two") == [], "said once"
    assert queue.retry(track.id).state is State.REGISTERING
    queue.record_registration("bafyold", "m", "0xdef", "0xartist")
    assert queue.registration("bafyold")["instance"] == "two"
    queue.close()
    reopened = UploadQueue(tmp_path / "q.sqlite3")
    assert reopened.chain() == ("0xgen", "two") and reopened.adopt_chain("0xgen", "two") == []
    reopened.close()
