"""`harmonie-backend backup` / `restore`: a backup taken while the backend serves, restored into
an empty place, serves the same data (SQLite and Debian's PostgreSQL); bad input loses nothing."""

import asyncio
import os
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import httpx

from backend.config import BackendConfig
from tests.backend.conftest import JWT_SECRET, create_database
from tests.backend.support import bearer, make_profile, serve, serve_process, sign_in

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backend", *args], cwd=ROOT, capture_output=True, text=True
    )


async def _some_data(client: httpx.AsyncClient, backend) -> tuple[str, str, dict]:  # type: ignore[no-untyped-def,type-arg]
    artist, _ = await make_profile(client, backend, name="Backed Up", bio="still here")
    fan, tokens = await sign_in(client, backend)
    followed = await client.put(
        f"{backend.url}/artists/{artist.address}/follow", headers=bearer(tokens)
    )
    assert followed.status_code == 200, followed.text
    profile = (await client.get(f"{backend.url}/artists/{artist.address}")).json()
    return artist.address, fan.address, profile


async def _served_data(client: httpx.AsyncClient, backend, artist: str) -> tuple[dict, list]:  # type: ignore[no-untyped-def,type-arg]
    profile = (await client.get(f"{backend.url}/artists/{artist}")).json()
    followers = (await client.get(f"{backend.url}/artists/{artist}/followers")).json()["items"]
    return profile, followers


async def test_sqlite_backup_of_a_running_backend_restores_elsewhere(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    source_dir, target_dir = tmp_path / "source", tmp_path / "target"
    source = BackendConfig(
        database_url=f"sqlite:///{source_dir / 'backend.db'}",
        data_dir=source_dir,
        jwt_secret=JWT_SECRET,
    )
    archive = tmp_path / "backups" / "nightly.db"
    async with serve_process(source, tmp_path / "source.log") as running:
        artist, fan, profile = await _some_data(client, running)
        # online: the backend is still serving while the copy is taken
        done = await asyncio.to_thread(_cli, "backup", str(archive), "--data-dir", str(source_dir))
        assert done.returncode == 0, done.stderr
        again = await asyncio.to_thread(_cli, "backup", str(archive), "--data-dir", str(source_dir))
        assert again.returncode == 1 and "already exists" in again.stderr

    restored = await asyncio.to_thread(_cli, "restore", str(archive), "--data-dir", str(target_dir))
    assert restored.returncode == 0, restored.stderr
    target = replace(source, database_url="", data_dir=target_dir)
    async with serve_process(target, tmp_path / "target.log") as running:
        served_profile, followers = await _served_data(client, running, artist)
    assert served_profile == profile
    assert followers == [fan]


async def test_restore_of_a_file_that_is_no_backup_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "backend.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE keep (x)")
        conn.execute("INSERT INTO keep VALUES (42)")
    conn.close()
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database at all, just words " * 200)
    for bad in (junk, tmp_path / "missing.db"):
        done = _cli("restore", str(bad), "--data-dir", str(tmp_path))
        assert done.returncode == 1
        assert "harmonie-backend restore:" in done.stderr and "Traceback" not in done.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT x FROM keep").fetchall() == [(42,)]
    conn.close()


async def test_postgres_backup_restores_into_another_database(
    postgres_url: str, tmp_path: Path, client: httpx.AsyncClient
) -> None:
    source_url = await asyncio.to_thread(create_database, postgres_url, "backup_source")
    target_url = await asyncio.to_thread(create_database, postgres_url, "backup_target")
    config = BackendConfig(database_url=source_url, data_dir=tmp_path, jwt_secret=JWT_SECRET)
    archive = tmp_path / "pg.dump"
    async with serve(config) as running:
        artist, fan, profile = await _some_data(client, running)
        done = await asyncio.to_thread(_cli, "backup", str(archive), "--database-url", source_url)
        assert done.returncode == 0, done.stderr
    env_url = {"HARMONIE_DATABASE_URL": target_url}
    restored = await asyncio.to_thread(
        lambda: subprocess.run(
            [sys.executable, "-m", "backend", "restore", str(archive)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, **env_url},
        )
    )
    assert restored.returncode == 0, restored.stderr
    async with serve(replace(config, database_url=target_url)) as running:
        served_profile, followers = await _served_data(client, running, artist)
    assert served_profile == profile
    assert followers == [fan]
