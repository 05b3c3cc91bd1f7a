"""Fans watching over WHEP, in a process of their own.

    python -m harness.viewer_process URL COUNT

Prints `{"ready": true}` once every player is connected, then a line
`{"t": <CLOCK_MONOTONIC s>, "frames": [video frames so far, one per player]}` every 0.25 s,
until its stdin closes. Fans are on other machines: what the soak does between its samples
(reading logs, signing tips) must not hold up their packets, so they do not share its
interpreter.
"""

import asyncio
import contextlib
import json
import sys
import time

from media.whep import WhepPlayer

SAMPLE_S = 0.25


def say(line: dict) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


async def watch(url: str, count: int) -> None:
    players = [WhepPlayer(url, decode=False) for _ in range(count)]
    loop = asyncio.get_running_loop()
    stdin_closed = asyncio.Event()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def until_eof() -> None:
        while await reader.read(1024):
            pass
        stdin_closed.set()

    eof = asyncio.create_task(until_eof())
    try:
        await asyncio.gather(*(p.start() for p in players))
        say({"ready": True})
        while not stdin_closed.is_set():
            say({"t": time.monotonic(), "frames": [p.counts.frames["video"] for p in players]})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stdin_closed.wait(), SAMPLE_S)
    finally:
        eof.cancel()
        for player in players:
            with contextlib.suppress(Exception):
                await player.stop()


def main() -> int:
    url, count = sys.argv[1], int(sys.argv[2])
    try:
        asyncio.run(watch(url, count))
    except Exception as exc:
        say({"error": f"{type(exc).__name__}: {exc}"})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
