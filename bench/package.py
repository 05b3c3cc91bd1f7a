"""The frozen app as installed: its size, its startup and its memory.

Run: .venv/bin/python bench/package.py (after `make package`; uses the installed
/usr/bin/harmonie-studio when the .deb is installed, else dist/harmonie-studio/).
Prints one JSON object as its last line: package_mb (installed size: the .deb's Installed-Size,
else the one-folder build on disk), frozen_startup_ms_median (of 5: launch to the window shown,
the studio's services composed, measured as bench/startup.py measures the checkout),
frozen_services_ready_ms_median (launch to its local backend and devnet answering, a new
chain's contracts deployed), frozen_rss_mb (median resident memory of the studio with its
backend and devnet, the whole process tree, a second after that).
"""

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import display_env, report, tree_rss_mb  # noqa: E402
from harness.studio_process import log_path, wait_for_event  # noqa: E402

RUNS = 5
INSTALLED = Path("/usr/bin/harmonie-studio")
BUNDLE = ROOT / "dist" / "harmonie-studio"


def frozen_studio() -> Path:
    if INSTALLED.exists():
        return INSTALLED
    if (BUNDLE / "harmonie-studio").exists():
        return BUNDLE / "harmonie-studio"
    raise SystemExit("no frozen build: run `make package` (and install the .deb) first")


def package_mb() -> tuple[float, str]:
    debs = sorted((ROOT / "dist").glob("harmonie-studio_*.deb"))
    if debs:
        size_kib = subprocess.run(
            ["dpkg-deb", "-f", str(debs[-1]), "Installed-Size"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return int(size_kib) / 1024, debs[-1].name
    total = sum(p.lstat().st_size for p in BUNDLE.rglob("*") if p.is_file())
    return total / 2**20, str(BUNDLE.relative_to(ROOT))


def one_run(studio: Path, display_env: dict[str, str]) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as home:
        # the user's environment: no venv, no PYTHONPATH
        env = {k: v for k, v in display_env.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        env["PATH"] = "/usr/bin:/bin"
        for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            env[var] = os.path.join(home, var.lower())
        started = time.time()
        process = subprocess.Popen(
            [str(studio)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            log = log_path(env)
            shown = wait_for_event(log, "window_shown", timeout=120, process=process)
            ready = wait_for_event(log, "services_ready", timeout=120, process=process)
            time.sleep(1.0)
            memory = tree_rss_mb(process.pid)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        return (shown["ts"] - started) * 1000, (ready["ts"] - started) * 1000, memory


def main() -> None:
    studio = frozen_studio()
    size_mb, measured = package_mb()
    with ExitStack() as stack:
        display, platform = display_env(stack)
        runs = [one_run(studio, display) for _ in range(RUNS)]
    report(
        {
            "package_mb": round(size_mb, 1),
            "frozen_startup_ms_median": round(statistics.median(r[0] for r in runs), 1),
            "frozen_services_ready_ms_median": round(statistics.median(r[1] for r in runs), 1),
            "frozen_rss_mb": round(statistics.median(r[2] for r in runs), 1),
            "frozen_startup_ms_runs": [round(r[0], 1) for r in runs],
            "studio": str(studio),
            "package": measured,
            "platform": platform,
            "targets": {"package_mb": 400, "frozen_startup_ms_median": 1500, "frozen_rss_mb": 300},
        }
    )


if __name__ == "__main__":
    main()
