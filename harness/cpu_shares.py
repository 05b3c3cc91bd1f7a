"""Who used the machine's CPU during a long run: every process's CPU time read from /proc at
each sample, grouped under a label (the studio, its backend, the devnet, the viewers, the
harness, or the program's name), as percent of one core over each interval.

A soak's frame rate dips when the studio does not get the CPU it needs; these shares say who
had it instead (the studio's own figures only show that it got less).
"""

from collections import defaultdict
from collections.abc import Callable

from bench.common import ProcStat, all_pids, proc_stat

Labeller = Callable[[int, str], str | None]


def _processes() -> dict[int, ProcStat]:
    """Every process readable now."""
    return {pid: stat for pid in all_pids() if (stat := proc_stat(pid)) is not None}


class CpuShares:
    """`sample(t)` at intervals; `intervals()` gives (t0, t1, {label: % of a core}) per gap.

    `roots` labels a process and all its descendants (the nearest labelled ancestor wins);
    every other process is labelled with its name."""

    def __init__(self, roots: dict[int, str]) -> None:
        self.roots = dict(roots)
        self._samples: list[tuple[float, dict[int, tuple[str, float]]]] = []

    def sample(self, t: float) -> None:
        procs = _processes()
        labelled: dict[int, tuple[str, float]] = {}
        for pid, stat in procs.items():
            labelled[pid] = (self._label(pid, procs) or stat.name, stat.cpu_s)
        self._samples.append((t, labelled))

    def _label(self, pid: int, procs: dict[int, ProcStat]) -> str | None:
        seen = 0
        while pid in procs and seen < 64:
            if pid in self.roots:
                return self.roots[pid]
            pid, seen = procs[pid].parent, seen + 1
        return None

    def intervals(self) -> list[tuple[float, float, dict[str, float]]]:
        out = []
        for (t0, before), (t1, after) in zip(self._samples, self._samples[1:], strict=False):
            if t1 <= t0:
                continue
            used: dict[str, float] = defaultdict(float)
            for pid, (label, cpu) in after.items():
                previous = before.get(pid)
                start = previous[1] if previous is not None else 0.0
                used[label] += max(0.0, cpu - start)
            out.append((t0, t1, {k: 100.0 * v / (t1 - t0) for k, v in used.items() if v > 0}))
        return out

    def mean(self, top: int = 8) -> dict[str, float]:
        """Mean % of a core per label over all intervals, the `top` busiest."""
        spans = self.intervals()
        if not spans:
            return {}
        total_s = sum(t1 - t0 for t0, t1, _ in spans)
        sums: dict[str, float] = defaultdict(float)
        for t0, t1, shares in spans:
            for label, pct in shares.items():
                sums[label] += pct * (t1 - t0)
        return _top({k: v / total_s for k, v in sums.items()}, top)

    def around(self, t: float, top: int = 8) -> dict[str, float]:
        """The shares of the interval holding `t` (the nearest one when none holds it)."""
        spans = self.intervals()
        if not spans:
            return {}

        def distance(span: tuple[float, float, dict[str, float]]) -> float:
            return 0.0 if span[0] <= t <= span[1] else min(abs(span[0] - t), abs(span[1] - t))

        return _top(min(spans, key=distance)[2], top)


def _top(shares: dict[str, float], top: int) -> dict[str, float]:
    busiest = sorted(shares.items(), key=lambda kv: -kv[1])[:top]
    return {k: round(v, 1) for k, v in busiest}
