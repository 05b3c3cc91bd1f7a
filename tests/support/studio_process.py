"""Moved to harness.studio_process (benches use it too and must not import tests); kept for
callers."""

from harness.studio_process import (
    ROOT,
    STUDIO,
    log_path,
    pid_alive,
    read_events,
    start_studio,
    studio_command,
    wait_for_event,
)

__all__ = [
    "ROOT",
    "STUDIO",
    "log_path",
    "pid_alive",
    "read_events",
    "start_studio",
    "studio_command",
    "wait_for_event",
]
