"""Go live end to end, meant to run inside a network namespace that holds only `lo`.

    unshare -n -- sh -c 'ip link set lo up; exec python tests/live_relay/e2e_scenario.py ...'

1. starts the real backend (`python -m backend`) on 127.0.0.1 with a fresh data dir;
2. builds the studio's media path from media/: lavfi test pattern + tone -> VP8/Opus
   encoders -> the same packets to a Recorder and to a WhipPublisher (EncodedTrack);
3. headless Chromium (fan_page_check.mjs) opens the fan page, plays the stream over WHEP and
   measures what it decodes;
4. with --drop-seconds, takes `lo` down that long between two measurements: the publisher
   must reconnect, the same page must get pictures again, the recording must have no gap.

Prints one JSON object as its last line.
"""

import argparse
import asyncio
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import av
import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from media.encoded_track import EncodedTrack  # noqa: E402
from media.encoder import AudioEncoder, VideoEncoder, VideoSettings  # noqa: E402
from media.recorder import Recorder  # noqa: E402
from media.sources import pattern_source, tone_source  # noqa: E402
from media.whip import WhipPublisher  # noqa: E402
from tests.live_relay.artist import announce_stream  # noqa: E402

NODE_SCRIPT = Path(__file__).with_name("fan_page_check.mjs")


class TestProgram:
    """The studio's encode-once path, minus the mixer: pattern + tone, encoded in threads."""

    def __init__(self, width: int, height: int, fps: int, tone_hz: float, record: Path) -> None:
        self.video_source = pattern_source(width, height, fps)
        self.audio_source = tone_source(frequency=tone_hz, level_dbfs=-6.0, channels=2)
        settings = VideoSettings(
            codec="vp8", width=width, height=height, fps=fps, bitrate=800_000, threads=1
        )
        self.video = VideoEncoder(settings)
        self.audio = AudioEncoder()
        self.recorder = Recorder(record, video=self.video, audio=self.audio)
        self._threads = [
            threading.Thread(target=self._encode_video, daemon=True),
            threading.Thread(target=self._encode_audio, daemon=True),
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def tracks(self) -> list[EncodedTrack]:
        return [
            EncodedTrack.for_encoder("audio", self.audio),
            EncodedTrack.for_encoder("video", self.video),
        ]

    def _encode_video(self) -> None:
        for index, frame in enumerate(self.video_source.frames()):
            self.video.encode(frame, index)

    def _encode_audio(self) -> None:
        sample = 0
        for block in self.audio_source.blocks():
            self.audio.encode(block, sample)
            sample += len(block)

    def stop(self) -> None:
        self.video_source.close()
        self.audio_source.close()
        for thread in self._threads:
            thread.join(timeout=5)
        self.recorder.close()


def recording_gaps(path: Path) -> dict[str, object]:
    """Largest hole between consecutive packets of each stream, and the covered duration."""
    out: dict[str, object] = {}
    with av.open(str(path)) as container:
        for stream in container.streams:
            times = sorted(
                float(p.pts * p.time_base)
                for p in container.demux(stream)
                if p.pts is not None and p.size
            )
            container.seek(0)
            gaps = [b - a for a, b in itertools.pairwise(times)]
            out[stream.type] = {
                "packets": len(times),
                "duration_s": round(times[-1] - times[0], 3) if times else 0,
                "max_gap_s": round(max(gaps), 3) if gaps else None,
            }
    return out


async def start_backend(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    log = open(data_dir / "backend.log", "wb")  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(
        [
            sys.executable, "-m", "backend", "--host", "127.0.0.1", "--port", str(port),
            "--data-dir", str(data_dir),
            "--database-url", f"sqlite+aiosqlite:///{data_dir / 'backend.db'}",
            "--log-level", "warning",
        ],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    async with httpx.AsyncClient(timeout=2) as client:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError(
                    "backend exited: " + (data_dir / "backend.log").read_text()[-2000:]
                )
            try:
                if (await client.get(f"http://127.0.0.1:{port}/relay/live")).status_code == 200:
                    return process
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("backend did not start in 30 s")


async def start_anvil(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [str(ROOT / "node_modules" / ".bin" / "anvil"), "--host", "127.0.0.1",
         "--port", str(port), "--silent"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    async with httpx.AsyncClient(timeout=2) as client:
        for _ in range(300):
            try:
                await client.post(
                    f"http://127.0.0.1:{port}",
                    json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                )
                return process
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise RuntimeError("anvil did not start")


def set_loopback(up: bool) -> None:
    subprocess.run(["ip", "link", "set", "lo", "up" if up else "down"], check=True)


async def run(args: argparse.Namespace) -> dict[str, object]:
    os.environ.setdefault("HARMONIE_ICE_LOOPBACK", "only")
    work = Path(tempfile.mkdtemp(prefix="harmonie-e2e-"))
    port = 18000 + os.getpid() % 2000
    backend = await start_backend(work, port)
    url = f"http://127.0.0.1:{port}"
    token = (work / "ingest-token").read_text().strip()
    anvil = None
    if args.chat:
        args.stream = (await announce_stream(url, "E2E session")).stream_id
        anvil = await start_anvil(port + 1)
    program = TestProgram(args.width, args.height, args.fps, args.tone, work / "recording.mkv")
    program.start()
    states: list[str] = []
    publisher = WhipPublisher(
        f"{url}/whip/{args.stream}",
        token,
        program.tracks(),
        feedback_timeout_s=2.0,
        backoff_max_s=2.0,
        on_state=lambda state, error: states.append(state),
    )
    result: dict[str, object] = {"stream": args.stream}
    node = None
    try:
        await publisher.start()
        result["codecs"] = publisher.codecs
        phases = 2 if args.drop_seconds else 1
        node = await asyncio.create_subprocess_exec(
            "node", str(NODE_SCRIPT), "--url", url, "--stream", args.stream,
            "--seconds", str(args.seconds), "--phases", str(phases),
            *(["--screenshot", args.screenshot] if args.screenshot else []),
            *(["--chat", args.chat, "--wallet-rpc", f"http://127.0.0.1:{port + 1}"]
              if args.chat else []),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, cwd=ROOT,
        )  # fmt: skip
        assert node.stdout is not None and node.stdin is not None
        browser: dict[str, object] = {}
        while line := (await asyncio.wait_for(node.stdout.readline(), 120)).decode():
            if line.startswith("PHASE ") and json.loads(line[6:])["index"] == 0 and phases > 1:
                recorded_before = program.recorder.packets_written
                set_loopback(False)
                await asyncio.sleep(args.drop_seconds)
                set_loopback(True)
                deadline = time.monotonic() + 60
                while not (publisher.reconnects >= 1 and publisher.state == "live"):
                    if time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.1)
                result["reconnected"] = publisher.state == "live" and publisher.reconnects >= 1
                result["recorded_during_drop"] = program.recorder.packets_written - recorded_before
                await asyncio.sleep(2.0)  # the next keyframe reaches the page
                node.stdin.write(b"go\n")
                await node.stdin.drain()
            elif line.startswith("RESULT "):
                browser = json.loads(line[7:])
        await node.wait()
        assert node.stderr is not None
        result["browser_stderr"] = (await node.stderr.read()).decode()[-2000:]
        result["browser"] = browser
        stats = await publisher.stats()
        result["publisher"] = {"state": stats.state, "reconnects": stats.reconnects}
        result["states"] = states
    finally:
        set_loopback(True)
        if node is not None and node.returncode is None:
            node.kill()
        await publisher.stop()
        program.stop()
        if anvil is not None:
            anvil.terminate()
            anvil.wait(10)
        backend.terminate()
        try:
            backend.wait(10)
        except subprocess.TimeoutExpired:
            backend.kill()
    result["recording"] = recording_gaps(work / "recording.mkv")
    result["recording_error"] = program.recorder.error
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stream", default="e2e")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--tone", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--drop-seconds", type=float, default=0.0)
    parser.add_argument("--screenshot", help="save the fan page as a PNG at the end")
    parser.add_argument("--chat", help="sign in on the page with a wallet and send this")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
