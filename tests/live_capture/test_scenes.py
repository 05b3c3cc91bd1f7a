"""Scenes: the model's checks and its TOML round trip, the settings (old files get the layouts
as scenes), and the compositor drawing stacks, crops, opacity, text, images and alerts, with
cuts and fades, inside a running pipeline too."""

import time
import tomllib
from pathlib import Path

import av
import numpy as np
import pytest
import tomli_w
from PIL import Image

from media.alert_overlay import AlertOverlay
from media.compositor import SceneCompositor
from media.encoder import VideoSettings
from media.pipeline import LivePipeline
from media.scenes import (
    Crop,
    Layout,
    Rect,
    Scene,
    SceneError,
    SceneSet,
    SceneSource,
    default_scenes,
)
from media.sources import MediaFileSource, pattern_source
from studio.live.scenes import UNREADABLE, load_scenes, save_scenes
from studio.settings import Settings

RED, BLUE, GREEN = "#ff0000", "#0000ff", "#00ff00"


def colour_scene(name: str, colour: str) -> Scene:
    return Scene(name, (SceneSource("colour", colour=colour),))


def two_colours(**kwargs: object) -> SceneSet:
    return SceneSet((colour_scene("Red", RED), colour_scene("Blue", BLUE)), **kwargs)  # type: ignore[arg-type]


def rgb(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray(format="rgb24").astype(int)


def mean_rgb(frame: av.VideoFrame, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Mean (r, g, b) of the frame or of box (x, y, w, h)."""
    picture = rgb(frame)
    if box is not None:
        x, y, w, h = box
        picture = picture[y : y + h, x : x + w]
    return picture.reshape(-1, 3).mean(axis=0)


def is_colour(value: np.ndarray, expected: tuple[int, int, int], slack: int = 12) -> bool:
    return bool(np.all(np.abs(value - np.array(expected)) <= slack))


def solid_frame(width: int, height: int, colour: tuple[int, int, int]) -> av.VideoFrame:
    array = np.empty((height, width, 3), np.uint8)
    array[...] = colour
    return av.VideoFrame.from_ndarray(array, format="rgb24").reformat(format="yuv420p")


# --- the model -------------------------------------------------------------------------------


def test_scenes_survive_a_toml_round_trip() -> None:
    scenes = SceneSet(
        (
            Scene(
                "Talk",
                (
                    SceneSource("video"),
                    SceneSource(
                        "camera", "Cam", "/dev/video2", rect=Rect(0.6, 0.6, 0.3, 0.3),
                        crop=Crop(0.1, 0, 0.1, 0), opacity=0.8,
                    ),
                    SceneSource("text", target="Back soon", colour="#ffcc00"),
                    SceneSource("alerts", rect=Rect(0, 0.5, 1, 0.5)),
                ),
            ),
            colour_scene("Break", BLUE),
        ),
        active="Break",
        transition="cut",
        fade_ms=0,
    )  # fmt: skip
    text = tomli_w.dumps({"scenes": scenes.to_data()})
    again = SceneSet.from_data(tomllib.loads(text)["scenes"])
    assert again == scenes and again.active == "Break" and again.transition == "cut"
    assert again.scene("Talk").sources[1].crop == Crop(0.1, 0, 0.1, 0)


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda: SceneSource("colour", opacity=1.5), "opacity must be between 0 and 1"),
        (lambda: SceneSource("hologram"), "'hologram' is not a kind of source"),
        (lambda: SceneSource("text"), "give it the text to show"),
        (lambda: SceneSource("image", target=""), "give it a file"),
        (lambda: SceneSource("colour", colour="red"), "#rrggbb"),
        (lambda: SceneSource("video", crop=Crop(0.5, 0, 0.5, 0)), "crop leaves nothing"),
        (lambda: SceneSource("video", rect=Rect(0, 0, 0, 1)), "width must be between"),
        (lambda: Scene("  "), "needs a name"),
        (lambda: SceneSet(()), "at least one scene"),
        (lambda: SceneSet((Scene("A"), Scene("a"))), "Two scenes are called"),
        (lambda: SceneSet((Scene("A"),), transition="wipe"), "a cut or a fade"),
        (lambda: SceneSet((Scene("A"),)).removing("A"), "at least one scene"),
        (lambda: SceneSet((Scene("A"),)).scene("B"), "no scene called 'B'"),
    ],
)
def test_wrong_scenes_are_refused_saying_why(make, says: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SceneError, match=says):
        make()


def test_a_damaged_table_is_refused_as_a_whole() -> None:
    good = two_colours().to_data()
    good["list"][1]["sources"][0]["opacity"] = "half"
    with pytest.raises(SceneError, match=r"In the scene 'Blue'.*opacity must be a number"):
        SceneSet.from_data(good)
    good["list"][1]["sources"][0] = {"kind": "colour", "colour": BLUE, "sparkle": True}
    with pytest.raises(SceneError, match="sparkle"):
        SceneSet.from_data(good)


def test_editing_returns_new_scenes_and_keeps_the_active_one() -> None:
    scenes = two_colours(active="Blue")
    renamed = scenes.renaming("Blue", "Ocean")
    assert renamed.active == "Ocean" and scenes.active == "Blue"
    stacked = renamed.scene("Red").with_source(SceneSource("text", target="hi"))
    stacked = stacked.with_source(SceneSource("alerts"))
    assert [s.kind for s in stacked.moving(2, -2).sources] == ["alerts", "colour", "text"]
    assert [s.kind for s in stacked.moving(0, 5).sources] == ["text", "alerts", "colour"]
    assert [s.kind for s in stacked.without_source(1).sources] == ["colour", "alerts"]
    removed = renamed.removing("Ocean")
    assert removed.names == ["Red"] and removed.active == "Red"
    assert renamed.unused_name() == "Scene 3"


# --- in the settings -------------------------------------------------------------------------


def test_settings_from_before_scenes_get_the_three_layouts(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(
        'profile = "local"\n[sources]\nvideo = "screen"\noverlay = "camera:/dev/video0"\n'
    )
    scenes, problem = load_scenes(Settings.open(path))
    assert problem is None
    assert scenes.names == ["Camera over screen", "Main only", "Overlay only"]
    assert scenes.active == "Camera over screen"
    pip = scenes.current.sources
    assert [s.kind for s in pip] == ["video", "overlay", "alerts"]
    assert pip[1].rect.w == pytest.approx(0.28) and pip[1].rect.x > 0.6
    assert scenes == default_scenes(Layout.PIP)


def test_scenes_saved_are_restored_at_the_next_start(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    settings = Settings.open(path)
    settings.set("artist_name", "Nina")
    assert save_scenes(settings, two_colours(active="Blue")) is None
    restored, problem = load_scenes(Settings.open(path))
    assert problem is None and restored == two_colours(active="Blue")
    assert restored.active == "Blue"
    assert Settings.open(path).get("artist_name") == "Nina"  # the rest of the file is kept


def test_unreadable_scenes_are_kept_aside_and_defaults_run(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('[scenes]\nactive = "A"\n[[scenes.list]]\nname = "A"\n'
                    '[[scenes.list.sources]]\nkind = "colour"\nopacity = 7\n')  # fmt: skip
    settings = Settings.open(path)
    scenes, problem = load_scenes(settings)
    assert scenes == default_scenes()
    assert problem is not None and "could not be read" in problem and UNREADABLE in problem
    assert save_scenes(settings, scenes) is None
    saved = tomllib.loads(path.read_text())
    assert saved[UNREADABLE]["list"][0]["sources"][0]["opacity"] == 7  # nothing lost
    assert SceneSet.from_data(saved["scenes"]) == scenes


# --- the compositor --------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("size", [(320, 180), (480, 270)])  # 270: odd chroma rows
def test_a_cut_shows_the_new_scene_at_the_next_frame(size: tuple[int, int]) -> None:
    compositor = SceneCompositor(*size, two_colours(transition="cut"))
    assert is_colour(mean_rgb(compositor.compose({})), (255, 0, 0))
    compositor.switch("Blue")
    assert compositor.active == "Blue" and compositor.scenes.active == "Blue"
    assert is_colour(mean_rgb(compositor.compose({})), (0, 0, 255))
    with pytest.raises(SceneError):
        compositor.switch("Green")
    assert compositor.active == "Blue"


def test_a_fade_mixes_both_scenes_then_shows_the_new_one() -> None:
    clock = Clock()
    compositor = SceneCompositor(320, 180, two_colours(fade_ms=300), clock=clock)
    compositor.compose({})
    compositor.switch("Blue")
    clock.now += 0.15
    halfway = mean_rgb(compositor.compose({}))
    assert 90 < halfway[0] < 165 and 90 < halfway[2] < 165, halfway
    clock.now += 0.2
    assert is_colour(mean_rgb(compositor.compose({})), (0, 0, 255))
    compositor.switch("Red", transition="cut")
    assert is_colour(mean_rgb(compositor.compose({})), (255, 0, 0))


def test_the_stack_is_drawn_bottom_up_with_boxes_and_opacity() -> None:
    scene = Scene(
        "Stack",
        (
            SceneSource("colour", colour=RED),
            SceneSource("colour", colour=BLUE, rect=Rect(0.5, 0.5, 0.5, 0.5), opacity=0.5),
            SceneSource("colour", colour=GREEN, rect=Rect(0, 0, 0.25, 0.25)),
            SceneSource("colour", colour=BLUE, rect=Rect(0.9, 0, 0.5, 0.5)),  # half off frame
        ),
    )
    out = SceneCompositor(320, 180, SceneSet((scene,))).compose({})
    assert (out.width, out.height, out.format.name) == (320, 180, "yuv420p")
    assert is_colour(mean_rgb(out, (100, 10, 40, 40)), (255, 0, 0))
    assert is_colour(mean_rgb(out, (10, 10, 40, 20)), (0, 255, 0))
    half = mean_rgb(out, (180, 110, 40, 40))  # blue at 50 % over red
    assert is_colour(half, (128, 0, 128), slack=20), half
    assert is_colour(mean_rgb(out, (300, 10, 16, 40)), (0, 0, 255))


def test_a_live_source_is_cropped_fitted_and_placed() -> None:
    # left half white, right half black: cropping the left half away leaves black
    array = np.zeros((240, 320, 3), np.uint8)
    array[:, :160] = 255
    frame = av.VideoFrame.from_ndarray(array, format="rgb24").reformat(format="yuv420p")
    box = Rect(0.5, 0.0, 0.5, 0.5)
    scene = Scene(
        "Crop",
        (
            SceneSource("colour", colour=RED),
            SceneSource("camera", target="/dev/video9", rect=box, crop=Crop(0.5, 0, 0, 0)),
        ),
    )
    out = SceneCompositor(640, 360, SceneSet((scene,))).compose({"camera:/dev/video9": frame})
    # the kept half is 160x240 (2:3): fitted into the 320x180 box, centred, red on its sides
    assert is_colour(mean_rgb(out, (470, 20, 40, 140)), (0, 0, 0))
    assert is_colour(mean_rgb(out, (330, 20, 40, 140)), (255, 0, 0))
    assert is_colour(mean_rgb(out, (20, 20, 200, 300)), (255, 0, 0))
    # without its frame (a camera not there yet) the scene shows the rest
    assert is_colour(mean_rgb(SceneCompositor(640, 360, SceneSet((scene,))).compose({})),
                     (255, 0, 0))  # fmt: skip


def test_one_full_frame_source_goes_through_without_composing() -> None:
    frame = solid_frame(320, 180, (0, 200, 0))
    scenes = SceneSet((Scene("Cam", (SceneSource("video"), SceneSource("alerts"))),))
    clock = Clock()
    alerts = AlertOverlay(clock=clock)
    compositor = SceneCompositor(320, 180, scenes, alerts)
    out = compositor.compose({"video": frame})
    assert np.array_equal(out.to_ndarray(), frame.to_ndarray())
    alerts.show("Ada tipped 5 CORE", "encore!")
    compositor.compose({"video": frame})  # the box starts fading in
    clock.now += 1.0
    with_alert = compositor.compose({"video": frame})
    assert not np.array_equal(with_alert.to_ndarray(), frame.to_ndarray())


def test_alerts_are_drawn_inside_their_box_only() -> None:
    clock = Clock()
    alerts = AlertOverlay(clock=clock)
    alerts.show("Ada tipped 5 CORE", "encore!")
    scene = Scene(
        "Alerts low",
        (SceneSource("colour", colour=BLUE), SceneSource("alerts", rect=Rect(0, 0.5, 1, 0.5))),
    )
    compositor = SceneCompositor(1280, 720, SceneSet((scene,)), alerts)
    compositor.compose({})  # the box starts fading in
    clock.now += 1.0
    out = compositor.compose({})
    y = out.to_ndarray()[:720]
    plain = y[5, 5]
    changed_rows = np.flatnonzero(np.any(y != plain, axis=1))
    assert changed_rows.size and changed_rows.min() >= 360, "the box sits in the lower half"


def test_text_and_image_sources_are_drawn_and_a_missing_image_is_said(tmp_path: Path) -> None:
    picture = tmp_path / "logo.png"
    Image.new("RGBA", (64, 64), (0, 255, 0, 255)).save(picture)
    problems: list[tuple[str, str]] = []
    scene = Scene(
        "Mixed",
        (
            SceneSource("colour", colour="#000000"),
            SceneSource("text", target="Back in 5", colour="#ffffff", rect=Rect(0, 0, 1, 0.2)),
            SceneSource("image", "Logo", str(picture), rect=Rect(0.75, 0.75, 0.25, 0.25)),
            SceneSource("image", "Gone", str(tmp_path / "missing.png")),
        ),
    )
    out = SceneCompositor(640, 360, SceneSet((scene,)), on_error=lambda *p: problems.append(p))
    frame = out.compose({})
    top = rgb(frame)[:72]
    assert (top > 200).all(axis=2).sum() > 200, "white text in the top band"
    assert (rgb(frame)[80:260] < 30).all(), "black below the text"
    assert is_colour(mean_rgb(frame, (540, 290, 40, 40)), (0, 255, 0))
    assert problems and problems[0][0] == "Gone" and "cannot be shown" in problems[0][1]
    out.compose({})
    assert len(problems) == 1, "said once, not at every frame"


def test_a_media_file_loops(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mkv"
    with av.open(str(clip), "w") as container:
        stream = container.add_stream("ffv1", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index, frame in enumerate(pattern_source(64, 48, 10, realtime=False, seconds=0.5)
                                      .frames()):  # fmt: skip
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    source = MediaFileSource(clip, realtime=False)
    assert (source.width, source.height) == (64, 48)
    frames = []
    for frame in source.frames():
        frames.append(frame)
        if len(frames) == 12:
            source.close()
    assert len(frames) == 12, "past the 5 frames of the file: it started again"
    with pytest.raises(Exception, match="cannot be played"):
        MediaFileSource(tmp_path / "nothing.mkv")


def test_a_running_pipeline_switches_scene_in_its_one_picture() -> None:
    settings = VideoSettings(width=320, height=180, fps=15)
    pipeline = LivePipeline(settings, None, scenes=two_colours(transition="cut"), encode=False)
    pipeline.start()
    try:
        deadline = time.monotonic() + 10
        while pipeline.preview() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert is_colour(pipeline.preview().reshape(-1, 3).mean(axis=0), (255, 0, 0))  # type: ignore[union-attr]
        pipeline.switch_scene("Blue")
        while time.monotonic() < deadline:
            shown = pipeline.preview().reshape(-1, 3).mean(axis=0)  # type: ignore[union-attr]
            if is_colour(shown, (0, 0, 255)):
                break
            time.sleep(0.05)
        assert is_colour(shown, (0, 0, 255)), shown
        assert pipeline.compositor is not None and pipeline.compositor.switches == 1
    finally:
        pipeline.stop()
