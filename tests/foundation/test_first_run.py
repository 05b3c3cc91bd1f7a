"""What the first-run guide keeps: the done flag, the artist's name and sources, each written
only when the artist changed it; the sources it suggests; the fan-page link."""

import tomllib
from pathlib import Path

from studio import first_run
from studio.first_run import Sources
from studio.settings import Settings


def saved(path: Path) -> dict[str, object]:
    return tomllib.loads(path.read_text())


def test_the_guide_is_due_until_done_and_the_flag_is_in_the_toml(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    settings = Settings.open(path)
    assert first_run.needs_first_run(settings)
    first_run.mark_done(settings)
    assert saved(path)["first_run_done"] is True
    assert not first_run.needs_first_run(Settings.open(path))


def test_name_and_sources_are_written_only_when_changed(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    settings = Settings.open(path)
    assert not first_run.set_artist_name(settings, "   ")
    assert not path.exists(), "an empty name writes nothing"
    assert first_run.set_artist_name(settings, "  Nina Aurora ")
    assert saved(path)["artist_name"] == "Nina Aurora"
    sources = Sources("screen", "camera:/dev/video0", "mic:3")
    assert first_run.set_sources(settings, sources)
    written = path.read_bytes()

    again = Settings.open(path)
    assert not first_run.set_artist_name(again, "Nina Aurora")
    assert not first_run.set_sources(again, first_run.saved_sources(again))  # type: ignore[arg-type]
    first_run.mark_done(again)
    first_run.mark_done(again)
    assert first_run.saved_sources(again) == sources
    done = path.read_bytes()
    assert saved(path) == {**tomllib.loads(written.decode()), "first_run_done": True}
    first_run.mark_done(again)
    assert path.read_bytes() == done, "already done: nothing written again"


def test_sources_edited_by_hand_are_read_as_far_as_they_make_sense(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('[sources]\nvideo = "screen"\naudio = 3\n')
    assert first_run.saved_sources(Settings.open(path)) == Sources(video="screen")
    path.write_text('sources = "camera"\n')
    assert first_run.saved_sources(Settings.open(path)) is None


def test_suggested_sources_prefer_screen_with_camera_and_a_microphone() -> None:
    pattern = ("testsrc", "Test pattern")
    screen = ("screen", "Screen (:0)")
    camera = ("camera:/dev/video0", "Camera")
    tone = ("tone", "Test tone")
    mic = ("mic:3", "Microphone: USB")
    suggest = first_run.suggested_sources
    assert suggest([pattern, screen, camera], [tone, mic]) == Sources(
        "screen", "camera:/dev/video0", "mic:3"
    )
    assert suggest([pattern, camera], [tone]) == Sources("camera:/dev/video0", "none", "tone")
    assert suggest([pattern, screen], [tone]) == Sources("screen", "none", "tone")
    assert suggest([pattern], []) == Sources("testsrc", "none", "none")


def test_fan_page_url() -> None:
    assert first_run.fan_page_url("http://127.0.0.1:8123") == "http://127.0.0.1:8123/fan/"
    assert first_run.fan_page_url("https://live.example/") == "https://live.example/fan/"
    assert first_run.fan_page_url(None) is None
