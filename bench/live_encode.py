"""Studio-side cost of going live: CPU of the whole program path at 720p30 VP8.

    .venv/bin/python bench/live_encode.py [--seconds 10] [--codec vp8] [--size 1280x720]

Runs the studio's live pipeline in this process, as `harmonie-studio live` does: lavfi test
pattern + tone -> compositor, mixer, meters, limiter -> one VP8 (or H.264) and one Opus
encoder -> recorder (.mkv in a temp dir), for `--seconds` of wall time. Reports the process
CPU (% of one core), the frame rate delivered, encode time per frame and how many clock ticks
had to be skipped. `source_cpu_pct` is the cost of generating the test pattern alone (a
camera's would differ), measured first, so `publisher_cpu_pct - source_cpu_pct` is ours.

Prints one JSON object as its last line (with the load average it ran under).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import percentile, report  # noqa: E402


def source_cost(width: int, height: int, fps: int, seconds: float) -> float:
    from media.sources import pattern_source

    source = pattern_source(width, height, fps, realtime=True)
    start_wall, start_cpu = time.monotonic(), time.process_time()
    for _frame in source.frames():
        if time.monotonic() - start_wall >= seconds:
            break
    source.close()
    return 100.0 * (time.process_time() - start_cpu) / (time.monotonic() - start_wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--codec", choices=["vp8", "h264"], default="vp8")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--fps", type=int, default=30)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))

    from media.encoder import AudioSettings, VideoSettings
    from media.pipeline import LivePipeline
    from media.recorder import Recorder
    from media.sources import pattern_source, tone_source

    source_cpu = source_cost(width, height, args.fps, min(3.0, args.seconds))
    encode_ms: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = LivePipeline(
            VideoSettings(codec=args.codec, width=width, height=height, fps=args.fps),
            AudioSettings(),
            main=pattern_source(width, height, args.fps),
            audio_sources=[tone_source()],
        )
        assert pipeline.video_encoder is not None
        recorder = Recorder(Path(tmp) / "bench.mkv", pipeline.video_encoder, pipeline.audio_encoder)
        pipeline.start()
        time.sleep(1.0)  # warm-up: encoder start, first keyframe
        start_wall, start_cpu = time.monotonic(), time.process_time()
        start_frames, start_skipped = pipeline.frames_encoded, pipeline.frames_skipped
        while time.monotonic() - start_wall < args.seconds:
            time.sleep(0.25)
            encode_ms.append(pipeline.video_encoder.stats.encode_ms)
        wall = time.monotonic() - start_wall
        cpu = time.process_time() - start_cpu
        frames = pipeline.frames_encoded - start_frames
        skipped = pipeline.frames_skipped - start_skipped
        bitrate = pipeline.video_encoder.stats.bitrate
        pipeline.stop()
        recorder.close()
        recorded = recorder.packets_written
    report(
        {
            "codec": args.codec,
            "size": f"{width}x{height}",
            "seconds": round(wall, 2),
            "publisher_cpu_pct": round(100.0 * cpu / wall, 1),
            "source_cpu_pct": round(source_cpu, 1),
            "fps": round(frames / wall, 2),
            "frames_skipped": skipped,
            "encode_ms_p50": round(percentile(encode_ms, 50), 2),
            "video_kbps": round(bitrate / 1000, 1),
            "recorded_packets": recorded,
        }
    )


if __name__ == "__main__":
    main()
