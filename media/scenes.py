"""Scenes: named, ordered stacks of sources, each placed on the program picture.

A `SceneSource` says what it shows (`kind` and `target`) and where: `rect` is its box as
fractions of the output frame (x, y, width, height), so a scene survives a change of
resolution; `crop` trims the source's own edges (left, top, right, bottom, as fractions of its
size); `opacity` from 0 to 1. A source keeps its aspect ratio inside its box unless `stretch`.
The first source of a scene is drawn first (the bottom of the stack).

Kinds: `video` (the show's main video, as the Go Live panel's Video picker chooses it),
`overlay` (the panel's Overlay camera), `camera` (a V4L2 device), `screen` (an X11 display; a
region of it is a crop), `image` (a picture file), `text`, `colour`, `alerts` (the on-stream
tip alerts, media.alert_overlay), `media` (a video file, looped).

Everything here is plain data with checks: a wrong value raises `SceneError` saying what is
wrong in words for the artist, and `scenes_from_data` reads what `scenes_to_data` wrote (the
settings TOML) back, refusing a damaged table as a whole rather than guessing.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

SOURCE_KINDS: dict[str, str] = {
    "video": "Main video",
    "overlay": "Overlay camera",
    "camera": "Camera",
    "screen": "Screen",
    "image": "Image",
    "text": "Text",
    "colour": "Colour",
    "alerts": "Tip alerts",
    "media": "Media file (looped)",
}
# Kinds whose pictures come from a running device or file (a feed), not drawn once.
FEED_KINDS = frozenset({"video", "overlay", "camera", "screen", "media"})
DEFAULT_CAMERA = "/dev/video0"
# Kinds whose target is required (a path, a text).
TARGET_REQUIRED = frozenset({"image", "text", "media"})
MAX_SCENES = 30
MAX_SOURCES = 20
MAX_NAME = 40
MAX_TEXT = 200
FADE_MS_MAX = 2000
TRANSITIONS = ("cut", "fade")


class SceneError(ValueError):
    """A scene or a source that cannot be used; str() says why, for the artist."""


def _fraction(value: Any, what: str, low: float = 0.0, high: float = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SceneError(f"{what} must be a number, not {value!r}.")
    number = float(value)
    if not low <= number <= high:
        raise SceneError(f"{what} must be between {low:g} and {high:g} (it is {number:g}).")
    return number


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SceneError(f"{what} needs a name.")
    name = value.strip()
    if len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise SceneError(f"{what} name must be one line of at most {MAX_NAME} characters.")
    return name


COLOUR_RE = re.compile(r"#[0-9a-fA-F]{6}")


def parse_colour(text: str) -> tuple[int, int, int]:
    """'#rrggbb' as (r, g, b); SceneError otherwise."""
    if not isinstance(text, str) or not COLOUR_RE.fullmatch(text.strip()):
        raise SceneError(f"'{text}' is not a colour: write it as #rrggbb (e.g. #ff0000 for red).")
    value = text.strip()
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


@dataclass(frozen=True)
class Rect:
    """A box as fractions of the output frame: its top-left corner and its size."""

    x: float = 0.0
    y: float = 0.0
    w: float = 1.0
    h: float = 1.0

    def __post_init__(self) -> None:
        for what, value in (("x", self.x), ("y", self.y)):
            _fraction(value, f"The position's {what}", -1.0, 1.0)
        _fraction(self.w, "The width", 0.01, 2.0)
        _fraction(self.h, "The height", 0.01, 2.0)

    def as_list(self) -> list[float]:
        return [self.x, self.y, self.w, self.h]


@dataclass(frozen=True)
class Crop:
    """What is cut off each edge of the source, as fractions of its size."""

    left: float = 0.0
    top: float = 0.0
    right: float = 0.0
    bottom: float = 0.0

    def __post_init__(self) -> None:
        for what, value in (("left", self.left), ("top", self.top), ("right", self.right),
                            ("bottom", self.bottom)):  # fmt: skip
            _fraction(value, f"The {what} crop", 0.0, 0.95)
        if self.left + self.right > 0.95 or self.top + self.bottom > 0.95:
            raise SceneError("The crop leaves nothing of the source: crop less.")

    @property
    def empty(self) -> bool:
        return not (self.left or self.top or self.right or self.bottom)

    def as_list(self) -> list[float]:
        return [self.left, self.top, self.right, self.bottom]


FULL = Rect()
NO_CROP = Crop()


@dataclass(frozen=True)
class SceneSource:
    kind: str
    name: str = ""  # what the artist reads in the list; the kind's label when empty
    target: str = ""  # camera: /dev/videoN; screen: :0; image/media: a path; text: the text
    colour: str = "#ffffff"  # the colour source's colour, the text's colour
    rect: Rect = FULL
    crop: Crop = NO_CROP
    opacity: float = 1.0
    stretch: bool = False
    visible: bool = True

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise SceneError(
                f"'{self.kind}' is not a kind of source: use {', '.join(SOURCE_KINDS)}."
            )
        object.__setattr__(self, "name", _name(self.name or SOURCE_KINDS[self.kind], "A source"))
        if not isinstance(self.target, str):
            raise SceneError(f"{self.name}: its target must be text.")
        if self.kind in TARGET_REQUIRED and not self.target.strip():
            what = "the text to show" if self.kind == "text" else "a file"
            raise SceneError(f"{self.name}: give it {what}.")
        if self.kind == "text" and (len(self.target) > MAX_TEXT or "\x00" in self.target):
            raise SceneError(f"{self.name}: at most {MAX_TEXT} characters of text.")
        parse_colour(self.colour)
        _fraction(self.opacity, f"{self.name}: the opacity")
        if not isinstance(self.rect, Rect) or not isinstance(self.crop, Crop):
            raise SceneError(f"{self.name}: its position and crop are not boxes.")

    @property
    def is_feed(self) -> bool:
        return self.kind in FEED_KINDS

    def feed_key(self) -> str:
        """Which running feed this source shows: the same device or file is opened once."""
        if self.kind in ("video", "overlay"):
            return self.kind
        if self.kind == "camera":
            return f"camera:{self.target.strip() or DEFAULT_CAMERA}"
        return f"{self.kind}:{self.target.strip()}"

    def to_data(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "name": self.name, "target": self.target, "colour": self.colour,
            "rect": self.rect.as_list(), "crop": self.crop.as_list(), "opacity": self.opacity,
            "stretch": self.stretch, "visible": self.visible,
        }  # fmt: skip

    @classmethod
    def from_data(cls, data: Any) -> "SceneSource":
        if not isinstance(data, Mapping):
            raise SceneError(f"A source must be a table, not {data!r}.")
        unknown = set(data) - {"kind", "name", "target", "colour", "rect", "crop", "opacity",
                               "stretch", "visible"}  # fmt: skip
        if unknown:
            raise SceneError(f"A source has settings nobody reads: {', '.join(sorted(unknown))}.")
        values = dict(data)
        for key, kind in (("rect", Rect), ("crop", Crop)):
            if key in values:
                box = values[key]
                if not isinstance(box, list | tuple) or len(box) != 4:
                    raise SceneError(f"A source's {key} must be 4 numbers.")
                values[key] = kind(*box)
        for key in ("stretch", "visible"):
            if key in values and not isinstance(values[key], bool):
                raise SceneError(f"A source's {key} must be true or false.")
        return cls(**values)


@dataclass(frozen=True)
class Scene:
    name: str
    sources: tuple[SceneSource, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", _name(self.name, "A scene"))
        object.__setattr__(self, "sources", tuple(self.sources))
        if len(self.sources) > MAX_SOURCES:
            raise SceneError(f"The scene '{self.name}' has more than {MAX_SOURCES} sources.")
        if not all(isinstance(s, SceneSource) for s in self.sources):
            raise SceneError(f"The scene '{self.name}' holds something that is not a source.")

    # editing: each returns a new scene (the old one may be on the air)

    def with_source(self, source: SceneSource) -> "Scene":
        return replace(self, sources=(*self.sources, source))

    def without_source(self, index: int) -> "Scene":
        self._check_index(index)
        return replace(self, sources=self.sources[:index] + self.sources[index + 1 :])

    def replacing(self, index: int, source: SceneSource) -> "Scene":
        self._check_index(index)
        return replace(self, sources=(*self.sources[:index], source, *self.sources[index + 1 :]))

    def moving(self, index: int, step: int) -> "Scene":
        """The source at `index` moved `step` places up the stack (negative: down)."""
        self._check_index(index)
        to = min(max(index + step, 0), len(self.sources) - 1)
        order = list(self.sources)
        order.insert(to, order.pop(index))
        return replace(self, sources=tuple(order))

    def _check_index(self, index: int) -> None:
        if not 0 <= index < len(self.sources):
            raise SceneError(f"The scene '{self.name}' has no source number {index + 1}.")

    def to_data(self) -> dict[str, Any]:
        return {"name": self.name, "sources": [s.to_data() for s in self.sources]}

    @classmethod
    def from_data(cls, data: Any) -> "Scene":
        if not isinstance(data, Mapping):
            raise SceneError(f"A scene must be a table, not {data!r}.")
        sources = data.get("sources", [])
        if not isinstance(sources, list):
            raise SceneError("A scene's sources must be a list.")
        name = data.get("name")
        try:
            return cls(name, tuple(SceneSource.from_data(s) for s in sources))
        except TypeError as exc:  # a table with a missing or misspelt key
            raise SceneError(f"The scene '{name}' is incomplete ({exc}).") from None
        except SceneError as exc:
            raise SceneError(f"In the scene '{name}': {exc}") from None


@dataclass(frozen=True)
class SceneSet:
    """Every scene, which one is on the air, and how a switch looks."""

    scenes: tuple[Scene, ...]
    active: str = ""
    transition: str = "fade"
    fade_ms: int = 300

    def __post_init__(self) -> None:
        object.__setattr__(self, "scenes", tuple(self.scenes))
        if not self.scenes:
            raise SceneError("Keep at least one scene.")
        if len(self.scenes) > MAX_SCENES:
            raise SceneError(f"At most {MAX_SCENES} scenes.")
        names = [s.name.casefold() for s in self.scenes]
        for name in names:
            if names.count(name) > 1:
                raise SceneError(f"Two scenes are called '{name}': give each its own name.")
        if not self.active or self.active not in self.names:
            object.__setattr__(self, "active", self.scenes[0].name)
        if self.transition not in TRANSITIONS:
            raise SceneError(f"A switch is a cut or a fade, not '{self.transition}'.")
        if (
            isinstance(self.fade_ms, bool)
            or not isinstance(self.fade_ms, int)
            or not (0 <= self.fade_ms <= FADE_MS_MAX)
        ):
            raise SceneError(f"A fade lasts 0 to {FADE_MS_MAX} ms.")

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.scenes]

    def scene(self, name: str) -> Scene:
        for scene in self.scenes:
            if scene.name == name:
                return scene
        raise SceneError(f"There is no scene called '{name}'.")

    def index(self, name: str) -> int:
        return self.names.index(self.scene(name).name)

    @property
    def current(self) -> Scene:
        return self.scene(self.active)

    def feed_keys(self) -> dict[str, SceneSource]:
        """One source per running feed every scene needs (so a switch needs no device)."""
        keys: dict[str, SceneSource] = {}
        for scene in self.scenes:
            for source in scene.sources:
                if source.is_feed:
                    keys.setdefault(source.feed_key(), source)
        return keys

    # editing: each returns a new set

    def activating(self, name: str) -> "SceneSet":
        return replace(self, active=self.scene(name).name)

    def adding(self, scene: Scene) -> "SceneSet":
        return replace(self, scenes=(*self.scenes, scene))

    def updating(self, name: str, scene: Scene) -> "SceneSet":
        index = self.index(name)
        active = scene.name if self.active == name else self.active
        scenes = (*self.scenes[:index], scene, *self.scenes[index + 1 :])
        return replace(self, scenes=scenes, active=active)

    def renaming(self, name: str, new_name: str) -> "SceneSet":
        return self.updating(name, replace(self.scene(name), name=new_name))

    def removing(self, name: str) -> "SceneSet":
        index = self.index(name)
        if len(self.scenes) == 1:
            raise SceneError("Keep at least one scene.")
        scenes = self.scenes[:index] + self.scenes[index + 1 :]
        active = self.active if self.active != name else scenes[max(0, index - 1)].name
        return replace(self, scenes=scenes, active=active)

    def unused_name(self, base: str = "Scene") -> str:
        taken = {n.casefold() for n in self.names}
        number = len(self.scenes) + 1
        while f"{base} {number}".casefold() in taken:
            number += 1
        return f"{base} {number}"

    def to_data(self) -> dict[str, Any]:
        return {
            "active": self.active, "transition": self.transition, "fade_ms": self.fade_ms,
            "list": [s.to_data() for s in self.scenes],
        }  # fmt: skip

    @classmethod
    def from_data(cls, data: Any) -> "SceneSet":
        if not isinstance(data, Mapping):
            raise SceneError("The scenes must be a table.")
        listed = data.get("list")
        if not isinstance(listed, list):
            raise SceneError("The scenes table has no list of scenes.")
        return cls(
            tuple(Scene.from_data(s) for s in listed),
            active=str(data.get("active", "")),
            transition=data.get("transition", "fade"),
            fade_ms=data.get("fade_ms", 300),
        )


# --- the three layouts the studio had before scenes ------------------------------------------


class Layout(Enum):
    MAIN = "main"  # the main source alone (e.g. the screen)
    OVERLAY = "overlay"  # the overlay source alone, full frame (e.g. the camera)
    PIP = "pip"  # overlay as a small picture over the main one


PIP_SCALE = 0.28
PIP_MARGIN = 0.03  # of the frame's width, on both edges


def pip_rect(aspect: float = 16 / 9) -> Rect:
    """The picture-in-picture box, bottom right, for a frame of `aspect` (width / height)."""
    return Rect(
        1 - PIP_SCALE - PIP_MARGIN, 1 - PIP_SCALE - PIP_MARGIN * aspect, PIP_SCALE, PIP_SCALE
    )


LAYOUT_NAMES = {
    Layout.PIP: "Camera over screen",
    Layout.MAIN: "Main only",
    Layout.OVERLAY: "Overlay only",
}


def layout_scene(
    layout: Layout, aspect: float = 16 / 9, alerts: bool = True, name: str | None = None
) -> Scene:
    """The scene that draws what `layout` drew: main video, overlay camera, tip alerts on top."""
    main = SceneSource("video")
    overlay_full = SceneSource("overlay")
    overlay_small = SceneSource("overlay", rect=pip_rect(aspect))
    stack = {
        Layout.PIP: (main, overlay_small),
        Layout.MAIN: (main,),
        Layout.OVERLAY: (overlay_full,),
    }[layout]
    if alerts:
        stack = (*stack, SceneSource("alerts"))
    return Scene(name or LAYOUT_NAMES[layout], stack)


def default_scenes(
    active: Layout = Layout.PIP, aspect: float = 16 / 9, layouts: Iterable[Layout] = tuple(Layout)
) -> SceneSet:
    """The layouts as scenes: what an artist had before scenes existed, nothing lost."""
    order: Sequence[Layout] = sorted(layouts, key=lambda lay: list(LAYOUT_NAMES).index(lay))
    return SceneSet(tuple(layout_scene(lay, aspect) for lay in order), active=LAYOUT_NAMES[active])
