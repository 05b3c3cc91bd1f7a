"""On-stream alerts: a box with a title and a message drawn into the live picture for a few
seconds, like the alert boxes streamers use.

`show(title, body, duration_s)` may be called from any thread; alerts queue and play one after
another, each for its own duration (the alert queue's, when it drives the box); `clear()` ends
the box on screen and drops the waiting ones (the queue's Skip).
The video thread calls `apply(frame)` (av.VideoFrame, yuv420p) or `blend_yuv420p(array)` on
every picture: when an alert is on, its box is alpha-blended in (fading in and out); when
none is, the frame is returned untouched.

Text is drawn with Pillow as plain glyphs: markup in a tip message stays literal text. The
box is rendered once per alert (RGBA, then converted to BT.601 limited-range YUV, the range
libav's yuv420p uses), so each frame costs one small blend.
"""

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
FADE_S = 0.3
MAX_BODY_LINES = 3
MAX_QUEUE = 20
BACKGROUND = (24, 20, 32, 225)
ACCENT = (224, 69, 123, 255)
TITLE_COLOUR = (255, 255, 255, 255)
BODY_COLOUR = (225, 220, 235, 255)


def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in FONT_DIRS:
        if (folder / name).exists():
            return ImageFont.truetype(str(folder / name), size)
    return ImageFont.load_default(size=size)


def _wrap(
    text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int, max_lines: int
) -> list[str]:
    """Greedy word wrap by measured width; long words are cut; the last line gets an ellipsis."""
    draw = ImageDraw.Draw(Image.new("L", (1, 1)))
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if draw.textlength(candidate, font=font) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            while draw.textlength(word, font=font) > width and len(word) > 1:
                cut = len(word)
                while cut > 1 and draw.textlength(word[:cut], font=font) > width:
                    cut = max(1, cut * 3 // 4)
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
        if len(lines) > max_lines:
            break
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and draw.textlength(last + "…", font=font) > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + "…"
    return [line for line in lines if line] or [""]


def render_box(title: str, body: str, frame_width: int) -> np.ndarray:
    """The alert box as an RGBA array sized for a frame `frame_width` wide (even sizes)."""
    width = max(160, int(frame_width * 0.42)) // 2 * 2
    scale = max(0.5, frame_width / 1280)
    pad = int(16 * scale)
    title_font = font(max(10, int(26 * scale)), bold=True)
    body_font = font(max(9, int(20 * scale)))
    inner = width - 2 * pad - int(6 * scale)
    title_lines = _wrap(title, title_font, inner, 2)
    body_lines = _wrap(body, body_font, inner, MAX_BODY_LINES) if body else []
    title_h = int(title_font.size * 1.25) if hasattr(title_font, "size") else 14
    body_h = int(body_font.size * 1.3) if hasattr(body_font, "size") else 12
    height = pad * 2 + title_h * len(title_lines) + body_h * len(body_lines)
    height = (height + 1) // 2 * 2
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, width - 1, height - 1), radius=int(12 * scale), fill=BACKGROUND)
    draw.rectangle((0, int(8 * scale), int(6 * scale), height - int(8 * scale)), fill=ACCENT)
    x, y = pad + int(6 * scale), pad
    for line in title_lines:
        draw.text((x, y), line, font=title_font, fill=TITLE_COLOUR)
        y += title_h
    for line in body_lines:
        draw.text((x, y), line, font=body_font, fill=BODY_COLOUR)
        y += body_h
    return np.asarray(image, dtype=np.uint8)


def rgba_to_yuv420p(
    rgba: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(Y, U, V, alpha, half-size alpha), BT.601 limited range; U and V at half size."""
    rgb = rgba[..., :3].astype(np.float32)
    alpha = rgba[..., 3].astype(np.float32) / 255.0
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b
    h, w = alpha.shape

    def half(plane: np.ndarray) -> np.ndarray:
        return plane.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    alpha_half = half(alpha)
    # chroma averaged by coverage, so transparent pixels do not tint the edges
    weight = np.maximum(alpha_half, 1e-6)
    return y, half(u * alpha) / weight, half(v * alpha) / weight, alpha, alpha_half


@dataclass
class _Box:
    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    alpha: np.ndarray  # full-size alpha
    alpha_half: np.ndarray
    started: float
    duration_s: float


class AlertOverlay:
    def __init__(
        self,
        duration_s: float = 6.0,
        margin: float = 0.04,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.duration_s = duration_s
        self.margin = margin
        self.clock = clock
        self._queue: deque[tuple[str, str, float]] = deque(maxlen=MAX_QUEUE)
        self._lock = threading.Lock()
        self._current: _Box | None = None
        self._width: int | None = None
        self.shown = 0

    def show(self, title: str, body: str = "", duration_s: float | None = None) -> None:
        """Queue an alert (plain text) for `duration_s` (default: the overlay's). Thread-safe."""
        with self._lock:
            self._queue.append((title, body, duration_s or self.duration_s))

    def clear(self) -> None:
        """End the alert on screen now and drop the waiting ones. Thread-safe."""
        with self._lock:
            self._current = None
            self._queue.clear()

    @property
    def active(self) -> bool:
        with self._lock:
            return self._current is not None or bool(self._queue)

    def _box_for(self, width: int, now: float) -> tuple[_Box, float] | None:
        """The box on screen now and its opacity (0..1), starting the next alert when due."""
        with self._lock:
            current = self._current
            if current is not None and now - current.started >= current.duration_s:
                self._current = None
            if self._current is None and self._queue:
                title, body, duration_s = self._queue.popleft()
                planes = rgba_to_yuv420p(render_box(title, body, width))
                self._current = _Box(*planes, now, duration_s)
                self.shown += 1
                # the same shape as studio.logs.event (media does not import studio)
                log.info(
                    "overlay_shown",
                    extra={"event": "overlay_shown", "title": title, "shown_at": time.time()},
                )
            box = self._current
        if box is None:
            return None
        age = now - box.started
        opacity = min(1.0, age / FADE_S, (box.duration_s - age) / FADE_S)
        return box, max(0.0, opacity)

    def blend_yuv420p(self, array: np.ndarray, width: int, height: int) -> bool:
        """Blend the current alert into a yuv420p array ((h*3/2, w), uint8) in place."""
        chroma = array[height:].reshape(2, height // 2, width // 2)
        return self.blend_planes(array[:height], chroma[0], chroma[1])

    def blend_planes(
        self, y_plane: np.ndarray, u_plane: np.ndarray, v_plane: np.ndarray, opacity: float = 1.0
    ) -> bool:
        """Blend the current alert, centred near the top, into yuv420p planes (views of a
        frame or of a box in it: a scene places the alerts) in place."""
        height, width = y_plane.shape
        found = self._box_for(width, self.clock())
        if found is None:
            return False
        box, fade = found
        opacity *= fade
        bh, bw = box.y.shape
        if bw > width or bh > height or opacity <= 0:
            return False
        x = ((width - bw) // 2) // 2 * 2
        top = max(0, int(height * self.margin)) // 2 * 2
        if top + bh > height:
            top = (height - bh) // 2 * 2
        a = box.alpha * opacity
        region = y_plane[top : top + bh, x : x + bw].astype(np.float32)
        y_plane[top : top + bh, x : x + bw] = (
            (region * (1 - a) + box.y * a).round().astype(np.uint8)
        )
        ah = box.alpha_half * opacity
        cy, cx, ch, cw = top // 2, x // 2, bh // 2, bw // 2
        for plane, values in ((u_plane, box.u), (v_plane, box.v)):
            region = plane[cy : cy + ch, cx : cx + cw].astype(np.float32)
            plane[cy : cy + ch, cx : cx + cw] = (
                (region * (1 - ah) + values * ah).round().astype(np.uint8)
            )
        return True

    def apply(self, frame: av.VideoFrame) -> av.VideoFrame:
        """The frame with the alert drawn in (a new yuv420p frame), or the frame unchanged."""
        if not self.active:
            return frame
        width, height = frame.width, frame.height
        array = frame.reformat(format="yuv420p").to_ndarray()
        if not self.blend_yuv420p(array, width, height):
            return frame
        out = av.VideoFrame.from_ndarray(array, format="yuv420p")
        out.pts = frame.pts
        if frame.time_base is not None:
            out.time_base = frame.time_base
        return out
