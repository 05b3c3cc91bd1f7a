"""What an audio file is (PyAV): container, codec, duration, sample rate, channels.

Only the formats the studio publishes are accepted: WAV, FLAC, AIFF, MP3, Ogg (Vorbis/Opus),
M4A/AAC. Anything else is refused with a reason a person can act on. `decode_blocks` streams
the decoded audio as float32 blocks, which is how loudness and waveform read a file of any
length without holding it in memory.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

ACCEPTED_EXTENSIONS = {
    ".wav": "WAV",
    ".wave": "WAV",
    ".flac": "FLAC",
    ".aif": "AIFF",
    ".aiff": "AIFF",
    ".aifc": "AIFF",
    ".mp3": "MP3",
    ".ogg": "Ogg",
    ".oga": "Ogg",
    ".opus": "Opus",
    ".m4a": "M4A",
    ".aac": "AAC",
    ".mp4": "M4A",
}
ACCEPTED_CODECS = {"flac", "mp3", "mp3float", "vorbis", "opus", "libopus", "aac", "alac"}
ACCEPTED_LIST = "WAV, FLAC, AIFF, MP3, OGG/Opus, M4A/AAC"


class MediaError(Exception):
    """A file the studio cannot publish; str() is a complete sentence for the person."""


class UnsupportedFormat(MediaError):
    pass


@dataclass(frozen=True)
class AudioInfo:
    container: str
    codec: str
    duration_s: float
    sample_rate: int
    channels: int
    bit_rate: int | None
    size: int

    def as_dict(self) -> dict[str, object]:
        return dict(vars(self))


def check_accepted(path: Path) -> None:
    """Refuse by name and size before opening: unknown extension, folder, empty, gone."""
    if path.suffix.lower() not in ACCEPTED_EXTENSIONS:
        what = f"'{path.suffix}' files" if path.suffix else "files without an extension"
        raise UnsupportedFormat(f"{path.name}: {what} are not accepted; use {ACCEPTED_LIST}.")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise MediaError(f"{path.name}: the file no longer exists at {path.parent}.") from None
    except OSError as exc:
        raise MediaError(f"{path.name}: cannot be read ({exc.strerror}).") from None
    if not path.is_file():
        raise MediaError(f"{path.name}: is not a regular file.")
    if size == 0:
        raise MediaError(f"{path.name}: the file is empty (0 bytes).")


def _codec_accepted(codec: str) -> bool:
    return codec in ACCEPTED_CODECS or codec.startswith("pcm_")


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), mode="r")
    except FileNotFoundError:
        raise MediaError(f"{path.name}: the file no longer exists at {path.parent}.") from None
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise MediaError(f"{path.name}: not a readable audio file ({_reason(exc)}).") from None


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).split(":")[0].strip() or type(exc).__name__


def probe(path: Path) -> AudioInfo:
    """Open, check the codec, and decode the first frames so a corrupt file fails here."""
    path = Path(path)
    check_accepted(path)
    size = path.stat().st_size
    with _open(path) as container:
        if not container.streams.audio:
            raise MediaError(f"{path.name}: has no audio stream.")
        stream = container.streams.audio[0]
        codec = stream.codec_context.name
        if not _codec_accepted(codec):
            raise UnsupportedFormat(
                f"{path.name}: the codec '{codec}' is not accepted; use {ACCEPTED_LIST}."
            )
        sample_rate = stream.codec_context.sample_rate or stream.rate or 0
        channels = stream.codec_context.channels
        frames = 0
        try:
            for frame in container.decode(stream):
                frames += frame.samples
                sample_rate = frame.sample_rate or sample_rate
                channels = len(frame.layout.channels) or channels
                if frames >= sample_rate // 10:
                    break
        except (av.FFmpegError, ValueError) as exc:
            raise MediaError(
                f"{path.name}: the audio cannot be decoded ({_reason(exc)})."
            ) from None
        if frames == 0:
            raise MediaError(f"{path.name}: contains no audio samples (damaged or truncated).")
        duration = _duration(container, stream)
        return AudioInfo(
            container=container.format.name,
            codec=codec,
            duration_s=duration,
            sample_rate=int(sample_rate),
            channels=int(channels),
            bit_rate=container.bit_rate or stream.codec_context.bit_rate or None,
            size=size,
        )


def _duration(container: av.container.InputContainer, stream: av.AudioStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def decode_blocks(path: Path, block_frames: int = 65_536) -> Iterator[tuple[np.ndarray, int]]:
    """Yield (samples, sample_rate) with samples float32 shaped (frames, channels)."""
    path = Path(path)
    with _open(path) as container:
        stream = container.streams.audio[0]
        pending: list[np.ndarray] = []
        pending_frames = 0
        rate = stream.codec_context.sample_rate
        try:
            for frame in container.decode(stream):
                rate = frame.sample_rate
                block = _frame_to_float(frame)
                pending.append(block)
                pending_frames += len(block)
                if pending_frames >= block_frames:
                    yield np.concatenate(pending), rate
                    pending, pending_frames = [], 0
        except (av.FFmpegError, ValueError) as exc:
            raise MediaError(
                f"{path.name}: the audio cannot be decoded ({_reason(exc)})."
            ) from None
        if pending:
            yield np.concatenate(pending), rate


_SCALE = {"s16": 32768.0, "s16p": 32768.0, "s32": 2147483648.0, "s32p": 2147483648.0}


def _frame_to_float(frame: av.AudioFrame) -> np.ndarray:
    """Any sample format to float32 (frames, channels) in [-1, 1]."""
    data = frame.to_ndarray()
    fmt = frame.format.name
    channels = len(frame.layout.channels)
    # planar is (channels, frames); packed is interleaved in one row
    data = data.T if frame.format.is_planar else data.reshape(-1, channels)
    if fmt in _SCALE:
        return data.astype(np.float32) / np.float32(_SCALE[fmt])
    if fmt in ("u8", "u8p"):
        return (data.astype(np.float32) - 128.0) / 128.0
    if fmt in ("s64", "s64p"):
        return (data / 9.223372036854775808e18).astype(np.float32)
    return data.astype(np.float32, copy=False)
