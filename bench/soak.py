"""Soak: the real studio window live for a long show (default 30 minutes).

    .venv/bin/python bench/soak.py [--minutes 30]

The studio (`harmonie-studio --profile local`) under Xvfb with trayer and a real gnome-keyring
goes live from the Go Live page (pressed with real X input: test pattern + tone, 720p30 VP8,
recording on, the local backend's WHIP ingest) with 5 WHEP viewers watching, a fan chatting
every 10 s over the chat WebSocket and tipping on the devnet every minute (harness/soak.py).

Prints one JSON object as its last line: crashes, minutes_live, rss_start_mb, rss_growth_mb
(the studio and its backend process tree), min_fps (worst 10-second window at a viewer),
audio_gaps (gaps over 20 ms in the recording after its first second), alerts_missed (tips
sent minus tray messages shown), load_avg_during (mean 1-minute load during the show),
load_avg (at the end) and more.
Targets: 0 crashes, minutes_live == --minutes, rss_growth_mb <= 50, min_fps >= 28,
audio_gaps 0, alerts_missed 0.
"""

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import report  # noqa: E402
from harness.soak import run_soak  # noqa: E402

TARGETS = {"crashes": 0, "rss_growth_mb": 50, "min_fps": 28, "audio_gaps": 0, "alerts_missed": 0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the show")
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="run in DIR (new) and keep its logs there"
    )
    args = parser.parse_args()
    if args.minutes <= 0:
        parser.error("--minutes must be more than 0")
    if args.keep is not None:
        args.keep.mkdir(parents=True)
        result = run_soak(args.minutes, args.keep.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="harmonie-soak-") as work:
            result = run_soak(args.minutes, Path(work))
    met = (
        result["crashes"] == 0
        and result["minutes_live"] >= args.minutes - 0.05
        and (result["rss_growth_mb"] or 0) <= TARGETS["rss_growth_mb"]
        and (result["min_fps"] or 0) >= TARGETS["min_fps"]
        and result["audio_gaps"] == 0
        and result["alerts_missed"] == 0
    )
    report({**result, "targets_met": met})
    return 0


if __name__ == "__main__":
    sys.exit(main())
