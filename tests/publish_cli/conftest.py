"""Fixtures for `harmonie-studio publish` with a wallet: a real gnome-keyring on a private
D-Bus, isolated XDG directories (the studio's data, settings and logs), dev keys imported
into the keyring the way the Import dialog does it (in another process), and the studio's
own backend data holding an artist profile for the account."""

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from studio.local_backend import free_port
from tests.conftest import ROOT
from tests.support.secret_service import SecretServiceSession, have_gnome_keyring

PASSWORD = "correct horse battery staple"


@dataclass
class Shell:
    """The environment a person's shell gives the studio: keyring on D-Bus, own XDG dirs."""

    env: dict[str, str]
    home: Path

    @property
    def data_dir(self) -> Path:
        return Path(self.env["XDG_DATA_HOME"]) / "harmonie-studio"

    @property
    def state_dir(self) -> Path:
        return Path(self.env["XDG_STATE_HOME"])


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[Shell]:
    if not have_gnome_keyring() or not shutil.which("dbus-daemon"):
        pytest.skip("gnome-keyring-daemon / dbus-daemon are not installed")
    if not shutil.which("sox"):
        pytest.skip("sox is not installed")
    keyring = SecretServiceSession(tmp_path / "keyring-home")
    keyring.start()
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "HARMONIE_"))}
    env.update(
        HOME=str(home),
        DBUS_SESSION_BUS_ADDRESS=keyring.address,
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_CACHE_HOME=str(home / "cache"),
    )
    try:
        yield Shell(env, home)
    finally:
        keyring.stop()


def import_key(shell: Shell, account: LocalAccount, password: str = PASSWORD) -> str:
    """What the Import dialog does, in a process on the same Secret Service."""
    code = (
        "import sys; from chain.wallet import Wallet; "
        "print(Wallet().import_private_key(sys.stdin.readline().strip(), sys.argv[1]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, password],
        input=account.key.hex() + "\n",
        env=shell.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def make_artist(shell: Shell, account: LocalAccount, name: str = "Shell Artist") -> None:
    """Give `account` an artist profile in the studio's own backend database, as an earlier
    session in the window would have: the backend is run on the studio's data directory."""
    data_dir = shell.data_dir / "backend"
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (shell.home / "profile-backend.log").open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "backend", "--host", "127.0.0.1", "--port", str(port),
                "--database-url", f"sqlite+aiosqlite:///{data_dir / 'backend.db'}",
                "--data-dir", str(data_dir), "--local", "--log-level", "warning",
            ],
            cwd=ROOT, env=shell.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "the backend exited while starting"
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the backend did not start within 60 s"
            time.sleep(0.2)
        token = siwe_token(url, account)
        httpx.put(
            f"{url}/profiles/{account.address}",
            json={"role": "artist", "display_name": name},
            headers={"Authorization": f"Bearer {token}"},
        ).raise_for_status()
    finally:
        process.terminate()
        process.wait(timeout=15)


def siwe_token(backend_url: str, account: LocalAccount) -> str:
    from backend.siwe import SiweMessage

    nonce = httpx.get(f"{backend_url}/auth/nonce").json()["nonce"]
    message = SiweMessage(
        domain=urlparse(backend_url).netloc,
        address=account.address,
        uri=backend_url,
        chain_id=31337,
        nonce=nonce,
        issued_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        statement="Sign in to HarmonieCORE",
    ).to_text()
    signature = account.sign_message(encode_defunct(text=message)).signature.to_0x_hex()
    answer = httpx.post(
        f"{backend_url}/auth/verify", json={"message": message, "signature": signature}
    )
    answer.raise_for_status()
    return answer.json()["access_token"]


def make_track(directory: Path, name: str, title: str, freq: int) -> Path:
    """A short FLAC (sox) with its title tag."""
    from mutagen.flac import FLAC

    path = directory / f"{name}.flac"
    subprocess.run(
        ["sox", "-n", "-r", "44100", "-c", "2", "-b", "16", str(path),
         "synth", "1.0", "sine", str(freq), "gain", "-20"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    audio = FLAC(str(path))
    audio["title"] = title
    audio.save()
    return path
