"""The show's health: the session's once-a-second figures as 60-second series, for the encoder
and for each output (WHIP and every RTMP destination), and what is wrong in plain words (the
computer cannot keep up, the network loses packets, a destination's connection is too slow).

`ShowHealth.add` takes `LiveSession.stats()` as it is each second; counters that only grow
(frames dropped, packets lost, bytes sent) become per-second figures here, so a graph shows
when it happened and a warning says how much in the last few seconds.
"""

from collections import deque
from dataclasses import dataclass
from typing import Any

from studio.live.stepdown import LOAD_LIMIT_PCT, LOSS_LIMIT_PCT

HISTORY_S = 60  # samples kept: one a second
RECENT_S = 5  # a warning of dropped frames or lost packets looks at this many seconds
LOAD_WINDOW_S = 10  # an encoder busier than LOAD_LIMIT_PCT this long cannot keep up
RTT_LIMIT_MS = 400.0
WHIP = "WHIP"  # the WHIP output's name among the outputs (RTMP ones bear their service's)


@dataclass(frozen=True)
class Figure:
    """One graphed figure: its key in a sample, the label and unit shown beside it, and the
    least its graph's scale goes up to (a quiet figure stays near the bottom)."""

    key: str
    label: str
    unit: str
    floor: float = 1.0


BITRATE = Figure("bitrate_kbps", "Bitrate", "kbit/s")
FPS = Figure("fps", "Frame rate", "fps")
DROPPED = Figure("dropped", "Dropped frames", "/s", 5.0)
LATE = Figure("late", "Late frames", "/s", 5.0)
LOAD = Figure("encoder_load_pct", "Encoder load", "%", 100.0)
ENCODER_FIGURES = (LOAD, FPS, DROPPED, LATE, BITRATE)
WHIP_FIGURES = (BITRATE, FPS, DROPPED, LATE, Figure("rtt_ms", "Round trip", "ms"),
                Figure("loss_pct", "Packet loss", "%", 5.0))  # fmt: skip
RTMP_FIGURES = (BITRATE, FPS, DROPPED, LATE)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _plural(count: int, what: str) -> str:
    return f"{count} {what}{'s' if count != 1 else ''}"


class History:
    """One row of figures over the last minute, a sample a second."""

    def __init__(self, history_s: int = HISTORY_S) -> None:
        self.samples: deque[dict[str, float | None]] = deque(maxlen=history_s)
        self._counters: dict[str, float] | None = None  # the previous sample's counters

    def clear(self) -> None:
        self.samples.clear()
        self._counters = None

    def per_second(self, stats: dict[str, Any], keys: tuple[str, ...]) -> dict[str, float]:
        """How much each counter of `stats` grew since the previous call (0 at the first)."""
        counters = {key: _number(stats.get(key)) or 0.0 for key in keys}
        before = {**counters, **(self._counters or {})}
        self._counters = counters
        # a counter going down is a new connection (packets) or a new show: start from there
        return {k: v - before[k] if v >= before[k] else v for k, v in counters.items()}

    def series(self, key: str) -> list[float | None]:
        return [s.get(key) for s in self.samples]

    def latest(self, key: str) -> float | None:
        return self.samples[-1].get(key) if self.samples else None

    def recent(self, key: str, seconds: int = RECENT_S) -> list[float]:
        values = [s.get(key) for s in list(self.samples)[-seconds:]]
        return [v for v in values if v is not None]


class OutputHealth(History):
    """An output's row: WHIP (`kind` "whip": with round trip and packet loss) or an RTMP
    destination ("rtmp"), with its state as the session last told it."""

    def __init__(self, name: str, kind: str, history_s: int = HISTORY_S) -> None:
        super().__init__(history_s)
        self.name = name
        self.kind = kind
        self.state = ""
        self.error: str | None = None

    @property
    def figures(self) -> tuple[Figure, ...]:
        return WHIP_FIGURES if self.kind == "whip" else RTMP_FIGURES

    def add(self, stats: dict[str, Any]) -> dict[str, float | None]:
        """Take the output's figures from `LiveSession.stats()["outputs"]`: rates as they are
        (`bitrate_kbps`, `fps`, `rtt_ms`), counters that grow (`bytes_sent`, `frames_sent`,
        `frames_dropped`, `frames_late`, `packets_sent`, `packets_lost`)."""
        self.state = str(stats.get("state", ""))
        self.error = stats.get("error") or None
        delta = self.per_second(stats, ("bytes_sent", "frames_sent", "frames_dropped",
                                        "frames_late", "packets_sent", "packets_lost"))  # fmt: skip
        live = self.state == "live"
        bitrate, fps = _number(stats.get("bitrate_kbps")), _number(stats.get("fps"))
        sent_and_lost = delta["packets_sent"] + delta["packets_lost"]
        sample: dict[str, float | None] = {
            "bitrate_kbps": (delta["bytes_sent"] * 8 / 1000 if bitrate is None else bitrate)
            if live
            else None,
            "fps": (delta["frames_sent"] if fps is None else fps) if live else None,
            "dropped": delta["frames_dropped"],
            "late": delta["frames_late"],
            "rtt_ms": _number(stats.get("rtt_ms")) if live else None,
            "loss_pct": 100 * delta["packets_lost"] / sent_and_lost if sent_and_lost else None,
            "lost": delta["packets_lost"],
            "sent": delta["packets_sent"],
        }
        self.samples.append(sample)
        return sample


class ShowHealth:
    def __init__(self, history_s: int = HISTORY_S) -> None:
        self.history_s = history_s
        self.encoder = History(history_s)
        self.outputs: dict[str, OutputHealth] = {}  # WHIP first, then the RTMP destinations
        self.dropped_total = 0
        self.repeated_total = 0  # a short stall filled with the picture again (not lost)
        self.late_total = 0

    def clear(self) -> None:
        self.encoder.clear()
        self.outputs = {}
        self.dropped_total = self.repeated_total = self.late_total = 0

    def add(self, stats: dict[str, Any]) -> dict[str, float | None]:
        """Take one second's `LiveSession.stats()`; return the encoder's sample it made."""
        delta = self.encoder.per_second(stats, ("frames_skipped", "frames_late"))
        self.dropped_total = int(_number(stats.get("frames_skipped")) or 0)
        self.late_total = int(_number(stats.get("frames_late")) or 0)
        self.repeated_total = int(_number(stats.get("frames_repeated")) or 0)
        encoded = [_number(stats.get(k)) for k in ("video_bitrate", "audio_bitrate")]
        sample: dict[str, float | None] = {
            "encoder_load_pct": _number(stats.get("encoder_load_pct")),
            "fps": _number(stats.get("fps")),
            "dropped": delta["frames_skipped"],
            "late": delta["frames_late"],
            "bitrate_kbps": sum(v or 0.0 for v in encoded) / 1000
            if any(v is not None for v in encoded)
            else None,
        }
        self.encoder.samples.append(sample)
        for name, figures in dict(stats.get("outputs") or {}).items():
            output = self.outputs.get(name)
            if output is None:
                kind = str(figures.get("kind", "rtmp"))
                output = self.outputs[name] = OutputHealth(name, kind, self.history_s)
            output.add(figures)
        return sample

    def series(self, key: str) -> list[float | None]:
        """The encoder's figure `key` over the last minute."""
        return self.encoder.series(key)

    def latest(self, key: str) -> float | None:
        return self.encoder.latest(key)

    def warnings(self, steps_down: bool = False) -> list[str]:
        """What is wrong now, each in a sentence an artist can act on; empty when all is well.
        `steps_down`: the artist lets the studio step down on its own (say so, not 'do it')."""
        out: list[str] = []
        dropped = int(sum(self.encoder.recent("dropped")))
        loads = self.encoder.recent("encoder_load_pct", LOAD_WINDOW_S)
        overloaded = len(loads) >= LOAD_WINDOW_S and min(loads) > LOAD_LIMIT_PCT
        if dropped or overloaded:
            what = (
                f"{_plural(dropped, 'frame')} dropped in the last {RECENT_S} s"
                if dropped
                else f"the encoder has been over {LOAD_LIMIT_PCT:.0f} % busy for {LOAD_WINDOW_S} s"
            )
            advice = (
                "The studio lowers the resolution if this goes on."
                if steps_down
                else "Lower the resolution or frame rate in Settings › Video (or turn on "
                "'Step down automatically' there), or close other programs."
            )
            out.append(
                f"Your computer cannot keep up with the video: {what}. Fans see a jerky "
                f"picture. {advice}"
            )
        for output in self.outputs.values():
            out += self._output_warnings(output, steps_down)
        return out

    def _output_warnings(self, output: OutputHealth, steps_down: bool) -> list[str]:
        out: list[str] = []
        if output.kind == "whip":
            lost, sent = sum(output.recent("lost")), sum(output.recent("sent"))
            if lost and 100 * lost / (lost + sent) >= LOSS_LIMIT_PCT:
                advice = (
                    "The studio lowers the bitrate if this goes on."
                    if steps_down
                    else "A wired connection or a lower bitrate in Settings › Video helps."
                )
                out.append(
                    f"The network is dropping packets: {100 * lost / (lost + sent):.1f} % lost "
                    f"in the last {RECENT_S} s. Fans may see the picture break up. {advice}"
                )
            rtt = output.latest("rtt_ms")
            if rtt is not None and rtt > RTT_LIMIT_MS:
                out.append(
                    f"The ingest is far away or the network is slow ({rtt:.0f} ms round "
                    "trip): fans hear and see you later than usual."
                )
        dropped = int(sum(output.recent("dropped")))
        if dropped:
            out.append(
                f"{output.name}: {_plural(dropped, 'frame')} dropped in the last {RECENT_S} s, "
                "its connection cannot carry the bitrate. Its viewers see the picture stall."
            )
        return out
