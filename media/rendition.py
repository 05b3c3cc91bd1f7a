"""The streaming rendition fans hear: Opus (Ogg, 48 kHz) or MP3 320 kbps, made with PyAV.

Decoded, resampled and encoded frame by frame, written to a temporary name and renamed, so
an interrupted transcode never leaves a half file that looks finished.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import av

from media.probe import MediaError, _reason


@dataclass(frozen=True)
class RenditionFormat:
    name: str
    codec: str
    extension: str
    container: str
    sample_format: str
    rate: int
    bit_rate: int
    mime: str


FORMATS = {
    "opus": RenditionFormat("opus", "libopus", ".opus", "ogg", "s16", 48_000, 192_000, "audio/ogg"),
    "mp3": RenditionFormat(
        "mp3", "libmp3lame", ".mp3", "mp3", "s16p", 44_100, 320_000, "audio/mpeg"
    ),
}


def rendition_format(name: str) -> RenditionFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise MediaError(
            f"Unknown streaming format '{name}'; choose one of {', '.join(FORMATS)}."
        ) from None


def transcode(source: Path, target: Path, format_name: str = "opus") -> Path:
    """Write the rendition of `source` to `target` (its suffix is set from the format)."""
    fmt = rendition_format(format_name)
    target = Path(target).with_suffix(fmt.extension)
    partial = target.with_name(target.name + ".part")
    try:
        _encode(Path(source), partial, fmt)
        os.replace(partial, target)
    except (av.FFmpegError, OSError, ValueError) as exc:
        partial.unlink(missing_ok=True)
        raise MediaError(
            f"{Path(source).name}: the {fmt.name} rendition failed ({_reason(exc)})."
        ) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target


def _encode(source: Path, target: Path, fmt: RenditionFormat) -> None:
    with av.open(str(source)) as reader, av.open(str(target), "w", format=fmt.container) as writer:
        in_stream = reader.streams.audio[0]
        channels = min(2, in_stream.codec_context.channels or 2)
        layout = "stereo" if channels == 2 else "mono"
        out_stream = writer.add_stream(fmt.codec, rate=fmt.rate, layout=layout)
        out_stream.bit_rate = fmt.bit_rate
        out_stream.format = fmt.sample_format
        resampler = av.AudioResampler(format=fmt.sample_format, layout=layout, rate=fmt.rate)
        for frame in reader.decode(in_stream):
            frame.pts = None
            for resampled in resampler.resample(frame):
                writer.mux(out_stream.encode(resampled))
        for resampled in resampler.resample(None):
            writer.mux(out_stream.encode(resampled))
        writer.mux(out_stream.encode(None))
