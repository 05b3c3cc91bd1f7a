"""Analysis of real files in every accepted format: probe, tags, artwork, loudness, waveform,
rendition; and a clear reason for each kind of bad input."""

import subprocess
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest

from media.artwork import read_artwork_file
from media.loudness import LoudnessMeter
from media.probe import MediaError, UnsupportedFormat, decode_blocks, probe
from media.rendition import transcode
from media.tags import read_tags
from media.waveform import PeakCollector, render_png
from tests.uploads.audio import FORMATS, TAGS, artwork_png, make_audio, make_sox, sine

EXPECTED_CODEC = {
    "wav": "pcm_s16le",
    "flac": "flac",
    "aiff": "pcm_s16be",
    "mp3": "mp3",
    "ogg": "vorbis",
    "opus": "opus",
    "m4a": "aac",
}


@pytest.fixture(scope="module")
def tracks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("tracks")
    return {ext: make_audio(directory, ext, seconds=3.0, amplitude=0.1) for ext in FORMATS}


@pytest.mark.parametrize("ext", FORMATS)
def test_probe_every_format(tracks: dict[str, Path], ext: str) -> None:
    info = probe(tracks[ext])
    assert info.codec.startswith(EXPECTED_CODEC[ext])
    assert info.channels == 2
    assert info.sample_rate == (48_000 if ext == "opus" else 44_100)
    assert info.duration_s == pytest.approx(3.0, abs=0.1)
    assert info.size == tracks[ext].stat().st_size


@pytest.mark.parametrize("ext", FORMATS)
def test_non_latin_tags_and_embedded_artwork(tracks: dict[str, Path], ext: str) -> None:
    tags = read_tags(tracks[ext])
    assert tags.as_dict() == TAGS
    assert tags.artwork is not None
    assert tags.artwork.data == artwork_png()
    assert tags.artwork.mime == "image/png"


def test_untagged_file_gets_its_name_as_title(tmp_path: Path) -> None:
    path = make_audio(tmp_path, "flac", seconds=0.5, tagged=False, name="Morning Take 3")
    tags = read_tags(path)
    assert tags.title == "Morning Take 3"
    assert tags.artist == "" and tags.artwork is None


@pytest.mark.parametrize("ext", FORMATS)
def test_loudness_of_a_known_sine(tracks: dict[str, Path], ext: str) -> None:
    """A stereo 997 Hz sine at amplitude 0.1 is -20 LUFS (K-weighting is ~0 dB at 1 kHz)."""
    meter = None
    for block, rate in decode_blocks(tracks[ext]):
        meter = meter or LoudnessMeter(rate, block.shape[1])
        meter.add(block)
    result = meter.result()
    tolerance = 0.15 if ext in ("wav", "flac", "aiff") else 0.6
    assert result.integrated_lufs == pytest.approx(-20.0, abs=tolerance)
    assert result.true_peak_dbtp == pytest.approx(-20.0, abs=tolerance + 0.3)
    assert result.true_peak_dbtp >= result.sample_peak_dbfs - 0.01


def test_streamed_loudness_matches_pyloudnorm(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    rate = 48_000
    noise = rng.normal(0, 0.05, (rate * 7, 2)) * np.linspace(0.1, 1.0, rate * 7)[:, None]
    noise[rate * 2 : rate * 3] = 0.0  # a silent gap the gates must drop
    meter = LoudnessMeter(rate, 2)
    for start in range(0, len(noise), 12_345):  # odd block sizes cross every boundary
        meter.add(noise[start : start + 12_345])
    expected = pyloudnorm.Meter(rate).integrated_loudness(noise)
    assert meter.result().integrated_lufs == pytest.approx(expected, abs=0.05)


def test_true_peak_sees_inter_sample_peaks() -> None:
    """A sine at fs/4 sampled at 45 degrees peaks between samples: true peak > sample peak."""
    rate = 48_000
    n = np.arange(rate)
    wave = 0.5 * np.sin(2 * np.pi * (rate / 4) * n / rate + np.pi / 4)
    meter = LoudnessMeter(rate, 1)
    for start in range(0, rate, 7_000):
        meter.add(wave[start : start + 7_000, None])
    result = meter.result()
    assert result.sample_peak_dbfs == pytest.approx(20 * np.log10(0.5 * np.sqrt(0.5)), abs=0.05)
    assert result.true_peak_dbtp == pytest.approx(20 * np.log10(0.5), abs=0.3)


def test_silence_has_no_loudness() -> None:
    meter = LoudnessMeter(44_100, 2)
    meter.add(np.zeros((44_100 * 2, 2), dtype=np.float32))
    result = meter.result()
    assert result.integrated_lufs is None and result.true_peak_dbtp is None


def test_waveform_peaks_and_png(tmp_path: Path) -> None:
    samples = sine(2.0, amplitude=0.5)
    samples[: len(samples) // 2] *= 0.2  # quiet first half, loud second half
    collector = PeakCollector(len(samples), columns=200)
    for start in range(0, len(samples), 9_999):
        collector.add(samples[start : start + 9_999])
    peaks = collector.peaks()
    assert peaks.shape == (200, 2)
    assert peaks[:90, 1].max() == pytest.approx(0.1, abs=0.01)
    assert peaks[110:, 1].max() == pytest.approx(0.5, abs=0.01)
    assert peaks[110:, 0].min() == pytest.approx(-0.5, abs=0.01)
    png = render_png(peaks, width=300, height=80)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert int.from_bytes(png[16:20], "big") == 300 and int.from_bytes(png[20:24], "big") == 80
    artwork = tmp_path / "wave.png"
    artwork.write_bytes(png)
    assert read_artwork_file(artwork).mime == "image/png"


@pytest.mark.parametrize("fmt,codec", [("opus", "opus"), ("mp3", "mp3")])
def test_rendition(tracks: dict[str, Path], tmp_path: Path, fmt: str, codec: str) -> None:
    out = transcode(tracks["flac"], tmp_path / "stream", fmt)
    info = probe(out)
    assert out.suffix == f".{fmt}"
    assert info.codec.startswith(codec)
    assert info.duration_s == pytest.approx(3.0, abs=0.15)
    assert not list(tmp_path.glob("*.part"))


# --- bad input -------------------------------------------------------------------------------


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.touch()
    with pytest.raises(MediaError, match="empty"):
        probe(path)


def test_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "noise.flac"
    path.write_bytes(np.random.default_rng(1).bytes(50_000))
    with pytest.raises(MediaError, match=r"noise\.flac"):
        probe(path)


def test_truncated_file(tmp_path: Path) -> None:
    whole = make_sox(tmp_path / "whole.wav")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[:30])
    with pytest.raises(MediaError, match=r"cut\.wav"):
        probe(cut)


@pytest.mark.parametrize("name", ["notes.txt", "song.mid", "noext"])
def test_unsupported_extension(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"not audio at all")
    with pytest.raises(UnsupportedFormat, match="not accepted; use WAV, FLAC, AIFF"):
        probe(path)


def test_unsupported_codec(tmp_path: Path) -> None:
    path = tmp_path / "adpcm.wav"
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-e",
            "ima-adpcm",
            str(path),
            "synth",
            "1",
            "sine",
            "440",
        ],
        check=True,
    )
    with pytest.raises(UnsupportedFormat, match="codec 'adpcm_ima_wav' is not accepted"):
        probe(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no longer exists"):
        probe(tmp_path / "gone.wav")


def test_folder_named_like_audio(tmp_path: Path) -> None:
    (tmp_path / "album.wav").mkdir()
    with pytest.raises(MediaError, match="not a regular file"):
        probe(tmp_path / "album.wav")


def test_bad_artwork_file(tmp_path: Path) -> None:
    path = tmp_path / "cover.png"
    path.write_bytes(b"GIF89a....")
    with pytest.raises(ValueError, match="PNG, JPEG or WebP"):
        read_artwork_file(path)
