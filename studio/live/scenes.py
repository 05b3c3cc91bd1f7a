"""Scenes in the settings, and the devices and files their sources open.

The scenes live in the settings TOML under `[scenes]` (media.scenes.SceneSet.to_data): every
scene with its stack of sources, the active one and how a switch looks. A settings file
written before scenes has no such table: the three layouts the studio had (camera over
screen, main only, overlay only) become its scenes, so an artist finds what they had. A
table that cannot be read (edited by hand) is kept aside under `scenes_unreadable`, never
overwritten, and the studio says so and runs on the default scenes.
"""

import logging
from collections.abc import Callable

from media.errors import MediaError
from media.scenes import (  # the model, for the panel (widgets reach media through studio)
    DEFAULT_CAMERA,
    FULL,
    SOURCE_KINDS,
    Crop,
    Rect,
    Scene,
    SceneError,
    SceneSet,
    SceneSource,
    default_scenes,
)
from media.sources import CameraSource, MediaFileSource, ScreenSource, VideoSource
from studio.live.options import LiveOptions
from studio.settings import Settings

log = logging.getLogger(__name__)

__all__ = [
    "FULL", "SOURCE_KINDS", "Crop", "Rect", "Scene", "SceneError", "SceneSet", "SceneSource",
    "default_scenes", "draws_something", "load_scenes", "open_scene_sources", "save_scenes",
    "scene_summary",
]  # fmt: skip

SECTION = "scenes"
UNREADABLE = "scenes_unreadable"


def load_scenes(settings: Settings | None) -> tuple[SceneSet, str | None]:
    """The saved scenes (or the layouts as scenes) and what was wrong with the saved ones."""
    if settings is None:
        return default_scenes(), None
    data = settings.get(SECTION)
    if data is None:
        return default_scenes(), None
    try:
        return SceneSet.from_data(data), None
    except SceneError as exc:
        settings.set(UNREADABLE, data)  # kept as written, for the artist to mend
        settings.set(SECTION, None)
        problem = (
            f"Your saved scenes could not be read ({exc}). They are kept in the settings "
            f"file as [{UNREADABLE}]; the studio starts with its default scenes."
        )
        log.warning("scenes not loaded: %s", exc)
        return default_scenes(), problem


def save_scenes(settings: Settings | None, scenes: SceneSet) -> str | None:
    """Write the scenes to the settings file; what went wrong, if anything (kept in memory)."""
    if settings is None:
        return None
    settings.set(SECTION, scenes.to_data())
    try:
        settings.save()
    except OSError as exc:
        log.warning("scenes not saved: %s", exc)
        return f"The scenes could not be saved ({exc}); they are kept until you quit."
    return None


def spec_of(source: SceneSource, options: LiveOptions) -> str:
    """The source as a video spec (studio.live.options): the same device opens once."""
    if source.kind == "video":
        return options.video
    if source.kind == "overlay":
        return options.overlay
    if source.kind == "screen":
        target = source.target.strip()
        return f"screen:{target}" if target else "screen"
    return source.feed_key()


def running_specs(feeds: dict[str, VideoSource], options: LiveOptions) -> dict[str, VideoSource]:
    """A running pipeline's sources by spec (its feeds are keyed by feed key)."""
    named = {"video": options.video, "overlay": options.overlay}
    return {named.get(key, key): source for key, source in feeds.items()}


def open_scene_source(source: SceneSource, options: LiveOptions) -> VideoSource:
    """Open a camera, screen or media file of a scene (blocking). MediaError: cannot."""
    if source.kind == "camera":
        target = source.target.strip() or DEFAULT_CAMERA
        return CameraSource(target, options.width, options.height, options.fps)
    if source.kind == "screen":
        return ScreenSource(source.target.strip() or None, fps=options.fps)
    if source.kind == "media":
        return MediaFileSource(source.target, name=source.name)
    raise MediaError(f"{source.name} is not opened by scenes.")


def open_scene_sources(
    scenes: SceneSet | None,
    options: LiveOptions,
    opened: dict[str, VideoSource],
    skip: Callable[[str], bool] = lambda _key: False,
) -> tuple[dict[str, VideoSource], list[str]]:
    """The feeds the scenes need beyond the main video and overlay, by feed key (blocking).

    `opened` maps specs already open (the main video, the overlay) to their source, so a
    camera in a scene that is also the overlay is shared. A source that cannot open leaves
    its scenes without it and says why: one missing device never stops a show."""
    sources: dict[str, VideoSource] = {}
    problems: list[str] = []
    if scenes is None:
        return sources, problems
    for key, source in scenes.feed_keys().items():
        if source.kind in ("video", "overlay") or skip(key):
            continue
        spec = spec_of(source, options)
        if spec in opened:
            sources[key] = opened[spec]
            continue
        try:
            sources[key] = opened[spec] = open_scene_source(source, options)
        except MediaError as exc:
            problems.append(f"{source.name} is left out of your scenes: {exc}")
    return sources, problems


def draws_something(scenes: SceneSet | None, options: LiveOptions) -> bool:
    """Whether the scenes show any picture with these options (else the show is sound only)."""
    if options.video != "none" or options.overlay != "none":
        return True
    if scenes is None:
        return False
    return any(
        source.visible and source.kind not in ("video", "overlay", "alerts")
        for scene in scenes.scenes
        for source in scene.sources
    )


def scene_summary(source: SceneSource) -> str:
    """One line for the source list: its name and where it sits."""
    rect = source.rect
    where = (
        "full frame"
        if rect.as_list() == [0.0, 0.0, 1.0, 1.0]
        else (f"{rect.w:.0%} × {rect.h:.0%} at {rect.x:.0%}, {rect.y:.0%}")
    )
    extra = "" if source.opacity == 1.0 else f" · {source.opacity:.0%}"
    hidden = "" if source.visible else " · hidden"
    return f"{source.name} ({where}{extra}{hidden})"
