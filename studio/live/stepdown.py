"""Automatic step-down: when the encoder stays too busy or the network keeps losing packets,
lower the picture's resolution (1080p -> 720p -> 540p -> 360p) or its bitrate, one step at a
time, and say why.

Pure logic: `StepDownPolicy.observe` takes one second's figures (the encoder's load, the
WHIP packets sent and lost in that second) and answers with the step to take, if one is due.
The session applies it to the one encode (media.pipeline.LivePipeline.change_video) only
when the artist has consented in Settings (`video.auto_step_down`); otherwise the Stats dock
only warns. There is no automatic step back up: the artist starts the next show at the
resolution of the settings again.
"""

from collections import deque
from dataclasses import dataclass, field

LADDER = (1080, 720, 540, 360)  # picture heights, best first
LOAD_LIMIT_PCT = 90.0  # encoder load above this...
OVERLOAD_S = 10  # ...for this many seconds in a row: a smaller picture
LOSS_LIMIT_PCT = 2.0  # packets lost over the last LOSS_WINDOW_S above this...
LOSS_WINDOW_S = 10
LOSSY_SECONDS = 5  # ...with loss in at least this many of those seconds: a lower bitrate
HOLD_S = 10  # after a step: seconds the figures need to show its effect before the next
BITRATE_FACTOR = 0.75
MIN_BITRATE = 300_000


@dataclass(frozen=True)
class Quality:
    """The picture as encoded: its size and video bitrate (bit/s)."""

    width: int
    height: int
    bitrate: int

    @property
    def size(self) -> str:
        return f"{self.width}×{self.height}"

    @property
    def kbps(self) -> str:
        return f"{self.bitrate // 1000:,} kbit/s"


@dataclass(frozen=True)
class StepDown:
    """One step: from `before` to `after`, because of `reason` ("encoder" or "network")."""

    before: Quality
    after: Quality
    reason: str

    @property
    def message(self) -> str:
        if self.reason == "encoder":
            why = (
                f"the encoder was over {LOAD_LIMIT_PCT:.0f} % busy for {OVERLOAD_S} s, so the "
                f"picture is now {self.after.size} (was {self.before.size})"
            )
        else:
            why = (
                "the network kept losing packets, so the video bitrate is now "
                f"{self.after.kbps} (was {self.before.kbps})"
            )
        return f"Stepped down automatically: {why}. The show and the recording go on."


def next_height(height: int) -> int | None:
    """The first rung of the ladder below `height`; None at the bottom."""
    return next((rung for rung in LADDER if rung < height), None)


def smaller(quality: Quality, height: int) -> Quality:
    """`quality` at `height`, the width keeping its aspect ratio (both even, as encoders need)."""
    width = max(2, round(quality.width * height / quality.height / 2) * 2)
    return Quality(width, height, quality.bitrate)


@dataclass
class StepDownPolicy:
    """Decides, second by second, when the show should step down and to what.

    Feed it every second with `observe`; apply what it returns (it assumes the step is taken
    and judges from there: a refused step is not proposed again, the dock's warnings stay).
    """

    start: Quality
    overload_s: int = OVERLOAD_S
    loss_window_s: int = LOSS_WINDOW_S
    lossy_seconds: int = LOSSY_SECONDS
    hold_s: int = HOLD_S
    min_bitrate: int = MIN_BITRATE
    current: Quality = field(init=False)
    steps: list[StepDown] = field(init=False, default_factory=list)
    _busy_for: int = field(init=False, default=0)
    _holding: int = field(init=False, default=0)
    _network: deque[tuple[float, float]] = field(init=False)

    def __post_init__(self) -> None:
        self.current = self.start
        self._network = deque(maxlen=self.loss_window_s)

    def observe(
        self, load_pct: float | None, lost: float = 0.0, sent: float = 0.0
    ) -> StepDown | None:
        """One second: the encoder's load (None: not known) and the packets lost and sent
        in it. Returns the step to take now, or None."""
        if self._holding > 0:
            self._holding -= 1
            return None
        self._busy_for = self._busy_for + 1 if (load_pct or 0.0) > LOAD_LIMIT_PCT else 0
        self._network.append((max(lost, 0.0), max(sent, 0.0)))
        if self._busy_for >= self.overload_s:
            height = next_height(self.current.height)
            if height is not None:
                return self._step(smaller(self.current, height), "encoder")
        if self._losing_packets():
            bitrate = max(self.min_bitrate, int(self.current.bitrate * BITRATE_FACTOR))
            if bitrate < self.current.bitrate:
                after = Quality(self.current.width, self.current.height, bitrate)
                return self._step(after, "network")
        return None

    def _losing_packets(self) -> bool:
        if len(self._network) < self.loss_window_s:
            return False
        lost = sum(lost for lost, _ in self._network)
        sent = sum(sent for _, sent in self._network)
        lossy = sum(1 for lost, _ in self._network if lost > 0)
        return lossy >= self.lossy_seconds and 100 * lost / (lost + sent) > LOSS_LIMIT_PCT

    def _step(self, after: Quality, reason: str) -> StepDown:
        step = StepDown(self.current, after, reason)
        self.current = after
        self.steps.append(step)
        # Judge the new picture on its own figures: what came before the step says nothing.
        self._busy_for = 0
        self._network.clear()
        self._holding = self.hold_s
        return step
