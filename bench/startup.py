"""Cold start to first window shown, and resident memory after start.

Run: .venv/bin/python bench/startup.py
Prints one JSON object as its last line: startup_ms_median (of 5), rss_mb (the whole process
tree: the studio, its local backend and devnet), rss_mb_window (the studio process alone), the
runs and the load average it ran under.
Uses Xvfb when it is installed (a real X window), the offscreen platform otherwise.
"""

import os
import signal
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import display_env, report, rss_mb, tree_rss_mb  # noqa: E402
from harness.studio_process import (  # noqa: E402
    log_path,
    start_studio,
    wait_for_event,
)

RUNS = 5


def one_run(display_env: dict[str, str]) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as home:
        env = dict(display_env)
        for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            env[var] = os.path.join(home, var.lower())
        started = time.time()
        studio = start_studio(env)
        try:
            shown = wait_for_event(log_path(env), "window_shown", timeout=60, process=studio)
            startup_ms = (shown["ts"] - started) * 1000
            wait_for_event(log_path(env), "backend_started", timeout=60, process=studio)
            time.sleep(1.0)
            memory = (tree_rss_mb(studio.pid), rss_mb(studio.pid))
        finally:
            studio.send_signal(signal.SIGTERM)
            studio.wait(30)
        return startup_ms, *memory


def main() -> None:
    with ExitStack() as stack:
        display, platform = display_env(stack)
        runs = [one_run(display) for _ in range(RUNS)]
    result = {
        "startup_ms_median": round(statistics.median(r[0] for r in runs), 1),
        "rss_mb": round(statistics.median(r[1] for r in runs), 1),
        "rss_mb_window": round(statistics.median(r[2] for r in runs), 1),
        "startup_ms_runs": [round(r[0], 1) for r in runs],
        "platform": platform,
        "targets": {"startup_ms_median": 1500, "rss_mb": 250},
    }
    report(result)


if __name__ == "__main__":
    main()
