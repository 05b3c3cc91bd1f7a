"""One backend per database: an instance file locked for the backend's whole life.

The backend takes an exclusive lock (flock) on the file and writes its pid, port and parent's
pid in it as JSON. The kernel drops the lock when the process ends, however it ends, so a held
lock means a live backend and a free one means none: no stale pid file to guess about. A
second backend on the same file refuses to start; the studio reads the file to find the
backend of its database again (to adopt it, or to end it).

POSIX only (flock), like the studio's packaging.
"""

import contextlib
import fcntl
import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

READ_RETRY_S = 2.0  # a backend that just took the lock writes its details right after


@dataclass(frozen=True)
class Instance:
    pid: int
    port: int
    parent_pid: int
    database_url: str


class AlreadyRunning(Exception):
    def __init__(self, instance: Instance | None) -> None:
        self.instance = instance
        where = f" (pid {instance.pid}, port {instance.port})" if instance else ""
        super().__init__(f"another backend is already running on this database{where}")


def try_lock(fd: int, shared: bool = False) -> bool:
    """Lock `fd` without waiting; False when another process holds a conflicting lock."""
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def _opened(path: Path, flags: int) -> Iterator[int]:
    fd = os.open(path, flags | os.O_CLOEXEC, 0o600)
    try:
        yield fd
    finally:
        os.close(fd)


def _parse(text: str) -> Instance | None:
    try:
        fields = json.loads(text)
        return Instance(
            pid=int(fields["pid"]),
            port=int(fields["port"]),
            parent_pid=int(fields["parent_pid"]),
            database_url=str(fields["database_url"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


def _read(fd: int) -> Instance | None:
    os.lseek(fd, 0, os.SEEK_SET)
    return _parse(os.read(fd, 65536).decode("utf-8", errors="replace"))


def claim(path: Path, port: int, database_url: str) -> int:
    """Lock `path` for this process's life and write its details; raise AlreadyRunning if
    another backend holds it. Returns the fd, which must stay open (closing it unlocks)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    if not try_lock(fd):
        instance = _read(fd)
        os.close(fd)
        raise AlreadyRunning(instance)
    details = Instance(os.getpid(), port, os.getppid(), database_url)
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps(asdict(details)).encode())
    os.fsync(fd)
    return fd


def running(path: Path) -> Instance | None:
    """The live backend holding `path`, or None when no process holds it."""
    if not path.exists():
        return None
    with _opened(path, os.O_RDONLY) as fd:
        deadline = time.monotonic() + READ_RETRY_S
        while True:
            if try_lock(fd, shared=True):  # nobody holds it exclusively: no backend
                fcntl.flock(fd, fcntl.LOCK_UN)
                return None
            instance = _read(fd)
            if instance is not None and process_alive(instance.pid):
                return instance
            if time.monotonic() > deadline:  # held, but by no backend we can name
                return None
            time.sleep(0.05)


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name (state, ppid, ...); None without /proc."""
    try:
        # the command name is in parentheses and may hold spaces or parentheses itself
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, ended but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    fields = _stat_fields(pid)
    return fields is None or fields[0] != "Z"  # no /proc (macOS): kill(0) answered


def orphaned(instance: Instance) -> bool:
    """True when the program that started the backend is gone (the backend was reparented)."""
    fields = _stat_fields(instance.pid)
    if fields is not None:
        return int(fields[1]) != instance.parent_pid
    return not process_alive(instance.parent_pid)


def end(instance: Instance, path: Path, timeout_s: float = 10.0) -> bool:
    """SIGTERM the backend holding `path`, then SIGKILL; True once its lock is free."""
    for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, timeout_s)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(instance.pid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if running(path) is None:
                return True
            time.sleep(0.05)
    return running(path) is None
