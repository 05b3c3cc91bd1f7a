"""What every bench shares: percentiles, process-tree memory and CPU, and the closing JSON line.

One percentile formula (nearest rank on the sorted sample, as numpy's "inverted_cdf"), so a p99
here means the same in every bench. Memory is the whole process tree (the studio with its local
backend and devnet child), read from /proc: benches run on Linux, like CI.
"""

import json
import math
import os
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NamedTuple


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank; NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def process_tree(pid: int) -> list[int]:
    """`pid` and every descendant still running."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        if Path(f"/proc/{current}").exists():
            tree.append(current)
            todo += _children(current)
    return tree


def rss_mb(pid: int) -> float:
    """Resident memory of one process in MB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree_rss_mb(pid: int) -> float:
    """Resident memory of `pid` and all its descendants together, in MB."""
    return sum(rss_mb(p) for p in process_tree(pid))


_TICK = os.sysconf("SC_CLK_TCK")


class ProcStat(NamedTuple):
    name: str
    parent: int
    cpu_s: float  # user + system


def proc_stat(pid: int) -> ProcStat | None:
    """A process's name, parent and CPU time from /proc/PID/stat; None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = stat[stat.index("(") + 1 : stat.rindex(")")]  # may hold spaces and parentheses
    fields = stat.rsplit(")", 1)[1].split()
    return ProcStat(name, int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK)


def all_pids() -> list[int]:
    return [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()]


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU time of the given processes."""
    return sum(stat.cpu_s for stat in map(proc_stat, pids) if stat is not None)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def report(result: dict[str, Any]) -> None:
    """Print the bench's closing line: its figures plus the load it ran under."""
    result = {**result, "load_avg": load_average(), "cpus": os.cpu_count()}
    print(json.dumps(result), flush=True)


def display_env(stack: ExitStack) -> tuple[dict[str, str], str]:
    """An X display for a window bench (Xvfb with a tray host, entered on `stack`) when they
    are installed, else Qt's offscreen platform; and its name for the report."""
    import shutil

    if shutil.which("Xvfb") and shutil.which("trayer"):
        from harness.xserver import xvfb_with_tray

        return stack.enter_context(xvfb_with_tray()).env, "xcb (Xvfb)"
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen"}, "offscreen"
