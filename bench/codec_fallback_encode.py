"""The price of a codec fallback while recording: every picture encoded twice.

    .venv/bin/python bench/codec_fallback_encode.py [--frames 300] [--size 1280x720] [--fps 30]

When the ingest refuses our video codec and a recording is running, the session keeps the
recorder's encoder and adds one in the other codec for the publisher
(studio.codec_fallback.TeeVideoEncoder). This encodes the same moving pictures with VP8
alone, H.264 alone and both (VP8 recorded + H.264 published), with the live settings, and
reports the CPU time per picture and what it means in % of one core at `--fps`.

Prints one JSON object as its last line (with the load average it ran under).
"""

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import report  # noqa: E402


def pictures(width: int, height: int, count: int) -> list:  # type: ignore[type-arg]
    import av
    import numpy as np

    frames = []
    for i in range(count):
        rgb = np.zeros((height, width, 3), np.uint8)
        x = (i * 8) % width
        rgb[:, x : x + 40] = (255, 200, 40)
        rgb[(i * 4) % height :: 37, :] = (40, 120, 255)
        frames.append(av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p"))
    return frames


def cpu_ms_per_picture(encoder: object, frames: list) -> float:  # type: ignore[type-arg]
    started = time.process_time()
    for index, frame in enumerate(frames):
        encoder.encode(frame, index)  # type: ignore[attr-defined]
    encoder.flush()  # type: ignore[attr-defined]
    return 1000.0 * (time.process_time() - started) / len(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--fps", type=int, default=30)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))

    from media.encoder import VideoEncoder, VideoSettings
    from studio.live.codec_fallback import TeeVideoEncoder

    def encoder(codec: str) -> VideoEncoder:
        return VideoEncoder(VideoSettings(codec=codec, width=width, height=height, fps=args.fps))

    frames = pictures(width, height, args.frames)
    results = {
        "vp8_ms": cpu_ms_per_picture(encoder("vp8"), frames),
        "h264_ms": cpu_ms_per_picture(encoder("h264"), frames),
        "vp8_and_h264_ms": cpu_ms_per_picture(
            TeeVideoEncoder(encoder("vp8"), encoder("h264")), frames
        ),
    }
    figures = {k: round(v, 2) for k, v in results.items()}
    figures.update(
        {
            f"{k.removesuffix('_ms')}_core_pct_at_{args.fps}fps": round(v * args.fps / 10, 1)
            for k, v in results.items()
        }
    )
    figures.update({"frames": args.frames, "size": args.size})
    report(figures)


if __name__ == "__main__":
    main()
