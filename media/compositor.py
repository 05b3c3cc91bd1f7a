"""The scene compositor: draws the active scene's stack of sources into the one picture the
pipeline encodes (yuv420p, numpy, no RGB round trip for the live sources).

Static sources (image, text, colour) are rendered once per scene edit into yuv420p patches with
their alpha; the bottom run of static sources is kept composed, so a frame costs one copy of it
plus the live sources on top. A scene of one full-frame live source at the output size costs
nothing beyond what the old single-source path cost (its frame goes through as it is).

`switch(name)` may be called from any thread: the next frame shows the new scene (a cut), or
fades into it over the scene set's `fade_ms` (each frame of a fade composes both scenes and
mixes them). `compose(frames)` runs on the video clock with the latest frame of each feed,
keyed as `SceneSource.feed_key()` names them.
"""

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import av
import numpy as np
from PIL import Image, ImageDraw, UnidentifiedImageError

from media.alert_overlay import AlertOverlay, font, rgba_to_yuv420p
from media.scenes import Scene, SceneSet, SceneSource, parse_colour

log = logging.getLogger(__name__)

BLACK_YUV = (16, 128, 128)
ErrorListener = Callable[[str, str], None]


def even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def even_offset(value: float) -> int:
    return int(value) // 2 * 2  # may be negative: a source partly off the frame


def fit(width: int, height: int, box_w: int, box_h: int) -> tuple[int, int]:
    """The largest even size with width:height's aspect that fits in the box."""
    scale = min(box_w / width, box_h / height)
    return min(box_w, even(width * scale)), min(box_h, even(height * scale))


@dataclass
class Patch:
    """A yuv420p picture to draw at (x, y) on the canvas; alpha in 0..256 (None: opaque)."""

    x: int
    y: int
    luma: np.ndarray
    u: np.ndarray
    v: np.ndarray
    alpha: np.ndarray | None = None  # uint16, full size
    alpha_half: np.ndarray | None = None  # uint16, chroma size
    opacity: int = 256  # for a patch without alpha


def _region(x: int, y: int, w: int, h: int, width: int, height: int) -> tuple[slice, ...] | None:
    """(canvas rows, canvas cols, patch rows, patch cols) of the visible part; None if none."""
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
    if x1 <= x0 or y1 <= y0:
        return None
    return slice(y0, y1), slice(x0, x1), slice(y0 - y, y1 - y), slice(x0 - x, x1 - x)


def _mix(dst: np.ndarray, src: np.ndarray, alpha: np.ndarray | int) -> None:
    """dst = src * alpha + dst * (1 - alpha), alpha in 0..256, in place (integer maths)."""
    if isinstance(alpha, int) and alpha >= 256:
        dst[...] = src
        return
    keep = 256 - alpha
    dst[...] = ((src.astype(np.uint16) * alpha + dst.astype(np.uint16) * keep) >> 8).astype(
        np.uint8
    )


class Canvas:
    """One contiguous yuv420p array ((h * 3 / 2, w)) and views of its three planes."""

    def __init__(self, width: int, height: int, data: np.ndarray | None = None) -> None:
        self.width, self.height = width, height
        fill = data is None
        if data is None:
            data = np.empty((height * 3 // 2, width), np.uint8)
        self.data = data
        self.luma = data[:height]
        # the chroma planes as flat runs: with an odd height / 2 they do not start on a row
        flat, size, quarter = data.reshape(-1), height * width, (height // 2) * (width // 2)
        self.u = flat[size : size + quarter].reshape(height // 2, width // 2)
        self.v = flat[size + quarter : size + 2 * quarter].reshape(height // 2, width // 2)
        if fill:
            self.luma[...], self.u[...], self.v[...] = BLACK_YUV

    def copy(self) -> "Canvas":
        return Canvas(self.width, self.height, self.data.copy())

    def draw(self, patch: Patch) -> None:
        h, w = patch.luma.shape
        full = _region(patch.x, patch.y, w, h, self.width, self.height)
        if full is None:
            return
        rows, cols, prow, pcol = full
        alpha = patch.alpha[prow, pcol] if patch.alpha is not None else patch.opacity
        _mix(self.luma[rows, cols], patch.luma[prow, pcol], alpha)
        half_size = (w // 2, h // 2, self.width // 2, self.height // 2)
        half = _region(patch.x // 2, patch.y // 2, *half_size)
        if half is None:
            return
        rows, cols, prow, pcol = half
        alpha = patch.alpha_half[prow, pcol] if patch.alpha_half is not None else patch.opacity
        _mix(self.u[rows, cols], patch.u[prow, pcol], alpha)
        _mix(self.v[rows, cols], patch.v[prow, pcol], alpha)

    def frame(self) -> av.VideoFrame:
        return av.VideoFrame.from_ndarray(self.data, format="yuv420p")


def placement(
    source: SceneSource, src_w: int, src_h: int, width: int, height: int
) -> tuple[int, int, int, int]:
    """Where a (cropped) picture of src_w x src_h goes on a width x height frame: x, y, w, h,
    even; kept to its aspect ratio and centred in its box unless it is stretched."""
    rect = source.rect
    bx, by = rect.x * width, rect.y * height
    bw, bh = even(rect.w * width), even(rect.h * height)
    w, h = (bw, bh) if source.stretch else fit(src_w, src_h, bw, bh)
    return even_offset(bx + (bw - w) / 2), even_offset(by + (bh - h) / 2), w, h


def frame_patch(source: SceneSource, frame: av.VideoFrame, width: int, height: int) -> Patch:
    """A live frame cropped and scaled into its place (one swscale pass)."""
    crop = source.crop
    keep_w, keep_h = 1 - crop.left - crop.right, 1 - crop.top - crop.bottom
    x, y, w, h = placement(
        source, max(1, round(frame.width * keep_w)), max(1, round(frame.height * keep_h)),
        width, height,
    )  # fmt: skip
    if crop.empty:
        scaled = frame.reformat(width=w, height=h, format="yuv420p").to_ndarray()
        luma, chroma = scaled[:h], scaled[h:].reshape(2, h // 2, w // 2)
    else:  # scale the whole picture so that the kept part comes out w x h, then cut it out
        full_w, full_h = even(w / keep_w), even(h / keep_h)
        scaled = frame.reformat(width=full_w, height=full_h, format="yuv420p").to_ndarray()
        left = min(even_offset(crop.left * full_w), full_w - w)
        top = min(even_offset(crop.top * full_h), full_h - h)
        luma = scaled[:full_h][top : top + h, left : left + w]
        chroma = scaled[full_h:].reshape(2, full_h // 2, full_w // 2)
        chroma = chroma[:, top // 2 : (top + h) // 2, left // 2 : (left + w) // 2]
    return Patch(x, y, luma, chroma[0], chroma[1], opacity=round(source.opacity * 256))


def _rgba_patch(source: SceneSource, rgba: np.ndarray, x: int, y: int) -> Patch:
    """An RGBA picture (even size) as a yuv420p patch, its alpha times the source's opacity."""
    luma, u, v, alpha, alpha_half = rgba_to_yuv420p(rgba)

    def scaled(a: np.ndarray) -> np.ndarray | None:
        a = a * source.opacity
        return None if a.min() >= 1.0 else np.rint(a * 256).astype(np.uint16)

    def plane(p: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(p), 0, 255).astype(np.uint8)

    a_full, a_half = scaled(alpha), scaled(alpha_half)
    opaque = a_full is None
    return Patch(
        x, y, plane(luma), plane(u), plane(v),
        alpha=a_full, alpha_half=None if opaque else a_half,
    )  # fmt: skip


def _load_image(source: SceneSource) -> Image.Image:
    try:
        with Image.open(source.target) as image:
            picture = image.convert("RGBA")
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise ValueError(f"The image '{source.name}' cannot be shown ({exc}).") from None
    crop = source.crop
    if not crop.empty:
        w, h = picture.size
        picture = picture.crop((round(crop.left * w), round(crop.top * h),
                                max(1, round((1 - crop.right) * w)),
                                max(1, round((1 - crop.bottom) * h))))  # fmt: skip
    return picture


def _text_image(source: SceneSource, box_h: int) -> Image.Image:
    lines = source.target.splitlines() or [""]
    size = max(8, int(box_h / max(1, len(lines)) * 0.75))
    face = font(size, bold=True)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    width = max(1, int(max(probe.textlength(line, font=face) for line in lines)) + 4)
    height = max(1, int(size * 1.25) * len(lines))
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.multiline_text((2, 0), source.target, font=face, fill=(*parse_colour(source.colour), 255))
    return image


def static_patch(source: SceneSource, width: int, height: int) -> Patch:
    """An image, a text or a colour rendered once into its place. ValueError: cannot."""
    if source.kind == "colour":
        x, y = even_offset(source.rect.x * width), even_offset(source.rect.y * height)
        w, h = even(source.rect.w * width), even(source.rect.h * height)
        rgba = np.empty((h, w, 4), np.uint8)
        rgba[..., :3] = parse_colour(source.colour)
        rgba[..., 3] = 255
        return _rgba_patch(source, rgba, x, y)
    if source.kind == "image":
        picture = _load_image(source)
    elif source.kind == "text":
        picture = _text_image(source, even(source.rect.h * height))
    else:
        raise ValueError(f"{source.kind} is not drawn once")
    x, y, w, h = placement(source, picture.width, picture.height, width, height)
    resized = picture.resize((w, h), Image.Resampling.LANCZOS)
    return _rgba_patch(source, np.asarray(resized, dtype=np.uint8), x, y)


def _covers(patch: Patch, width: int, height: int) -> bool:
    """Whether an opaque patch hides the whole frame."""
    h, w = patch.luma.shape
    opaque = patch.alpha is None and patch.opacity >= 256
    return (
        opaque and patch.x <= 0 and patch.y <= 0 and patch.x + w >= width and patch.y + h >= height
    )


@dataclass
class _Prepared:
    """A scene ready to draw: its bottom run of static sources composed, then the rest."""

    base: Canvas
    layers: list[tuple[SceneSource, Patch | None]]  # live sources (None) and static ones above
    single_feed: SceneSource | None  # the scene is this one full-frame live source alone


class SceneCompositor:
    def __init__(
        self,
        width: int,
        height: int,
        scenes: SceneSet,
        alerts: AlertOverlay | None = None,
        on_error: ErrorListener | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.width, self.height = width, height
        self.alerts = alerts
        self._on_error = on_error
        self._clock = clock
        self._lock = threading.Lock()
        self._scenes = scenes
        self._active = scenes.active
        self._previous: str | None = None  # fading out of it
        self._fade_started = 0.0
        self._fade_s = 0.0
        # Scenes ready to draw, by value: a switch or an edit of one scene renders nothing again
        self._cache: dict[Scene, _Prepared] = {}
        self._prepared: dict[str, _Prepared] = {}  # the current scenes', by name
        self._prepared_for: tuple[Scene, ...] | None = None
        self._reported: set[str] = set()
        self.switches = 0

    # --- control (any thread) --------------------------------------------------------------

    @property
    def scenes(self) -> SceneSet:
        return self._scenes

    @property
    def active(self) -> str:
        return self._active

    def set_scenes(self, scenes: SceneSet) -> None:
        """Take up edited scenes (the next frame shows them); a new active scene is a cut."""
        with self._lock:
            self._scenes = scenes
            if scenes.active != self._active or self._active not in scenes.names:
                self._cut_to(scenes.active)
            if self._previous not in scenes.names:
                self._previous = None

    def switch(self, name: str, transition: str | None = None, fade_ms: int | None = None) -> None:
        """Put the scene `name` on the air: a cut, or a fade (default: the scene set's)."""
        with self._lock:
            scenes = self._scenes
            scene = scenes.scene(name)  # SceneError when there is no such scene
            self._scenes = scenes.activating(scene.name)
            if scene.name == self._active:
                return
            how = transition or scenes.transition
            fade_s = (scenes.fade_ms if fade_ms is None else fade_ms) / 1000
            if how == "fade" and fade_s > 0:
                self._previous, self._active = self._active, scene.name
                self._fade_started, self._fade_s = self._clock(), fade_s
            else:
                self._cut_to(scene.name)
            self.switches += 1

    def _cut_to(self, name: str) -> None:
        self._previous, self._active = None, name

    # --- the video clock -------------------------------------------------------------------

    def compose(self, frames: Mapping[str, av.VideoFrame | None]) -> av.VideoFrame:
        """The program picture from the latest frame of each feed (missing: not drawn)."""
        with self._lock:
            scenes, active, previous = self._scenes, self._active, self._previous
            mix = 1.0
            if previous is not None:
                mix = (self._clock() - self._fade_started) / self._fade_s
                if mix >= 1.0:
                    self._previous = previous = None
        if self._prepared_for is not scenes.scenes:
            self._prepare(scenes)
        out = self._draw(self._prepared[active], frames)
        if previous is not None and previous in self._prepared:
            before = self._draw(self._prepared[previous], frames)
            canvas = Canvas(self.width, self.height, before.to_ndarray())
            _mix(canvas.data, out.to_ndarray(), max(0, min(256, round(mix * 256))))
            out = canvas.frame()
        return out

    def _prepare(self, scenes: SceneSet) -> None:
        """Every scene ready (a switch then renders nothing): the unchanged ones from before."""
        cache = {s: self._cache.get(s) or self._prepare_scene(s) for s in scenes.scenes}
        self._cache = cache
        self._prepared = {s.name: cache[s] for s in scenes.scenes}
        self._prepared_for = scenes.scenes

    def _prepare_scene(self, scene: Scene) -> _Prepared:
        base = Canvas(self.width, self.height)
        layers: list[tuple[SceneSource, Patch | None]] = []
        for source in scene.sources:
            if not source.visible:
                continue
            patch = None
            if source.kind in ("image", "text", "colour"):
                try:
                    patch = static_patch(source, self.width, self.height)
                except ValueError as exc:
                    self._report(source, str(exc))
                    continue
                if _covers(patch, self.width, self.height):  # hides all below it
                    base, layers = Canvas(self.width, self.height), []
                if not layers:  # still in the bottom run: into the base once and for all
                    base.draw(patch)
                    continue
            layers.append((source, patch))
        feeds = [s for s, _p in layers if s.is_feed]
        single = None
        if len(feeds) == 1 and all(s.kind in ("alerts",) or s.is_feed for s, _p in layers):
            feed = feeds[0]
            whole = feed.rect.as_list() == [0.0, 0.0, 1.0, 1.0]
            bottom = not np.any(base.luma != BLACK_YUV[0]) and layers[0][0] is feed
            if whole and feed.crop.empty and feed.opacity == 1.0 and bottom:
                single = feed
        return _Prepared(base, layers, single)

    def _report(self, source: SceneSource, message: str) -> None:
        if message in self._reported:
            return
        self._reported.add(message)
        log.warning("scene source not shown: %s", message)
        if self._on_error is not None:
            self._on_error(source.name, message)

    def _draw(
        self, prepared: _Prepared, frames: Mapping[str, av.VideoFrame | None]
    ) -> av.VideoFrame:
        alerts_on = self.alerts is not None and self.alerts.active
        single = prepared.single_feed
        if single is not None and not (alerts_on and len(prepared.layers) > 1):
            frame = frames.get(single.feed_key())
            if frame is not None and (frame.width, frame.height) == (self.width, self.height):
                return frame.reformat(format="yuv420p")  # nothing to compose
        if not prepared.layers:
            return prepared.base.frame()  # (the frame is a copy: the base stays as it is)
        canvas = prepared.base.copy()
        for source, patch in prepared.layers:
            if patch is not None:
                canvas.draw(patch)
            elif source.kind == "alerts":
                if alerts_on:
                    self._draw_alerts(canvas, source)
            else:
                frame = frames.get(source.feed_key())
                if frame is not None:
                    canvas.draw(frame_patch(source, frame, self.width, self.height))
        return canvas.frame()

    def _draw_alerts(self, canvas: Canvas, source: SceneSource) -> None:
        assert self.alerts is not None
        rect = source.rect
        x0, y0 = max(0, even_offset(rect.x * self.width)), max(0, even_offset(rect.y * self.height))
        x1 = min(self.width, even_offset((rect.x + rect.w) * self.width))
        y1 = min(self.height, even_offset((rect.y + rect.h) * self.height))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        self.alerts.blend_planes(
            canvas.luma[y0:y1, x0:x1],
            canvas.u[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2],
            canvas.v[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2],
            source.opacity,
        )
