import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from backend import instance
from studio import local_backend
from studio.errors import BackendStartError
from studio.local_backend import INSTANCE_FILE, LocalBackend, free_port
from tests.conftest import ROOT
from tests.foundation.test_studio_process import xserver  # noqa: F401 - the fixture
from tests.support.studio_process import (
    backends_on,
    end_backends_on,
    kill_and_wait_backend_gone,
    log_path,
    pid_alive,
    start_studio,
    wait_for_event,
    wait_gone,
)


async def test_starts_answers_health_and_stops(tmp_path):
    backend = LocalBackend(tmp_path / "data", tmp_path / "log")
    url = await backend.start()
    process = backend.process
    assert httpx.get(f"{url}/health").json()["status"] == "ok"
    assert (tmp_path / "data" / "backend.db").exists(), "SQLite lives in the user data dir"
    await backend.stop()
    assert process is not None and process.poll() is not None


async def test_runs_as_the_studio_entry_point_backend_subcommand_without_qt(tmp_path):
    """The frozen app has no `python -m backend`: the studio starts `harmonie-studio backend`
    (here the same entry point through this interpreter), and that process loads no Qt."""
    backend = LocalBackend(tmp_path / "data", tmp_path / "log")
    await backend.start()
    try:
        assert backend.process is not None
        pid = backend.process.pid
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[1:4] == [b"-m", b"widgets.main", b"backend"]
        maps = Path(f"/proc/{pid}/maps").read_text()
        assert "libQt6" not in maps and "PySide6" not in maps
    finally:
        await backend.stop()


async def test_a_backend_that_cannot_start_gives_a_clear_error(tmp_path, monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setattr(local_backend, "free_port", lambda host: port)
        backend = LocalBackend(tmp_path / "data", tmp_path / "log")
        with pytest.raises(BackendStartError, match="already in use"):
            await backend.start(attempts=2)
    assert backend.process is None


@pytest.fixture(autouse=True)
def no_backend_left(tmp_path):
    yield
    end_backends_on(tmp_path / "data")


def start_parent(root: Path) -> tuple[subprocess.Popen[str], dict]:
    """A stand-in studio (another process) that starts or adopts the backend on root/data."""
    parent = subprocess.Popen(
        [sys.executable, "-m", "tests.foundation.backend_parent", str(root)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = parent.stdout.readline() if parent.stdout else ""
    assert line, f"the stand-in studio exited ({parent.wait()}) before starting its backend"
    return parent, json.loads(line)


def start_orphan(root: Path) -> int:
    """A backend on root/data whose starter exited after starting it, as a studio killed
    before backends watched their parent left behind: nothing ends it with its parent."""
    data = root / "data"
    data.mkdir(parents=True)
    starter = (
        "import subprocess, sys, time; from pathlib import Path; "
        "from backend.instance import running; "
        "pid = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, "
        "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid; "
        "[time.sleep(0.1) for _ in range(600) if running(Path(sys.argv[1])) is None]; "
        "print(pid)"
    )
    command = [
        sys.executable, "-m", "backend", "--port", str(free_port()), "--local",
        "--database-url", LocalBackend(data, root / "log").database_url,
        "--data-dir", str(data), "--instance-file", str(data / INSTANCE_FILE),
    ]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", starter, str(data / INSTANCE_FILE), *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    pid = int(done.stdout)
    found = instance.running(data / INSTANCE_FILE)
    assert found is not None and found.pid == pid, "the orphan backend took its database"
    return pid


def test_a_parent_killed_with_sigkill_takes_its_backend_along(tmp_path):
    parent, started = start_parent(tmp_path)
    try:
        assert not started["adopted"]
        assert httpx.get(f"{started['url']}/health").status_code == 200
        took = kill_and_wait_backend_gone(parent.kill, started["pid"], started["url"])
        print(f"orphaned backend exited {took:.2f} s after its parent's kill -9")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    again, restarted = start_parent(tmp_path)  # a new start on the same data dir works
    try:
        assert not restarted["adopted"] and restarted["pid"] != started["pid"]
        assert backends_on(tmp_path / "data") == [restarted["pid"]]
    finally:
        again.kill()
        again.wait()
        wait_gone(restarted["pid"])


async def test_adopts_the_backend_of_a_studio_still_running_on_its_database(tmp_path):
    owner, started = start_parent(tmp_path)
    try:
        backend = LocalBackend(tmp_path / "data", tmp_path / "log")
        assert await backend.start() == started["url"], "the running backend is used"
        assert backend.process is None and backend.adopted is not None
        assert backends_on(tmp_path / "data") == [started["pid"]]
        await backend.stop()  # not ours to stop: its studio still uses it
        assert httpx.get(f"{started['url']}/health").status_code == 200
    finally:
        owner.kill()
        owner.wait()
        wait_gone(started["pid"])


async def test_ends_an_orphaned_backend_on_its_database_then_starts_its_own(tmp_path):
    orphan = start_orphan(tmp_path)
    backend = LocalBackend(tmp_path / "data", tmp_path / "log")
    try:
        await backend.start()
        assert backend.adopted is None and backend.process is not None
        assert not pid_alive(orphan), "the orphan, whose studio is gone, was ended"
        assert backends_on(tmp_path / "data") == [backend.process.pid]
        assert httpx.get(f"{backend.url}/health").json()["status"] == "ok"
    finally:
        await backend.stop()
        if pid_alive(orphan):
            os.kill(orphan, signal.SIGKILL)


def test_a_second_backend_on_one_database_refuses_to_start(tmp_path):
    orphan = start_orphan(tmp_path)
    try:
        data = tmp_path / "data"
        second = subprocess.run(
            [sys.executable, "-m", "backend", "--port", str(free_port()),
             "--data-dir", str(data), "--instance-file", str(data / INSTANCE_FILE)],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode == 1
        assert f"already running on this database (pid {orphan}" in second.stderr
    finally:
        os.kill(orphan, signal.SIGTERM)
        wait_gone(orphan)


@pytest.mark.xvfb
@pytest.mark.slow
def test_the_studio_killed_with_sigkill_leaves_no_backend_and_starts_again(xserver):  # noqa: F811
    env = {**xserver.env, **{k: os.environ[k] for k in os.environ if k.startswith("XDG_")}}
    data = Path(env["XDG_DATA_HOME"]) / "harmonie-studio" / "backend"
    log = log_path(env)
    studio = start_studio(env)
    try:
        first = wait_for_event(log, "backend_started", timeout=60, process=studio)
        took = kill_and_wait_backend_gone(studio.kill, first["pid"], first["url"])
        print(f"the studio's backend exited {took:.2f} s after the studio's kill -9")

        log.unlink()  # the next run's events only
        studio = start_studio(env)
        second = wait_for_event(log, "backend_started", timeout=60, process=studio)
        assert second["pid"] != first["pid"]
        assert backends_on(data) == [second["pid"]], "one backend on the database"
        studio.send_signal(signal.SIGTERM)
        assert studio.wait(timeout=30) == 0
        wait_gone(second["pid"])
    finally:
        if studio.poll() is None:
            studio.kill()
            studio.wait()
        end_backends_on(data)
