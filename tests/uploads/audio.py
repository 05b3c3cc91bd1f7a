"""Real audio for the publishing tests: sox for WAV/FLAC/AIFF/Vorbis, PyAV for the rest,
mutagen for tags with non-Latin text and embedded artwork."""

import base64
import subprocess
from pathlib import Path

import av
import numpy as np
from mutagen.aiff import AIFF
from mutagen.flac import FLAC, Picture
from mutagen.id3 import APIC, ID3, TALB, TCON, TDRC, TIT2, TPE1, TSRC
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4, MP4Cover, MP4FreeForm
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

from media.waveform import encode_png

TAGS = {
    "title": "Лунная соната — 月の光 🎵",
    "artist": "Björk & Sigur Rós / أم كلثوم",
    "album": "Ελληνικά «test» album",
    "genre": "Électro‐Folk",
    "isrc": "FRZ039800212",
    "release_date": "2024-05-17",
}

FORMATS = ["wav", "flac", "aiff", "mp3", "ogg", "opus", "m4a"]


def artwork_png() -> bytes:
    image = np.zeros((32, 48, 4), dtype=np.uint8)
    image[..., 0] = np.arange(48, dtype=np.uint8) * 5
    image[..., 1] = 120
    image[..., 3] = 255
    return encode_png(image)


def sine(
    seconds: float, rate: int = 44_100, amplitude: float = 0.1, freq: float = 997.0
) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    mono = amplitude * np.sin(2 * np.pi * freq * t)
    return np.stack([mono, mono], axis=1).astype(np.float32)


def make_sox(path: Path, seconds: float = 2.0, amplitude: float = 0.1, extra: tuple = ()) -> Path:
    gain_db = 20 * np.log10(amplitude)
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "44100",
            "-c",
            "2",
            "-b",
            "16",
            *extra,
            str(path),
            "synth",
            str(seconds),
            "sine",
            "997",
            "gain",
            f"{gain_db:.3f}",
        ],
        check=True,
        capture_output=True,
    )
    return path


_AV = {  # extension -> (container, codec, sample format, rate)
    "mp3": ("mp3", "libmp3lame", "s16p", 44_100),
    "opus": ("ogg", "libopus", "s16", 48_000),
    "m4a": ("ipod", "aac", "fltp", 44_100),
}


def make_av(path: Path, seconds: float = 2.0, amplitude: float = 0.1) -> Path:
    rate = _AV[path.suffix[1:]][3]
    return encode_tune(path, sine(seconds, rate, amplitude), None, rate)


def make_audio(
    directory: Path,
    ext: str,
    seconds: float = 2.0,
    amplitude: float = 0.1,
    tagged: bool = True,
    name: str = "track",
    title: str | None = None,
) -> Path:
    path = directory / f"{name}.{ext}"
    if ext in ("wav", "flac", "aiff", "ogg"):
        make_sox(path, seconds, amplitude)
    else:
        make_av(path, seconds, amplitude)
    if tagged:
        write_tags(path, {**TAGS, "title": title} if title else TAGS)
    return path


def write_tags(path: Path, tags: dict[str, str] = TAGS, art: bytes | None = None) -> None:
    art = art if art is not None else artwork_png()
    ext = path.suffix[1:]
    if ext in ("mp3", "wav", "aiff"):
        audio = {"mp3": MP3, "wav": WAVE, "aiff": AIFF}[ext](str(path))
        if audio.tags is None:
            audio.add_tags()
        id3: ID3 = audio.tags
        for frame in (
            TIT2(encoding=3, text=tags["title"]),
            TPE1(encoding=3, text=tags["artist"]),
            TALB(encoding=3, text=tags["album"]),
            TCON(encoding=3, text=tags["genre"]),
            TSRC(encoding=3, text=tags["isrc"]),
            TDRC(encoding=3, text=tags["release_date"]),
        ):
            id3.add(frame)
        id3.add(APIC(encoding=3, mime="image/png", type=3, desc="cover", data=art))
        audio.save()
    elif ext in ("flac", "ogg", "opus"):
        audio = {"flac": FLAC, "ogg": OggVorbis, "opus": OggOpus}[ext](str(path))
        if audio.tags is None:
            audio.add_tags()
        for key, value in tags.items():
            audio[{"release_date": "date"}.get(key, key)] = value
        picture = Picture()
        picture.type, picture.mime, picture.data = 3, "image/png", art
        if ext == "flac":
            audio.add_picture(picture)
        else:
            audio["metadata_block_picture"] = [base64.b64encode(picture.write()).decode()]
        audio.save()
    elif ext == "m4a":
        audio = MP4(str(path))
        audio["\xa9nam"], audio["\xa9ART"], audio["\xa9alb"] = (
            tags["title"],
            tags["artist"],
            tags["album"],
        )
        audio["\xa9gen"], audio["\xa9day"] = tags["genre"], tags["release_date"]
        audio["----:com.apple.iTunes:ISRC"] = [MP4FreeForm(tags["isrc"].encode())]
        audio["covr"] = [MP4Cover(art, imageformat=MP4Cover.FORMAT_PNG)]
        audio.save()


def tune(seed: int, seconds: float = 20.0, rate: int = 44_100) -> np.ndarray:
    """A melody of notes with harmonics (a `seed` makes a different tune), stereo float32:
    music enough for Chromaprint's chroma features, unlike a steady sine."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * rate), dtype=np.float64)
    at = 0
    while at < len(out):
        length = int(rate * rng.choice([0.25, 0.375, 0.5]))
        t = np.arange(min(length, len(out) - at)) / rate
        freq = 220.0 * 2 ** (int(rng.integers(0, 24)) / 12)
        note = sum(np.sin(2 * np.pi * freq * k * t) / k for k in (1, 2, 3))
        out[at : at + len(t)] = note * np.exp(-3 * t) * 0.2
        at += length
    return np.stack([out, out], axis=1).astype(np.float32)


def encode_tune(path: Path, samples: np.ndarray, bit_rate: int | None, rate: int = 44_100) -> Path:
    """`samples` (at `rate`) encoded by `path`'s extension (MP3, Opus, AAC) at `bit_rate`
    (None: the encoder's default)."""
    container, codec, sample_format, out_rate = _AV[path.suffix[1:]]
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=out_rate, layout="stereo")
        stream.format = sample_format
        if bit_rate is not None:
            stream.bit_rate = bit_rate
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="stereo")
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=sample_format, layout="stereo", rate=out_rate)
        for part in resampler.resample(frame) + resampler.resample(None):
            out.mux(stream.encode(part))
        out.mux(stream.encode(None))
    return path
