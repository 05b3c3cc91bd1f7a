"""`harmonie-studio live`: go live without the window, for scripts and tests.

    harmonie-studio live --video testsrc --audio tone --whip URL --record out.mkv --duration 10

The stream key comes from --token or, better (it stays out of the process list), from the
HARMONIE_WHIP_TOKEN environment variable. Prints one JSON summary line at the end. Exit
code 0 when everything asked for worked, 1 when the recording or publishing had trouble
(the other kept going), 2 when going live could not start or the ingest refused the stream
(a refused key, no codec in common, no answer at the start): the show stops at once, the
recording so far is kept, and a line on stderr says why.
"""

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # media (PyAV, aiortc) loads only when `live` runs: other commands stay fast
    from studio.live.session import LiveOptions

LAYOUTS = ("pip", "main", "overlay")


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size like 1280x720") from None
    if w <= 0 or h <= 0 or w % 2 or h % 2:
        raise argparse.ArgumentTypeError(f"'{text}': width and height must be even and > 0")
    return w, h


def add_live_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    live = sub.add_parser("live", help="capture, encode, record and publish without the window")
    live.add_argument(
        "--video",
        default="testsrc",
        help="testsrc | screen[:DISPLAY] | camera[:/dev/videoN] | none (default: testsrc)",
    )
    live.add_argument(
        "--overlay",
        default="none",
        help="a second video source shown as picture-in-picture (e.g. camera); default none",
    )
    live.add_argument(
        "--audio",
        action="append",
        default=None,
        help="tone[:HZ] | mic[:DEVICE] | none; repeat to mix several (default: tone)",
    )
    live.add_argument("--whip", metavar="URL", default=None, help="WHIP ingest endpoint")
    live.add_argument("--token", default=None, help="stream key (or set HARMONIE_WHIP_TOKEN)")
    live.add_argument(
        "--record",
        metavar="FILE",
        type=Path,
        default=None,
        help="also record to a .mkv, .webm or .mp4 file",
    )
    live.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="S",
        help="stop after S seconds (default: until Ctrl-C)",
    )
    live.add_argument("--size", type=_size, default=(1280, 720), help="WxH (default 1280x720)")
    live.add_argument("--fps", type=int, default=30)
    live.add_argument("--codec", choices=["vp8", "h264"], default="vp8")
    live.add_argument("--video-bitrate", type=int, default=2_500_000, metavar="BPS")
    live.add_argument("--audio-bitrate", type=int, default=128_000, metavar="BPS")
    live.add_argument("--keyframe-interval", type=float, default=2.0, metavar="S")
    live.add_argument("--layout", choices=LAYOUTS, default="pip")
    live.add_argument("--title", default="")
    live.add_argument(
        "--list-devices", action="store_true", help="print the video and audio sources as JSON"
    )


def options_from_args(args: argparse.Namespace) -> "LiveOptions":
    from media.encoder import available_video_codecs
    from media.mixer import Layout
    from studio.live.session import LiveError, LiveOptions, whip_token_from_env

    width, height = args.size
    if args.codec not in available_video_codecs():
        raise LiveError(f"This installation cannot encode {args.codec.upper()}.")
    if args.duration is not None and args.duration <= 0:
        raise LiveError("--duration must be a positive number of seconds.")
    return LiveOptions(
        video=args.video,
        overlay=args.overlay,
        audio=args.audio or ["tone"],
        layout=Layout(args.layout),
        width=width,
        height=height,
        fps=args.fps,
        video_codec=args.codec,
        video_bitrate=args.video_bitrate,
        audio_bitrate=args.audio_bitrate,
        keyframe_interval_s=args.keyframe_interval,
        record_path=args.record,
        whip_url=args.whip,
        whip_token=args.token or whip_token_from_env(),
        title=args.title,
    )


async def run_live(args: argparse.Namespace, studio: object) -> int:
    from studio.live.session import LiveSession, available_audio_sources, available_video_sources

    if args.list_devices:
        print(
            json.dumps(
                {
                    "video": [
                        {"spec": s, "label": label} for s, label in available_video_sources()
                    ],
                    "audio": [
                        {"spec": s, "label": label} for s, label in available_audio_sources()
                    ],
                }
            )
        )
        return 0
    options = options_from_args(args)
    session = LiveSession()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    refusal: list[str] = []  # why publishing failed for good, if it did

    def on_state(s: LiveSession) -> None:
        if s.publish_state == "failed" and not refusal:  # final: the publisher gave up
            refusal.append(s.publish_error or "no reason given")
            stop.set()

    session.state_changed.connect(on_state)
    await session.start(options)  # LiveError -> exit code 2 with its message
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.duration)
    finally:
        stats = session.stats()
        await session.stop()
    recorder = session.recorder
    summary = {
        "state": session.state,
        "duration_s": round(session.elapsed_s, 3),
        "publish_state": stats.get("publish_state", "not publishing"),
        "recording": str(recorder.path) if recorder else None,
        "recorded_packets": recorder.packets_written if recorder else 0,
        "frames_encoded": int(stats.get("frames_encoded", 0)),
        "frames_skipped": int(stats.get("frames_skipped", 0)),
        "frames_repeated": int(stats.get("frames_repeated", 0)),
        "cpu_pct": round(float(stats.get("cpu_pct", 0.0)), 1),
        "reconnects": stats.get("reconnects", 0),
        "messages": session.messages,
    }
    print(json.dumps(summary))
    if refusal:
        print(
            f"harmonie-studio: publishing failed, the show stopped: {refusal[0]}", file=sys.stderr
        )
        return 2
    trouble = (recorder is not None and recorder.error) or (
        options.whip_url and stats.get("publish_state") != "live"
    )
    return 1 if trouble else 0
