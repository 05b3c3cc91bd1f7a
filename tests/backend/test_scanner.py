"""Malware scanning of uploads with a real clamd (Debian's clamav-daemon) started here with a
database made here: one signature, the EICAR test file's MD5 (no download). A file it flags
is refused with its name, a clean one is stored, and with clamd down every upload is refused
(fail closed), never stored unscanned."""

import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from backend.config import BackendConfig
from backend.scanner import ClamdScanner, ScannerUnavailable
from media.cid import file_cid
from tests.backend.support import bearer, make_profile, serve

# The standard antivirus test file (harmless by design), assembled so this source is not it.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SIGNATURE = "Harmonie.Test.EICAR.UNOFFICIAL"  # clamd marks signatures outside its own set
CLAMD = shutil.which("clamd") or "/usr/sbin/clamd"


@pytest.fixture(scope="module")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """clamd in the foreground on a Unix socket, its database one local .hdb signature."""
    folder = tmp_path_factory.mktemp("clamd")
    (folder / "db").mkdir()
    md5 = hashlib.md5(EICAR).hexdigest()
    (folder / "db" / "local.hdb").write_text(f"{md5}:{len(EICAR)}:Harmonie.Test.EICAR\n")
    socket_path = folder / "clamd.sock"
    (folder / "clamd.conf").write_text(
        f"LocalSocket {socket_path}\nDatabaseDirectory {folder / 'db'}\nForeground yes\n"
        f"LogFile {folder / 'clamd.log'}\nStreamMaxLength 64M\n"
    )
    process = subprocess.Popen(
        [CLAMD, "-c", str(folder / "clamd.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(600):  # loading the engine takes a few seconds
            if process.poll() is not None:
                log = (folder / "clamd.log").read_text(errors="replace")
                raise RuntimeError(f"clamd exited with {process.returncode}: {log[-2000:]}")
            if socket_path.exists():
                break
            subprocess.run(["sleep", "0.1"], check=True)
        else:
            raise RuntimeError("clamd did not open its socket within 60 s")
        yield str(socket_path)
    finally:
        process.terminate()
        process.wait(timeout=30)


async def test_clamd_flags_eicar_and_passes_a_clean_file(clamd: str, tmp_path: Path) -> None:
    (tmp_path / "eicar.com").write_bytes(EICAR)
    (tmp_path / "song.flac").write_bytes(b"fLaC" + bytes(range(256)) * 2000)
    scanner = ClamdScanner(clamd)
    flagged = await scanner.scan(tmp_path / "eicar.com")
    assert not flagged.clean and flagged.signature == SIGNATURE
    assert (await scanner.scan(tmp_path / "song.flac")).clean


async def test_clamd_down_is_no_verdict(tmp_path: Path) -> None:
    (tmp_path / "song.flac").write_bytes(b"fLaC")
    with pytest.raises(ScannerUnavailable, match=r"\(clamd at .*nothing\.sock\) is not answering"):
        await ClamdScanner(str(tmp_path / "nothing.sock")).scan(tmp_path / "song.flac")
    with pytest.raises(ScannerUnavailable, match="not answering"):
        await ClamdScanner("127.0.0.1:9").scan(tmp_path / "song.flac")


async def _add(client: httpx.AsyncClient, url: str, tokens: dict, data: bytes) -> httpx.Response:
    return await client.post(
        f"{url}/api/v0/add",
        params={"cid-version": "1"},
        files={"file": ("upload.bin", data)},
        headers=bearer(tokens),
    )


def _cid(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / hashlib.sha256(data).hexdigest()
    path.write_bytes(data)
    return file_cid(path).cid


async def test_uploads_are_scanned_and_refused_while_clamd_is_down(
    clamd: str, backend_config: BackendConfig, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    clean = b"an honest song " * 1000
    async with serve(replace(backend_config, clamd=clamd)) as backend:
        _artist, tokens = await make_profile(client, backend, name="Nova")
        refused = await _add(client, backend.url, tokens, EICAR)
        assert refused.status_code == 422
        assert refused.json()["Message"] == (
            f"This file was refused: the malware scanner found {SIGNATURE} in it."
        )
        gone = await client.get(f"{backend.url}/ipfs/{_cid(tmp_path, EICAR)}")
        assert gone.status_code == 404  # not stored
        stored = await _add(client, backend.url, tokens, clean)
        assert stored.status_code == 200 and stored.json()["Hash"] == _cid(tmp_path, clean)

    down = str(tmp_path / "no-clamd.sock")
    data = b"another song " * 1000
    async with serve(replace(backend_config, clamd=down)) as backend:
        _artist, tokens = await make_profile(client, backend, name="Nova")
        refused = await _add(client, backend.url, tokens, data)
        assert refused.status_code == 503
        message = refused.json()["Message"]
        assert message.startswith("Uploads are refused until the malware scanner is back:")
        assert f"(clamd at {down}) is not answering" in message
        missing = await client.get(f"{backend.url}/ipfs/{_cid(tmp_path, data)}")
        assert missing.status_code == 404
