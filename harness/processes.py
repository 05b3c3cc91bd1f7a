"""Ending the helper processes a fixture started (Xvfb, D-Bus, keyrings, notification servers)."""

import subprocess


def end(process: subprocess.Popen[bytes] | None, grace_s: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after `grace_s`; nothing if it is already gone."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
