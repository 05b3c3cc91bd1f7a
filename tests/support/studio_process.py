"""Moved to harness.studio_process (benches use it too and must not import tests); kept for
callers."""

from harness.studio_process import (
    ROOT,
    STUDIO,
    backends_on,
    end_backends_on,
    kill_and_wait_backend_gone,
    log_path,
    pid_alive,
    read_events,
    start_studio,
    studio_command,
    wait_for_event,
    wait_gone,
)

__all__ = [
    "ROOT",
    "STUDIO",
    "backends_on",
    "end_backends_on",
    "kill_and_wait_backend_gone",
    "log_path",
    "pid_alive",
    "read_events",
    "start_studio",
    "studio_command",
    "wait_for_event",
    "wait_gone",
]
