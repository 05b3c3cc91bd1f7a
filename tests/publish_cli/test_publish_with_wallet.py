"""`harmonie-studio publish` with the wallet unlocked from the shell, end to end: the local
profile (the studio starts its own backend and devnet), the key in a real gnome-keyring, the
real command in its own process. Two tracks end listed, registered on the devnet's content
registry and listed on the backend; the same files again send nothing; a wrong password,
an ambiguous account or no password at all stop the command before anything is sent."""

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from web3 import Web3

from chain import contracts
from chain.devnet import dev_accounts
from media.cid import file_cid
from tests.conftest import ROOT
from tests.publish_cli.conftest import PASSWORD, Shell, import_key, make_artist, make_track
from tests.support.studio_process import read_events

pytestmark = pytest.mark.slow

HOLD_ENV = "HARMONIE_TEST_HOLD_DIR"


def cli(shell: Shell, *args: str, env: dict[str, str] | None = None, timeout: float = 240):
    """The real command: `python -m widgets.main` is the `harmonie-studio` entry point."""
    return subprocess.run(
        [sys.executable, "-m", "widgets.main", *args],
        cwd=ROOT,
        env={**shell.env, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class HeldRun:
    """The command run by tests.publish_cli.held_cli: it waits, before its backend and
    devnet stop, until `release()`; meanwhile `backend_url` is the running backend."""

    def __init__(
        self, shell: Shell, name: str, *args: str | Path, env: dict[str, str] | None = None
    ) -> None:
        self.hold = shell.home / f"hold-{name}"
        self.hold.mkdir()
        self.out = self.hold / "stdout"
        self.err = self.hold / "stderr"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.publish_cli.held_cli", *map(str, args)],
                cwd=ROOT, env={**shell.env, **(env or {}), HOLD_ENV: str(self.hold)},
                stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            )  # fmt: skip

    def backend_url(self, timeout: float = 240) -> str:
        ready = self.hold / "backend_url"
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if self.process.poll() is not None:
                raise AssertionError(f"the command ended early: {self.err.read_text()[-3000:]}")
            assert time.monotonic() < deadline, "the command did not finish publishing"
            time.sleep(0.1)
        return ready.read_text()

    def release(self) -> tuple[int, list[dict], str]:
        (self.hold / "release").touch()
        code = self.process.wait(timeout=60)
        lines = [json.loads(line) for line in self.out.read_text().splitlines() if line]
        return code, lines, self.err.read_text()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def studio_log(shell: Shell) -> Path:
    return shell.state_dir / "harmonie-studio" / "log" / "studio.log"


def registry_on(backend_url: str):  # type: ignore[no-untyped-def]
    chain = httpx.get(f"{backend_url}/chain", timeout=10).json()
    w3 = Web3(Web3.HTTPProvider(f"{backend_url}{chain['rpc_path']}"))
    return w3, contracts.deployed(
        contracts.CONTENT_REGISTRY, w3, chain["contracts"][contracts.CONTENT_REGISTRY]
    )


def listed_cids(backend_url: str, address: str) -> list[str]:
    page = httpx.get(f"{backend_url}/artists/{address}/tracks", params={"limit": 100}).json()
    return sorted(t["cid"] for t in page["items"])


def assert_no_secret(shell: Shell, *texts: str) -> None:
    """The password is in no output and in no file the studio or its backend wrote."""
    for text in texts:
        assert PASSWORD not in text
    needle = PASSWORD.encode()
    for root in (shell.state_dir, shell.data_dir, Path(shell.env["XDG_CONFIG_HOME"])):
        for path in root.rglob("*"):
            if path.is_file():
                assert needle not in path.read_bytes(), f"the password is in {path}"


def test_two_tracks_end_listed_and_again_send_nothing(shell: Shell, tmp_path: Path) -> None:
    artist = dev_accounts(3)[2]  # funded by the devnet
    address = import_key(shell, artist)
    assert address == artist.address
    make_artist(shell, artist)
    masters = tmp_path / "masters"
    masters.mkdir()
    tracks = [
        make_track(masters, "01 dawn", "Dawn from the shell", 440),
        make_track(masters, "02 dusk", "Dusk from the shell", 660),
    ]
    cids = sorted(file_cid(p).cid for p in tracks)
    password_file = tmp_path / "password.txt"
    password_file.write_text(PASSWORD + "\nsecond line is ignored\n")
    first = HeldRun(
        shell, "first", "publish", "--yes", "--password-file", str(password_file), *tracks
    )
    try:
        backend_url = first.backend_url()
        w3, registry = registry_on(backend_url)
        assert registry.functions.track_count(address).call() == 2
        for cid in cids:
            assert registry.functions.artist_of(cid).call() == address
        assert listed_cids(backend_url, address) == cids
        sent = w3.eth.get_transaction_count(address)
        code, lines, err = first.release()
    finally:
        first.kill()
    assert code == 0, err[-3000:]
    assert sorted(line["cid"] for line in lines) == cids
    assert {line["status"] for line in lines} == {"listed"}, lines
    tx_hashes = {line["cid"]: line["tx_hash"] for line in lines}
    assert all(h.startswith("0x") for h in tx_hashes.values())

    # The same files again, the password now in the environment: already registered on the
    # local chain (it persists across runs) and listed, so nothing is sent (the account's
    # transaction count stays where the first run left it) and nothing is listed twice.
    env = {"HARMONIE_WALLET_PASSWORD": PASSWORD}
    again = HeldRun(shell, "again", "publish", "--yes", *tracks, env=env)
    try:
        backend_url = again.backend_url()
        started = [e for e in read_events(studio_log(shell)) if e.get("event") == "backend_started"]
        backend_env = Path(f"/proc/{started[-1]['pid']}/environ").read_bytes()
        assert b"HARMONIE_WALLET_PASSWORD" not in backend_env, "the backend inherited it"
        w3, registry = registry_on(backend_url)
        assert w3.eth.get_transaction_count(address) == sent
        assert registry.functions.track_count(address).call() == 2
        assert listed_cids(backend_url, address) == cids
        code, lines, err = again.release()
    finally:
        again.kill()
    assert code == 0, err[-3000:]
    assert {line["status"] for line in lines} == {"listed"}, lines
    assert {line["cid"]: line["tx_hash"] for line in lines} == tx_hashes
    assert_no_secret(shell, err, json.dumps(lines))


def test_wrong_password_stops_before_anything_is_sent(shell: Shell, tmp_path: Path) -> None:
    artist = dev_accounts(4)[3]
    import_key(shell, artist)
    track = make_track(tmp_path, "refused", "Never sent", 550)
    wrong = "not the right password at all"
    result = cli(shell, "publish", "--yes", str(track), env={"HARMONIE_WALLET_PASSWORD": wrong})
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Wrong password" in result.stderr and artist.address in result.stderr
    assert result.stdout == ""
    assert wrong not in result.stderr
    assert_no_secret(shell, result.stdout, result.stderr)
    # Nothing queued, nothing uploaded to the studio's content store.
    assert not (shell.data_dir / "uploads.sqlite3").exists()
    blobs = shell.data_dir / "backend" / "ipfs" / "blobs"
    assert not blobs.exists() or not any(blobs.iterdir())


def test_without_consent_nothing_is_sent(shell: Shell, tmp_path: Path) -> None:
    """No --yes and no terminal to ask on: the command refuses before uploading or sending
    (it used to take running the command as the consent)."""
    artist = dev_accounts(5)[4]
    import_key(shell, artist)
    track = make_track(tmp_path, "unconsented", "Never sent", 440)
    result = cli(shell, "publish", str(track), env={"HARMONIE_WALLET_PASSWORD": PASSWORD})
    assert result.returncode == 2, result.stderr[-2000:]
    assert "nothing is sent without your consent" in result.stderr
    assert "--yes" in result.stderr and artist.address in result.stderr
    assert result.stdout == ""
    assert not (shell.data_dir / "uploads.sqlite3").exists()
    blobs = shell.data_dir / "backend" / "ipfs" / "blobs"
    assert not blobs.exists() or not any(blobs.iterdir())


def test_several_accounts_need_a_choice_and_a_password(shell: Shell, tmp_path: Path) -> None:
    first, second = dev_accounts(6)[4:6]
    import_key(shell, first)
    import_key(shell, second)
    track = make_track(tmp_path, "choice", "Which wallet", 330)

    ambiguous = cli(
        shell, "publish", "--yes", str(track), env={"HARMONIE_WALLET_PASSWORD": PASSWORD}
    )
    assert ambiguous.returncode == 2
    assert first.address in ambiguous.stderr and second.address in ambiguous.stderr
    assert "--account" in ambiguous.stderr

    no_password = cli(shell, "publish", "--yes", "--account", second.address.lower(), str(track))
    assert no_password.returncode == 2
    assert "--password-file" in no_password.stderr and "HARMONIE_WALLET_PASSWORD" in (
        no_password.stderr
    )
    assert not (shell.data_dir / "uploads.sqlite3").exists()


def test_on_a_terminal_the_password_is_asked_without_echo(shell: Shell, tmp_path: Path) -> None:
    import fcntl
    import os
    import select
    import termios

    artist = dev_accounts(8)[7]
    import_key(shell, artist)
    track = make_track(tmp_path, "typed", "Typed at the prompt", 770)
    typed = "typed at the prompt, wrongly"
    controller, terminal = os.openpty()

    def own_terminal() -> None:  # the pty becomes the command's controlling terminal
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        [sys.executable, "-m", "widgets.main", "publish", str(track)],
        cwd=ROOT, env=shell.env, stdin=terminal, stdout=terminal, stderr=terminal,
        start_new_session=True, preexec_fn=own_terminal,
    )  # fmt: skip
    os.close(terminal)
    seen = b""
    try:
        deadline = time.monotonic() + 240
        answered = False
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:  # the command closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            if not answered and b"Password for wallet" in seen:
                os.write(controller, typed.encode() + b"\n")
                answered = True
            if process.poll() is not None and not ready:
                break
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)
    text = seen.decode(errors="replace")
    assert f"Password for wallet {artist.address}" in text
    assert code == 2 and "Wrong password" in text, text[-2000:]
    assert typed not in text, "the typed password was echoed"
