"""Run the real `harmonie-studio` process and follow its structured log."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from backend.instance import process_alive as pid_alive  # a zombie counts as gone

ROOT = Path(__file__).resolve().parents[1]
STUDIO = ROOT / ".venv" / "bin" / "harmonie-studio"


def studio_command() -> list[str]:
    return [str(STUDIO)] if STUDIO.exists() else [sys.executable, "-m", "widgets.main"]


def log_path(env: dict[str, str]) -> Path:
    return Path(env["XDG_STATE_HOME"]) / "harmonie-studio" / "log" / "studio.log"


def read_events(path: Path) -> list[dict]:
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


def wait_for_event(path: Path, name: str, timeout: float = 30.0, process=None) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in read_events(path):
            if entry.get("event") == name:
                return entry
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"studio exited with {process.returncode} before '{name}'")
        time.sleep(0.05)
    raise TimeoutError(f"no '{name}' event in {path} after {timeout} s")


def start_studio(
    env: dict[str, str], *args: str, output: Path | None = None
) -> subprocess.Popen[bytes]:
    """The studio with `args`; its stdout and stderr go to pipes, or appended to `output` (a
    long run must not fill a pipe nobody reads)."""
    if output is None:
        return subprocess.Popen(
            [*studio_command(), *args],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    with output.open("ab") as sink:
        return subprocess.Popen(
            [*studio_command(), *args],
            env={**os.environ, **env},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def backends_on(data_dir: Path) -> list[int]:
    """Pids of the live backend processes started with `--data-dir data_dir`."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue  # ended while we looked
        if b"backend" in args and str(data_dir).encode() in args and b"--data-dir" in args:
            pid = int(cmdline.parent.name)
            if pid_alive(pid):
                pids.append(pid)
    return pids


def wait_gone(pid: int, timeout: float = 30.0) -> float:
    """Poll until `pid` has ended; seconds it took. AssertionError if it still runs."""
    start = time.monotonic()
    while pid_alive(pid):
        assert time.monotonic() - start < timeout, f"process {pid} still runs after {timeout} s"
        time.sleep(0.05)
    return time.monotonic() - start


def end_backends_on(data_dir: Path) -> None:
    """Test cleanup: kill whatever backend still runs on data_dir, even after a failure."""
    for pid in backends_on(data_dir):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def kill_and_wait_backend_gone(kill: Callable[[], None], backend_pid: int, url: str) -> float:
    """SIGKILL the backend's parent with `kill`, then wait for the backend (and the devnet it
    serves) to be gone; seconds it took."""
    kill()
    took = wait_gone(backend_pid)
    try:
        httpx.get(f"{url}/health", timeout=2)
    except httpx.TransportError:
        return took
    raise AssertionError(f"{url} still answers after its backend {backend_pid} ended")
