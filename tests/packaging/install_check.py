"""What the artist gets: the .deb of `make package`, installed with apt-get on this machine.

Run by `make test-package` (which builds the package first), not by `make test`: it needs root,
installs into /opt and /usr, and the build takes minutes (.ci/run runs both). Drives the
installed /usr/bin/harmonie-studio with no venv and no PYTHONPATH in its environment, then
purges the package and checks it leaves nothing behind.
"""

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.desktop import artist_desktop, import_private_key
from media.cid import file_cid
from tests.conftest import ROOT
from tests.live_capture.conftest import pulse  # noqa: F401 - a fixture
from tests.support.screenshot import save_screen
from tests.support.studio_process import log_path, pid_alive, wait_for_event

STUDIO = Path("/usr/bin/harmonie-studio")
BACKEND = Path("/usr/bin/harmonie-backend")
PREFIX = Path("/opt/harmonie-studio")
METAINFO = Path("/usr/share/metainfo/io.harmoniecore.Studio.metainfo.xml")
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ARTIST_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
PASSWORD = "correct horse battery staple"


def the_deb() -> Path:
    debs = sorted((ROOT / "dist").glob("harmonie-studio_*.deb"))
    if not debs:
        pytest.fail("no dist/harmonie-studio_*.deb: run `make package` first")
    return debs[-1]


def deb_paths(deb: Path) -> list[Path]:
    listing = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True
    ).stdout
    names = subprocess.run(
        ["tar", "-t"], input=listing, capture_output=True, check=True
    ).stdout.decode()
    return [Path("/") / n.removeprefix("./").rstrip("/") for n in names.splitlines() if n != "./"]


def apt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["apt-get", "-y", "-q", *args],
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def installed() -> Iterator[dict[str, object]]:
    """The .deb installed by apt-get; what existed before, to judge the purge by."""
    if os.geteuid() != 0:
        pytest.fail("the install test needs root (apt-get install, apt-get purge)")
    deb = the_deb()
    paths = deb_paths(deb)
    existed = {p for p in paths if p.exists() or p.is_symlink()}
    result = apt("install", "--no-install-recommends", str(deb))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    yield {"deb": deb, "paths": paths, "existed": existed}
    if subprocess.run(["dpkg", "-s", "harmonie-studio"], capture_output=True).returncode == 0:
        apt("purge", "harmonie-studio")


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The user's environment (with `extra`) without our venv: the installed app must not
    need Python."""
    env = {**os.environ, **(extra or {})}
    for var in ("VIRTUAL_ENV", "PYTHONPATH"):
        env.pop(var, None)
    env["PATH"] = "/usr/bin:/bin"
    return env


def run_installed(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(STUDIO), *args],
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_the_deb_installs_commands_desktop_entry_icons_and_metainfo(installed):
    deb = installed["deb"]
    depends = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True, text=True, check=True
    ).stdout
    assert "libc6" in depends, f"Depends derived by dpkg-shlibdeps: {depends}"
    assert STUDIO.resolve() == PREFIX / "harmonie-studio"
    assert os.access(BACKEND, os.X_OK)
    entry = Path("/usr/share/applications/harmonie-studio.desktop").read_text()
    # the studio's command line takes no file: a desktop offering "Open with" for audio
    # files would start it with one, and argparse would refuse to open the window
    exec_line = next(line for line in entry.splitlines() if line.startswith("Exec="))
    assert exec_line == "Exec=harmonie-studio", exec_line
    assert "MimeType=" not in entry
    for size in ICON_SIZES:
        icon = Path(f"/usr/share/icons/hicolor/{size}x{size}/apps/harmonie-studio.png")
        assert icon.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", icon
    assert Path("/usr/share/icons/hicolor/scalable/apps/harmonie-studio.svg").is_file()
    validate = subprocess.run(
        ["appstreamcli", "validate", "--no-net", str(METAINFO)], capture_output=True, text=True
    )
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert Path("/usr/lib/systemd/system/harmonie-backend.service").is_file()
    shipped = [str(p) for p in installed["paths"] if str(p).startswith(str(PREFIX))]
    assert not [p for p in shipped if "/tests/" in p or "/pytest" in p or "/harness/" in p]
    internal = PREFIX / "_internal"
    for needed in (
        internal / "backend" / "migrations" / "env.py",  # Alembic reads it as a file
        internal / "backend" / "static" / "fan" / "index.html",  # the fan page
        internal / "resources" / "contracts" / "tipping.json",  # the devnet deploys it
        internal / "PySide6" / "Qt" / "plugins" / "platforms" / "libqxcb.so",
    ):
        assert needed in installed["paths"], needed
    # the Qt plugins for embedded screens and the GTK theme (packaging/hooks) stay out
    plugins = internal / "PySide6" / "Qt" / "plugins"
    assert plugins / "platforms" / "libqeglfs.so" not in installed["paths"]
    assert plugins / "platformthemes" / "libqgtk3.so" not in installed["paths"]


def test_harmonie_backend_is_the_backend_command_line(installed):
    result = subprocess.run(
        [str(BACKEND), "--version"], env=clean_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stdout.startswith("harmonie-backend "), result


def test_the_installed_studio_opens_its_window_with_its_wallet_and_local_backend(
    installed, artifacts_dir, tmp_path
):
    """The window on an artist's desktop (Xvfb, tray, gnome-keyring): the backend is the
    app's own executable, and the frozen keyring finds the wallet the venv put there."""
    try:
        desktop = artist_desktop(tmp_path / "home")
        env, _keyring = desktop.__enter__()
    except FileNotFoundError as missing:
        pytest.fail(f"{missing} is not installed (make system-deps installs it)")
    try:
        address = import_private_key({**os.environ, **env}, ARTIST_KEY, PASSWORD)
        studio = subprocess.Popen(
            [str(STUDIO)],
            env=clean_env(env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            log = log_path(env)
            wait_for_event(log, "window_shown", timeout=90, process=studio)
            started = wait_for_event(log, "backend_started", timeout=90, process=studio)
            ready = wait_for_event(log, "services_ready", timeout=90, process=studio)
            assert ready["wallet"] is True, f"the frozen app did not find wallet {address}"
            cmdline = Path(f"/proc/{started['pid']}/cmdline").read_bytes().split(b"\0")
            assert cmdline[:2] == [str(PREFIX / "harmonie-studio").encode(), b"backend"], cmdline
            # what the studio hands its children (packaging/hooks/rthook_child_env.py): not
            # the bundle's libraries in place of the system's
            environ = Path(f"/proc/{started['pid']}/environ").read_bytes().split(b"\0")
            assert not [v for v in environ if v.startswith(b"LD_LIBRARY_PATH=/opt/")], environ
            health = httpx.get(f"{started['url']}/health", timeout=5).json()
            assert health["status"] == "ok", health
            assert health["components"]["chain"]["status"] == "ok", health
            shot = artifacts_dir / "installed-studio-window.png"
            save_screen(shot, env)
            assert shot.stat().st_size > 10_000, "a real window draws more than a blank screen"
            studio.send_signal(signal.SIGTERM)
            assert studio.wait(timeout=30) == 0
            assert not pid_alive(started["pid"]), "quitting the studio stops its backend"
        finally:
            if studio.poll() is None:
                studio.kill()
                studio.wait()
    finally:
        desktop.__exit__(None, None, None)


def test_installed_status_and_publish_dry_run(installed, tmp_path):
    status = run_installed("status")
    assert status.returncode == 0, status.stderr[-2000:]
    report = json.loads(status.stdout.strip().splitlines()[-1])
    assert report["status"]["backend"] == "connected"
    assert report["health"]["components"]["chain"]["status"] == "ok"
    assert report["health"]["components"]["database"]["status"] == "ok"

    wav = tmp_path / "take.wav"
    subprocess.run(
        ["sox", "-n", "-r", "48000", "-c", "2", "-b", "16", str(wav),
         "synth", "1.0", "sine", "440", "gain", "-20"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    publish = run_installed("publish", "--dry-run", str(wav))
    assert publish.returncode == 0, publish.stderr[-2000:]
    line = json.loads(publish.stdout.strip().splitlines()[-1])
    assert line["status"] == "analysed", line
    assert line["cid"] == file_cid(wav).cid, "the frozen app computes the CID this checkout does"


def test_installed_studio_hears_the_microphone(installed, pulse):  # noqa: F811 - the fixture
    """PortAudio is loaded by name at run time (sounddevice), which dpkg-shlibdeps cannot
    see: the .deb depends on it by a list (packaging/build_deb.py), and the app finds it."""
    depends = subprocess.run(
        ["dpkg-deb", "-f", str(installed["deb"]), "Depends"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "libportaudio2" in depends, depends
    listed = run_installed("live", "--list-devices")
    assert listed.returncode == 0, listed.stderr[-2000:]
    audio = json.loads(listed.stdout.strip().splitlines()[-1])["audio"]
    assert any(source["spec"].startswith("mic") for source in audio), audio


def test_purge_leaves_nothing_outside_the_users_data(installed):
    """The user's data lives under their XDG dirs (here each test's temporary home), which
    dpkg never sees; everything the package put on the system goes."""
    result = apt("purge", "harmonie-studio")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    left = [
        p
        for p in installed["paths"]
        if p not in installed["existed"] and (p.exists() or p.is_symlink())
    ]
    assert left == [], f"left after purge: {left[:20]}"
    assert not PREFIX.exists(), sorted(str(p) for p in PREFIX.rglob("*"))[:20]
