"""The go-live mail to 1,000 followers, with the backend restarted in the middle.

Run: .venv/bin/python bench/notify.py [--followers 1000] [--stop term|kill]
The backend runs as its own process on SQLite with a real SMTP server (aiosmtpd) on loopback
(harness.mail_fanout); the warning window is set to 0 so the clock measures sending. Once 20 %
of the followers have their mail the backend is stopped (SIGTERM by default) and started again
on the same data dir. Prints one JSON object as its last line:
  golive_mail_p50_s, golive_mail_p99_s   the announcement (POST /streams) -> the mail in each
                                          follower's inbox, restart included. Target p99 <= 30 s.
  mails_lost                              followers who got no mail. Target 0.
  mails_repeated                          mails a follower got more than once. Target 0 (SIGTERM).
  at_restart                              followers reached when the first backend had stopped
  restart_gap_s                           the first backend stopped -> the second's first mail
                                          (its start-up: part of every follower's wait after it)
"""

import argparse
import asyncio
import signal
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import percentile, report
from harness.mail_fanout import fanout_across_restart


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, default=1000)
    parser.add_argument("--stop", choices=("term", "kill"), default="term")
    args = parser.parse_args()
    how = signal.SIGTERM if args.stop == "term" else signal.SIGKILL
    with tempfile.TemporaryDirectory(prefix="bench-notify-") as workdir:
        result = asyncio.run(
            fanout_across_restart(
                Path(workdir), args.followers, stop_with=how, stop_after=args.followers // 5
            )
        )
    report(
        {
            "followers": args.followers,
            "stop": args.stop,
            "golive_mail_p50_s": round(percentile(result.latencies_s, 50), 3),
            "golive_mail_p99_s": round(percentile(result.latencies_s, 99), 3),
            "mails_lost": result.lost,
            "mails_repeated": result.repeated,
            "at_restart": result.at_restart,
            "restart_gap_s": round(result.restart_gap_s, 3),
        }
    )


if __name__ == "__main__":
    main()
