"""The persistent queue on its own: folders, refusals, persistence, edits, retry, remove."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from studio.upload_queue import State, UploadQueue
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
    from studio.publish_service import publish_service_for
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
