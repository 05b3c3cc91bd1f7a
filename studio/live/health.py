"""The show's health: the session's once-a-second figures as 60-second series, and what is
wrong in plain words (the computer cannot keep up, the network loses packets).

`ShowHealth.add` takes `LiveSession.stats()` as it is each second; counters that only grow
(frames dropped, packets lost) become per-second figures here, so a graph shows when it
happened and a warning says how much in the last few seconds.
"""

from collections import deque
from dataclasses import dataclass
from typing import Any

HISTORY_S = 60  # samples kept: one a second
RECENT_S = 5  # a warning looks at this many seconds
LOAD_LIMIT_PCT = 90.0  # an encoder busier than this for RECENT_S cannot keep up for long
LOSS_LIMIT_PCT = 2.0  # more packets lost than this in RECENT_S: fans see it
RTT_LIMIT_MS = 400.0


@dataclass(frozen=True)
class Figure:
    """One graphed figure: its key in a sample, the label and unit shown beside it."""

    key: str
    label: str
    unit: str


FIGURES = (
    Figure("bitrate_kbps", "Bitrate", "kbit/s"),
    Figure("fps", "Frame rate", "fps"),
    Figure("dropped", "Dropped frames", "/s"),
    Figure("late", "Late frames", "/s"),
    Figure("rtt_ms", "Round trip", "ms"),
    Figure("loss_pct", "Packet loss", "%"),
    Figure("encoder_load_pct", "Encoder load", "%"),
)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


class ShowHealth:
    def __init__(self, history_s: int = HISTORY_S) -> None:
        self.samples: deque[dict[str, float | None]] = deque(maxlen=history_s)
        self.dropped_total = 0
        self.repeated_total = 0  # a short stall filled with the picture again (not lost)
        self.late_total = 0
        self._counters: dict[str, float] | None = None  # the previous sample's counters

    def clear(self) -> None:
        self.samples.clear()
        self.dropped_total = self.repeated_total = self.late_total = 0
        self._counters = None

    def add(self, stats: dict[str, Any]) -> dict[str, float | None]:
        """Take one second's `LiveSession.stats()`; return the sample it made."""
        counters = {
            key: _number(stats.get(key)) or 0.0
            for key in ("frames_skipped", "frames_late", "packets_lost", "packets_sent")
        }
        before = self._counters or counters
        # a counter going down is a new connection (packets) or a new show: start from there
        delta = {k: v - before[k] if v >= before[k] else v for k, v in counters.items()}
        self._counters = counters
        self.dropped_total = int(counters["frames_skipped"])
        self.late_total = int(counters["frames_late"])
        self.repeated_total = int(_number(stats.get("frames_repeated")) or 0)
        publishing = stats.get("publish_state") == "live"
        bitrate = _number(stats.get("bitrate_kbps")) if publishing else None
        if bitrate is None:
            bitrate = (
                (_number(stats.get("video_bitrate")) or 0.0)
                + (_number(stats.get("audio_bitrate")) or 0.0)
            ) / 1000
        sent_and_lost = delta["packets_sent"] + delta["packets_lost"]
        sample: dict[str, float | None] = {
            "bitrate_kbps": bitrate,
            "fps": _number(stats.get("fps")),
            "dropped": delta["frames_skipped"],
            "late": delta["frames_late"],
            "rtt_ms": _number(stats.get("rtt_ms")) if publishing else None,
            "loss_pct": 100 * delta["packets_lost"] / sent_and_lost if sent_and_lost else None,
            "encoder_load_pct": _number(stats.get("encoder_load_pct")),
            "lost": delta["packets_lost"],
            "sent": delta["packets_sent"],
        }
        self.samples.append(sample)
        return sample

    def series(self, key: str) -> list[float | None]:
        return [s.get(key) for s in self.samples]

    def latest(self, key: str) -> float | None:
        return self.samples[-1].get(key) if self.samples else None

    def _recent(self, key: str) -> list[float]:
        values = [s.get(key) for s in list(self.samples)[-RECENT_S:]]
        return [v for v in values if v is not None]

    def warnings(self) -> list[str]:
        """What is wrong now, each in a sentence an artist can act on; empty when all is well."""
        out: list[str] = []
        dropped = int(sum(self._recent("dropped")))
        loads = self._recent("encoder_load_pct")
        overloaded = len(loads) >= RECENT_S and min(loads) > LOAD_LIMIT_PCT
        if dropped or overloaded:
            what = (
                f"{dropped} frame{'s' if dropped != 1 else ''} dropped in the last {RECENT_S} s"
                if dropped
                else f"the encoder is over {LOAD_LIMIT_PCT:.0f} % busy"
            )
            out.append(
                f"Your computer cannot keep up with the video: {what}. Fans see a jerky "
                "picture. Lower the resolution or frame rate in Settings, or close other "
                "programs."
            )
        lost, sent = sum(self._recent("lost")), sum(self._recent("sent"))
        if lost and 100 * lost / (lost + sent) >= LOSS_LIMIT_PCT:
            out.append(
                f"The network is dropping packets: {100 * lost / (lost + sent):.1f} % lost in "
                f"the last {RECENT_S} s. Fans may see the picture break up. A wired connection "
                "or a lower bitrate in Settings helps."
            )
        rtt = self.latest("rtt_ms")
        if rtt is not None and rtt > RTT_LIMIT_MS:
            out.append(
                f"The ingest is far away or the network is slow ({rtt:.0f} ms round trip): "
                "fans hear and see you later than usual."
            )
        return out
