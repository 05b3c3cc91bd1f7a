"""The studio's data as one archive: `harmonie-studio export` / `import` (studio.archive).

Real stores in the test's XDG dirs (the upload queue and tip store through their own APIs,
the settings file), the command line as a real process, and the real keyring for the secrets
that must never reach an archive."""

import hashlib
import json
import shutil
import subprocess
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from studio import paths
from studio.archive import ArchiveError, export_studio, import_studio
from studio.live.scenes import Scene, SceneSet, SceneSource, load_scenes, save_scenes
from studio.publishing.upload_queue import State, UploadQueue
from studio.settings import Settings
from studio.tips.store import CONFIRMED, Tip, TipStore, watch_scope
from tests.support.secret_service import SecretServiceSession
from tests.support.studio_process import studio_command
from tests.uploads.audio import make_audio

SCOPE = watch_scope(1337, "0x" + "c" * 40, "0x" + "a" * 40)
OVERLAY_SECRET = "overlay-secret-9f8e7d6c5b4a3210"


def settings_file() -> Path:
    return paths.config_dir() / "settings.toml"


def fill(music: Path) -> dict[str, Any]:
    """An artist's studio: two queued tracks (one edited, one uploaded), two tips, settings
    with scenes of their own; returns what a round trip must bring back."""
    data = paths.data_dir()
    queue = UploadQueue(data / "uploads.sqlite3")
    music.mkdir(exist_ok=True)
    added, refused = queue.add(
        [
            make_audio(music, "wav", seconds=0.2, name="one"),
            make_audio(music, "flac", seconds=0.2, name="two"),
        ]
    )
    assert not refused
    queue.edit(added[0].id, title="Ünïcode — 曲", album="Night")
    queue.update(added[1].id, state=State.UPLOADING, cid="bafkreiabc", bytes_done=500)
    tracks = [t.as_dict() for t in queue.all()]
    queue.close()
    store = TipStore(data / "tips.sqlite3")
    tips = [
        Tip("0x" + "1" * 64, 0, 10, "0x" + "b" * 64, 1_700_000_000, "0x" + "a" * 40,
            "0x" + "f" * 40, 10**18, "for the encore", CONFIRMED),
        Tip("0x" + "2" * 64, 3, 12, "0x" + "d" * 64, 1_700_000_100, "0x" + "a" * 40,
            "0x" + "e" * 40, 5 * 10**16, "🎶"),
    ]  # fmt: skip
    for tip in tips:
        store.put_tip(SCOPE, tip)
    store.close()
    settings = Settings.open(settings_file())
    settings.set_path("video.fps", 24)
    settings.set_path("restream.twitch.url", "rtmp://live.example.org/app")
    settings.set("overlay_page", {"secret": OVERLAY_SECRET, "port": 47900})
    scenes = SceneSet(
        (
            Scene("Talk", (SceneSource("camera", "Cam", target="/dev/video0"),)),
            Scene("Screen", (SceneSource("screen", "Desk"),)),
        ),
        active="Screen",
        transition="cut",
    )
    assert save_scenes(settings, scenes) is None
    return {"tracks": tracks, "tips": tips, "scenes": scenes}


def snapshot() -> dict[str, str]:
    """Every file of the studio's data and settings, by content: what must not change."""
    found = {}
    for root in (paths.data_dir(), paths.config_dir()):
        for path in sorted(root.rglob("*")):
            if path.is_file():
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*studio_command(), *args], capture_output=True, text=True, timeout=120)


def test_round_trip_through_the_command_line(tmp_path: Path) -> None:
    before = fill(tmp_path / "music")
    archive = tmp_path / "studio.zip"
    done = run("export", str(archive))
    assert done.returncode == 0, done.stderr
    assert "2 tracks, 2 tips" in done.stdout
    assert run("export", str(archive)).returncode == 2, "an export never overwrites a file"

    shutil.rmtree(paths.data_dir())  # a new machine: nothing of the studio
    settings_file().unlink()
    done = run("import", str(archive))
    assert done.returncode == 0, done.stderr
    assert "2 tracks, 2 tips" in done.stdout

    queue = UploadQueue(paths.data_dir() / "uploads.sqlite3")
    assert [t.as_dict() for t in queue.all()] == before["tracks"]
    queue.close()
    store = TipStore(paths.data_dir() / "tips.sqlite3")
    assert sorted(store.tips(SCOPE), key=lambda t: t.tx_hash) == before["tips"]
    store.close()
    settings = Settings.open(settings_file())
    assert settings.get_path("video.fps") == 24
    assert settings.get_path("restream.twitch.url") == "rtmp://live.example.org/app"
    assert settings.get_path("overlay_page.port") == 47900
    assert settings.get_path("overlay_page.secret") is None, "the alert page's secret stays"
    assert load_scenes(settings) == (before["scenes"], None)


def test_import_replaces_the_data_and_keeps_what_was_there(tmp_path: Path) -> None:
    fill(tmp_path / "music")
    settings = Settings.open(settings_file())
    archive = export_studio(tmp_path / "studio.zip", settings, paths.data_dir()).path
    queue = UploadQueue(paths.data_dir() / "uploads.sqlite3")  # held open, as the studio does
    queue.remove(queue.all()[0].id)
    settings.set_path("video.fps", 60)
    settings.set("overlay_page", {"secret": "this-install-secret-0123456789"})
    settings.save()

    done = import_studio(archive, settings, paths.data_dir())
    assert len(queue.all()) == 2, "the open store sees the imported queue"
    queue.close()
    assert settings.get_path("video.fps") == 24
    assert Settings.open(settings_file()).get_path("video.fps") == 24
    assert settings.get_path("overlay_page.secret") == "this-install-secret-0123456789"
    assert done.kept is not None
    kept = UploadQueue(done.kept / "uploads.sqlite3")
    assert len(kept.all()) == 1, "the queue it replaced is kept aside"
    kept.close()
    assert "fps = 60" in (done.kept / "settings.toml").read_text()


def test_no_secret_reaches_the_archive(
    tmp_path: Path, secret_service: SecretServiceSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wallet (keystore, password, key) and a stream key in the studio's keyring, the
    alert page's secret in the settings: none of them in the archive's bytes, packed or not."""
    from keyring.backends import SecretService

    from chain.wallet import KeyringVault, Wallet
    from studio.live.restream import StreamKeyVault

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service.address)
    key = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
    password = "archive test wallet password"
    stream_key = "live_123456789_StreamKeyNeverExported"
    wallet = Wallet(KeyringVault(backend=SecretService.Keyring()), scrypt_n=2**12)
    address = wallet.import_private_key("0x" + key, password)
    StreamKeyVault(backend=SecretService.Keyring()).save_key("twitch", stream_key)
    fill(tmp_path / "music")
    settings = Settings.open(settings_file())
    settings.set("wallet_address", address)
    settings.save()

    archive = tmp_path / "studio.zip"
    assert run("export", str(archive)).returncode == 0
    with zipfile.ZipFile(archive) as z:
        blobs = [archive.read_bytes(), *(z.read(name) for name in z.namelist())]
    for blob in blobs:
        for secret in (key, password, stream_key, OVERLAY_SECRET, "ciphertext"):
            assert secret.lower().encode() not in blob.lower(), f"{secret!r} in the archive"
    assert any(address.encode() in blob for blob in blobs), "the address is not a secret"


def rewrite(source: Path, target: Path, change: Any) -> None:
    """A copy of the archive with `change(members)` applied to its {name: bytes}."""
    with zipfile.ZipFile(source) as z:
        members = {name: z.read(name) for name in z.namelist()}
    change(members)
    with zipfile.ZipFile(target, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def resign(members: dict[str, bytes], name: str) -> None:
    """Make the manifest agree with a changed member (a careful forger)."""
    manifest = json.loads(members["manifest.json"])
    manifest["members"][name] = {
        "sha256": hashlib.sha256(members[name]).hexdigest(),
        "size": len(members[name]),
    }
    members["manifest.json"] = json.dumps(manifest).encode()


def _tamper_settings(m: dict[str, bytes]) -> None:
    m["settings.toml"] = m["settings.toml"].replace(b"fps = 24", b"fps = 25")


def _add_member(m: dict[str, bytes]) -> None:
    m["keystore.json"] = b"{}"


def _drop_member(m: dict[str, bytes]) -> None:
    del m["tips.sqlite3"]


def _newer(m: dict[str, bytes]) -> None:
    manifest = json.loads(m["manifest.json"])
    manifest["format"] = 99
    manifest["app_version"] = "9.0"
    m["manifest.json"] = json.dumps(manifest).encode()


def _garbage_db(m: dict[str, bytes]) -> None:
    m["uploads.sqlite3"] = b"SQLite format 3\x00" + b"\x00" * 200
    resign(m, "uploads.sqlite3")


def _broken_toml(m: dict[str, bytes]) -> None:
    m["settings.toml"] = b"[video\nfps = "
    resign(m, "settings.toml")


def _bad_scenes(m: dict[str, bytes]) -> None:
    values = tomllib.loads(m["settings.toml"].decode())
    values["scenes"]["list"] = []  # "Keep at least one scene."
    m["settings.toml"] = tomli_w.dumps(values).encode()
    resign(m, "settings.toml")


def _truncate_db(m: dict[str, bytes]) -> None:
    m["tips.sqlite3"] = m["tips.sqlite3"][:-1]


BAD = {
    "tampered settings": (_tamper_settings, "does not match the checksum"),
    "added member": (_add_member, "do not match its manifest (keystore.json)"),
    "missing member": (_drop_member, "do not match its manifest (tips.sqlite3)"),
    "newer format": (_newer, "made by a newer studio (9.0, archive format 99)"),
    "not a database": (_garbage_db, "uploads.sqlite3 in it is not a readable studio database"),
    "broken settings": (_broken_toml, "its settings cannot be read"),
    "bad scenes": (_bad_scenes, "its scenes cannot be read"),
    "truncated member": (_truncate_db, "tips.sqlite3 does not match the checksum"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_archive_is_refused_and_changes_nothing(tmp_path: Path, case: str) -> None:
    fill(tmp_path / "music")
    settings = Settings.open(settings_file())
    good = export_studio(tmp_path / "studio.zip", settings, paths.data_dir()).path
    settings.set_path("video.fps", 50)  # the studio's data now differs from the archive's
    settings.save()
    change, said = BAD[case]
    bad = tmp_path / "bad.zip"
    rewrite(good, bad, change)
    before = snapshot()
    with pytest.raises(ArchiveError) as refused:
        import_studio(bad, settings, paths.data_dir())
    assert said in str(refused.value)
    assert snapshot() == before
    assert settings.get_path("video.fps") == 50


def test_a_file_that_is_no_archive_is_refused_on_the_command_line(tmp_path: Path) -> None:
    fill(tmp_path / "music")
    good = tmp_path / "studio.zip"
    assert run("export", str(good)).returncode == 0
    cut = tmp_path / "cut.zip"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    before = snapshot()
    for path, said in ((cut, "is not a studio archive"), (tmp_path / "none.zip", "no file")):
        done = run("import", str(path))
        assert done.returncode == 2
        assert said in done.stderr and "Traceback" not in done.stderr
    assert snapshot() == before


def test_a_damaged_settings_file_is_not_replaced(tmp_path: Path) -> None:
    fill(tmp_path / "music")
    archive = export_studio(
        tmp_path / "studio.zip", Settings.open(settings_file()), paths.data_dir()
    ).path
    settings_file().write_text("[video\n")
    before = snapshot()
    with pytest.raises(ArchiveError, match="Fix or remove it before importing"):
        import_studio(archive, Settings.open(settings_file()), paths.data_dir())
    assert snapshot() == before


def test_an_import_that_fails_half_way_puts_everything_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The databases are replaced before the settings; when the settings cannot be written
    (a full disk), the databases go back to what they were and the settings stay in memory."""
    fill(tmp_path / "music")
    settings = Settings.open(settings_file())
    archive = export_studio(tmp_path / "studio.zip", settings, paths.data_dir()).path
    queue = UploadQueue(paths.data_dir() / "uploads.sqlite3")
    queue.remove(queue.all()[0].id)
    settings.set_path("video.fps", 50)
    settings.save()
    file_before = settings_file().read_bytes()

    def disk_full(self: Settings) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Settings, "save", disk_full)
    with pytest.raises(ArchiveError, match=r"No space left on device.*your data is as it was"):
        import_studio(archive, settings, paths.data_dir())
    assert len(queue.all()) == 1, "the queue is the one from before the import"
    queue.close()
    assert settings.get_path("video.fps") == 50
    assert settings_file().read_bytes() == file_before
