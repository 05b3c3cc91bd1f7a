"""CpuShares: who had the CPU, per process and per labelled process tree."""

import subprocess
import sys
import time

from harness.cpu_shares import CpuShares

BURN = "import time\nend = time.monotonic() + 3\nwhile time.monotonic() < end: pass\n"
SPAWN_BURNER = (
    f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {BURN!r}])\n"
    "time.sleep(3)\n"
)


def test_a_busy_child_counts_for_its_labelled_parent_and_a_sleeper_for_nothing() -> None:
    parent = subprocess.Popen([sys.executable, "-c", SPAWN_BURNER])  # sleeps; its child burns
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3)"])
    try:
        time.sleep(0.5)  # the burner is running
        shares = CpuShares({parent.pid: "show", sleeper.pid: "idle"})
        shares.sample(0.0)
        time.sleep(1.5)
        shares.sample(1.5)
        ((t0, t1, used),) = shares.intervals()
        assert (t0, t1) == (0.0, 1.5)
        assert used.get("show", 0.0) > 40.0  # the child's busy loop, under its parent's label
        assert used.get("idle", 0.0) < 10.0
        assert shares.around(0.7)["show"] > 40.0
        assert shares.mean()["show"] > 40.0
    finally:
        parent.wait(10)
        sleeper.wait(10)
