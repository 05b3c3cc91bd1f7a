"""Run the real `harmonie-studio` process and follow its structured log."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

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


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is gone for our purposes
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")
