"""The soak: the real studio window live for a long show, watched, chatted at and tipped.

`run_soak(minutes, work)` does what an artist and their fans do, for `minutes`:

- the studio (`harmonie-studio --profile local`, its own backend and devnet) runs under Xvfb
  with a tray host, a real gnome-keyring holding the artist's key and dunst showing
  notifications (`notifications_shown` counts the studio's Notify calls);
- the artist unlocks the wallet (Wallet dock: Unlock..., types the password) and presses
  Go Live on the Go Live page with its defaults: test pattern + tone, 1280x720 at 30 fps,
  VP8, recording on, the local backend's WHIP ingest. Widgets are found over AT-SPI and
  pressed with real X input events (xdotool); the studio has no test hook;
- 5 WHEP viewers (aiortc, counting encoded frames) watch the announced show;
- a signed-in fan says something in the show's chat WebSocket every 10 s and tips the artist
  on the devnet every minute (the first after 30 s);
- at the end the artist presses End, the studio is asked to quit (SIGTERM).

It returns the figures as a dict (see `SoakResult`). Progress goes to `say` (stderr).
"""

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path

import av
import httpx
from eth_account import Account
from web3 import Web3

from bench.common import process_tree, tree_rss_mb
from harness.atspi import Accessibility
from harness.cpu_shares import CpuShares
from harness.desktop import artist_desktop, import_private_key
from harness.fan import send_tip
from harness.notification_server import Bus, NotifyMonitor, dunst
from harness.studio_process import (
    log_path,
    pid_alive,
    read_events,
    start_studio,
    wait_for_event,
)
from harness.xinput import click, press, type_text
from studio.tips.desktop_notifications import APP_NAME as NOTIFYING_APP

# The devnet funds the standard test mnemonic's accounts (the same ones anvil uses).
ARTIST_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
FAN_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
PASSWORD = "correct horse battery staple"
RECORDING = "harmonie-live.mkv"  # the Go Live page's default, in the artist's home

VIEWERS = 5
CHAT_EVERY_S = 10.0
TIP_EVERY_S = 60.0
FIRST_TIP_S = 30.0
FPS_WINDOW_S = 10.0
GAP_S = 0.020
GAP_SKIP_S = 1.0  # the recording's first second is the audio branch's business
SAMPLE_EVERY_S = 1.0
RSS_EVERY_S = 10.0
ALERT_GRACE_S = 30.0

Say = Callable[[str], None]


ROOT = Path(__file__).resolve().parent.parent


class SoakError(RuntimeError):
    """The soak could not be set up (not a finding about the studio: those are figures)."""


@dataclass
class SoakResult:
    minutes: float
    crashes: int = 0
    minutes_live: float = 0.0
    rss_start_mb: float | None = None
    rss_end_mb: float | None = None
    rss_growth_mb: float | None = None
    min_fps: float | None = None
    # The same worst 10 s, counted where the studio hands frames to WebRTC: when this holds
    # 30 while min_fps dips, the frames were late on the way (relay, viewers), not missing.
    min_fps_sent: float | None = None
    slowest_at_s: float | None = None  # when that worst 10 s began, seconds after going live
    # % of one core per process (studio, backend, devnet, viewers, harness, others by name):
    # over the show, and over the 10 s sample holding the studio's worst 10 s
    cpu_pct_mean: dict[str, float] = field(default_factory=dict)
    cpu_pct_at_slowest: dict[str, float] = field(default_factory=dict)
    whip_reconnects: int = 0  # times the studio lost its ingest and connected again
    max_gc_pause_ms: float = 0.0
    # the GUI thread's longest late turn (stacks of any stall of 3 s or more are in the
    # studio's crash.log)
    max_main_thread_stall_ms: float = 0.0
    qt_thread_violations: int = 0
    audio_gaps: int | None = None
    max_audio_gap_ms: float | None = None
    tips_sent: int = 0
    tip_errors: list[str] = field(default_factory=list)
    alerts_shown: int = 0
    alerts_missed: int = 0
    notifications_shown: int = 0  # the studio's Notify calls the desktop's server received
    chat_sent: int = 0
    chat_echoed: int = 0
    chat_errors: list[str] = field(default_factory=list)
    viewer_frames: list[int] = field(default_factory=list)
    viewers: int = VIEWERS
    recording: str = ""
    studio_exit: int | None = None
    load_avg_during: float | None = None  # mean 1-minute load average over the show
    load_avg_max: float | None = None
    deaths: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def say_to_stderr(text: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# -- figures --------------------------------------------------------------------------------


def worst_window_fps(samples: list[tuple[float, int]], window_s: float = FPS_WINDOW_S) -> float:
    """The lowest frame rate over any `window_s` stretch of (time, frames so far) samples,
    counted from the first sample with a frame; 0 when there never was a frame."""
    return worst_window(samples, window_s)[0]


def worst_window(
    samples: list[tuple[float, int]], window_s: float = FPS_WINDOW_S
) -> tuple[float, float | None]:
    """(the lowest frame rate, the time its stretch began) as `worst_window_fps` counts."""
    started = [(t, n) for t, n in samples if n > 0]
    if not started:
        return 0.0, None
    worst, worst_at = None, None
    j = 0
    for t0, n0 in started:
        while j < len(started) and started[j][0] - t0 < window_s:
            j += 1
        if j == len(started):
            break
        t1, n1 = started[j]
        fps = (n1 - n0) / (t1 - t0)
        if worst is None or fps < worst:
            worst, worst_at = fps, t0
    if worst is None:  # shorter than one window: the whole span
        (t0, n0), (t1, n1) = started[0], started[-1]
        worst, worst_at = ((n1 - n0) / (t1 - t0) if t1 > t0 else 0.0), t0
    return worst, worst_at


def audio_gaps(path: Path, skip_s: float = GAP_SKIP_S, gap_s: float = GAP_S) -> list[float]:
    """Gaps longer than `gap_s` between the recording's decoded audio frames (pts against the
    previous frame's end), after its first `skip_s` seconds; seconds each."""
    gaps: list[float] = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        start = None
        previous_end = None
        for packet in container.demux(stream):
            for frame in packet.decode():
                if frame.pts is None:
                    continue
                at = float(frame.pts * frame.time_base)
                start = at if start is None else start
                if previous_end is not None and at - start >= skip_s and at - previous_end > gap_s:
                    gaps.append(at - previous_end)
                previous_end = at + frame.samples / frame.sample_rate
    return gaps


def describe_video(path: Path) -> str:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        rate = float(video.average_rate) if video.average_rate else 0.0
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else "-"
        return (
            f"{video.codec_context.name} {video.codec_context.width}x"
            f"{video.codec_context.height} {rate:.0f} fps + {audio}"
        )


def crash_dumped(env: dict[str, str]) -> bool:
    crash_log = log_path(env).parent / "crash.log"
    return crash_log.exists() and "Fatal Python error" in crash_log.read_text(errors="replace")


# -- the artist's hands ---------------------------------------------------------------------


def unlock_wallet(env: dict[str, str], a11y: Accessibility, password: str) -> None:
    click(env, a11y.wait_for("push button", "Unlock…", timeout=60))
    dialog = ("dialog", "Unlock wallet")
    click(env, a11y.wait_for("text", None, timeout=30, inside=dialog))
    type_text(env, password)
    press(env, "Return")
    deadline = time.monotonic() + 60
    while a11y.find(*dialog) is not None:
        if time.monotonic() > deadline:
            raise SoakError("the Unlock wallet dialog is still open 60 s after the password")
        time.sleep(0.25)


# -- the fans -------------------------------------------------------------------------------


class Viewers:
    """`count` WHEP viewers in their own process (harness/viewer_process.py)."""

    def __init__(self, url: str, count: int) -> None:
        self.url, self.count = url, count
        self.samples: list[list[tuple[float, int]]] = [[] for _ in range(count)]
        self.frames = [0] * count
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    async def start(self, timeout: float = 60.0) -> None:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "harness.viewer_process", self.url, str(self.count),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        assert self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), timeout)
        if not line or "ready" not in json.loads(line):
            raise SoakError(f"the viewers did not connect: {line.decode(errors='replace')}")
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        while line := await self._process.stdout.readline():
            sample = json.loads(line)
            if "frames" in sample:
                self.frames = list(sample["frames"])
                for samples, frames in zip(self.samples, self.frames, strict=True):
                    samples.append((float(sample["t"]), int(frames)))

    def min_fps(self) -> float:
        return min(worst_window_fps(s) for s in self.samples)

    async def stop(self) -> None:
        if self._process is None:
            return
        assert self._process.stdin is not None
        self._process.stdin.close()
        try:
            await asyncio.wait_for(self._process.wait(), 20)
        except TimeoutError:
            self._process.kill()
            await self._process.wait()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)


class Fan:
    """Signed in to the backend as a fan; chats over the show's WebSocket; tips on chain."""

    def __init__(self, backend: str, chain: dict, artist: str) -> None:
        from studio.social.backend_client import BackendClient, signer_for_key

        self.account = Account.from_key(FAN_KEY)
        self.client = BackendClient(
            backend, signer_for_key(self.account), chain_id=int(chain["chain_id"])
        )
        self.artist = artist
        self.w3 = Web3(Web3.HTTPProvider(f"{backend}{chain['rpc_path']}", {"timeout": 30}))
        from chain import contracts

        self.tipping = contracts.deployed("tipping", self.w3, chain["contracts"]["tipping"])
        self.sent_chat: set[str] = set()
        self.echoed: set[str] = set()
        self.chat_errors: list[str] = []
        self.tips: list[str] = []
        self.tip_errors: list[str] = []
        self._subscription = None
        self._reader: asyncio.Task[None] | None = None

    async def join_chat(self, stream_id: str) -> None:
        from backend.wire import ProfileIn

        await self.client.sign_in()
        await self.client.save_profile(ProfileIn(role="fan", display_name="Soak fan"))
        self._subscription = self.client.chat(stream_id)

        async def read() -> None:
            async for chat_event in self._subscription:
                if chat_event.kind == "message" and chat_event.message is not None:
                    self.echoed.add(chat_event.message.text)
                elif chat_event.kind == "error":
                    self.chat_errors.append(str(chat_event.data.get("detail", chat_event.data)))

        self._reader = asyncio.ensure_future(read())
        await asyncio.wait_for(self._subscription.connected.wait(), 30)

    async def chat(self, index: int) -> None:
        text = f"soak message {index}"
        assert self._subscription is not None
        self.sent_chat.add(text)  # one that cannot go never comes back: counted as lost
        try:
            await self._subscription.say(text)
        except Exception as exc:
            self.chat_errors.append(f"sending {text!r}: {exc}")

    def tip_or_note(self, index: int) -> None:
        """tip(), with a failure noted in `tip_errors` (the show goes on)."""
        try:
            self.tip(index)
        except Exception as exc:
            self.tip_errors.append(f"tip {index}: {type(exc).__name__}: {exc}")

    def tip(self, index: int) -> str:
        """Tip 0.01 coin (+ index wei, so each amount differs); the transaction hash."""
        value = Web3.to_wei(Decimal("0.01"), "ether") + index
        tx_hash = send_tip(
            self.w3, self.tipping, self.account, self.artist, value, f"soak tip {index}"
        )
        self.tips.append(tx_hash)
        return tx_hash

    async def close(self) -> None:
        if self._subscription is not None:
            await self._subscription.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        await self.client.aclose()


# -- the show -------------------------------------------------------------------------------


async def _find_show(backend: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=10) as client:
        while time.monotonic() < deadline:
            items = (await client.get(f"{backend}/live")).json().get("items", [])
            if items:
                return str(items[0]["id"])
            await asyncio.sleep(0.5)
    raise SoakError(
        "the show was never announced (no stream in GET /live): is the wallet unlocked?"
    )


async def _wait_on_relay(backend: str, stream_id: str, timeout: float = 60.0) -> None:
    """Until the studio's publisher is on the relay with both tracks (viewers see them)."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=10) as client:
        while time.monotonic() < deadline:
            for stream in (await client.get(f"{backend}/relay/live")).json():
                if stream["stream"] == stream_id and stream["video_codec"]:
                    return
            await asyncio.sleep(0.25)
    raise SoakError(f"the studio never published stream {stream_id} to the relay")


def _end_orphan(pid: int, grace_s: float = 5.0) -> bool:
    """End the studio's backend if it outlived the studio (it is ours to clean up); True if
    it had to be ended."""
    deadline = time.monotonic() + grace_s
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if not pid_alive(pid):
        return False
    for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait_s
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    return True


def _studio_health(env: dict[str, str], result: SoakResult) -> None:
    """What the studio logged about itself: frames sent, collector pauses, Qt misuse."""
    sent: list[tuple[float, int]] = []
    before = 0  # frames sent on the connections before the current one
    for e in read_events(log_path(env)):
        name = e.get("event")
        if name == "live_stats" and "frames_sent" in e:
            on_this = int(e["frames_sent"])  # counted per connection: a reconnect restarts it
            if sent and before + on_this < sent[-1][1]:
                before = sent[-1][1]
            sent.append((float(e["elapsed_s"]), before + on_this))
            result.whip_reconnects = max(result.whip_reconnects, int(e.get("reconnects", 0)))
        elif name == "gc_pause":
            result.max_gc_pause_ms = max(result.max_gc_pause_ms, float(e["ms"]))
        elif name == "main_thread_stall":
            result.max_main_thread_stall_ms = max(result.max_main_thread_stall_ms, float(e["ms"]))
        elif name == "qt_thread_violation":
            result.qt_thread_violations += 1
    if len(sent) >= 2:
        fps, at = worst_window(sent)
        result.min_fps_sent = round(fps, 1)
        result.slowest_at_s = None if at is None else round(at, 1)


def _tray_alerts(env: dict[str, str]) -> set[str]:
    """Tips the artist was told of: a desktop notification, or the tray's own balloon where
    no notification server answers."""
    return {
        str(e["tx_hash"]).lower()
        for e in read_events(log_path(env))
        if e.get("event") == "tray_message"
        and (e.get("in_tray") or e.get("via") in ("dbus", "native"))
    }


async def _show(
    env: dict[str, str], session_bus: str, minutes: float, work: Path, say: Say
) -> SoakResult:
    result = SoakResult(minutes=minutes)
    say("importing the artist's key into gnome-keyring")
    artist = await asyncio.to_thread(import_private_key, env, ARTIST_KEY, PASSWORD)
    studio = start_studio(env, "--profile", "local", output=work / "studio-output.log")
    log = log_path(env)
    loop_time = time.monotonic
    backend_pid: int | None = None
    try:
        backend_started = await asyncio.to_thread(
            wait_for_event, log, "backend_started", 120, studio
        )
        backend, backend_pid = backend_started["url"], int(backend_started["pid"])
        await asyncio.to_thread(wait_for_event, log, "services_ready", 120, studio)
        chain = httpx.get(f"{backend}/chain", timeout=10).json()
        fan = Fan(backend, chain, artist)

        a11y = await asyncio.to_thread(Accessibility, session_bus)
        try:
            say("unlocking the wallet from the Wallet dock")
            await asyncio.to_thread(unlock_wallet, env, a11y, PASSWORD)
            say("opening the Go Live page and pressing Go Live")
            tab = await asyncio.to_thread(a11y.wait_for, "page tab", "Go Live", 30)
            await asyncio.to_thread(click, env, tab)
            go_live = await asyncio.to_thread(a11y.wait_for, "push button", "Go Live", 60)
            await asyncio.to_thread(click, env, go_live)
            await asyncio.to_thread(wait_for_event, log, "live_started", 60, studio)
            live_at = loop_time()
            stream_id = await _find_show(backend)
            await _wait_on_relay(backend, stream_id)
            say(f"live as stream {stream_id}; {VIEWERS} viewers joining")
            viewers = Viewers(f"{backend}/whep/{stream_id}", VIEWERS)
            await viewers.start()
            await fan.join_chat(stream_id)
            roots = {studio.pid: "studio", backend_pid: "backend", os.getpid(): "harness"}
            roots |= {pid: "devnet" for pid in process_tree(backend_pid)[1:]}
            if viewers.pid is not None:
                roots[viewers.pid] = "viewers"
            cpu = CpuShares(roots)

            result = await _keep_live(
                env, studio, backend_pid, minutes, live_at, viewers, fan, result, say, cpu
            )
            if studio.poll() is None:
                say("pressing End")
                end = await asyncio.to_thread(a11y.wait_for, "push button", "End", 30)
                await asyncio.to_thread(click, env, end)
                await asyncio.to_thread(wait_for_event, log, "live_ended", 60, studio)
            deadline = loop_time() + ALERT_GRACE_S  # the last tip's alert, the last echo
            while studio.poll() is None and loop_time() < deadline:
                if {t.lower() for t in fan.tips} <= _tray_alerts(env) and (
                    fan.sent_chat <= fan.echoed
                ):
                    break
                await asyncio.sleep(0.5)
            await viewers.stop()
            await fan.close()
        finally:
            a11y.close()

        shown = _tray_alerts(env)
        result.tips_sent = len(fan.tips)  # mined; a tip that failed to go is in tip_errors
        result.tip_errors = fan.tip_errors[:5]
        result.alerts_shown = len(shown)
        result.alerts_missed = len({t.lower() for t in fan.tips} - shown)
        result.chat_sent = len(fan.sent_chat)
        result.chat_echoed = len(fan.sent_chat & fan.echoed)
        result.chat_errors = fan.chat_errors[:5]
        result.min_fps = round(viewers.min_fps(), 1)
        _studio_health(env, result)
        result.cpu_pct_mean = cpu.mean()
        if result.slowest_at_s is not None:
            result.cpu_pct_at_slowest = cpu.around(result.slowest_at_s + FPS_WINDOW_S / 2)
        result.viewer_frames = list(viewers.frames)
        if studio.poll() is None:
            studio.send_signal(signal.SIGTERM)
            try:
                result.studio_exit = await asyncio.to_thread(studio.wait, 30)
            except subprocess.TimeoutExpired:
                result.deaths.append("the studio did not quit within 30 s of SIGTERM")
        else:
            result.studio_exit = studio.returncode
        if crash_dumped(env):
            result.deaths.append("crash.log holds a fatal error dump")
            result.crashes = max(result.crashes, 1)
    finally:
        if studio.poll() is None:
            studio.kill()
            studio.wait()
        if backend_pid is not None and _end_orphan(backend_pid) and studio.returncode == 0:
            result.deaths.append("the local backend kept running after the studio quit")

    recording = Path(env["HOME"]) / RECORDING
    if recording.exists():
        result.recording = describe_video(recording)
        gaps = audio_gaps(recording)
        result.audio_gaps = len(gaps)
        result.max_audio_gap_ms = round(1000 * max(gaps), 1) if gaps else 0.0
    else:
        result.deaths.append(f"no recording at {recording}")
    return result


async def _keep_live(
    env: dict[str, str],
    studio: subprocess.Popen[bytes],
    backend_pid: int,
    minutes: float,
    live_at: float,
    viewers: Viewers,
    fan: Fan,
    result: SoakResult,
    say: Say,
    cpu: CpuShares,
) -> SoakResult:
    """Hold the show for `minutes` (from live_started): sample, chat, tip, watch for deaths."""
    duration = minutes * 60
    rss_start_at = live_at + min(30.0, duration / 4)  # encoders and relay warmed up
    next_chat, next_tip, next_rss = live_at + CHAT_EVERY_S, live_at + FIRST_TIP_S, live_at
    chats, tips = itertools.count(1), itertools.count(1)
    loads: list[float] = []
    tipping: asyncio.Future[None] | None = None
    backend_alive = True
    while True:
        now = time.monotonic()
        if studio.poll() is not None:
            result.crashes += 1
            result.deaths.append(f"studio exited with {studio.returncode} while live")
            break
        if backend_alive and not pid_alive(backend_pid):
            backend_alive = False
            result.crashes += 1
            result.deaths.append("the local backend died while live")
        if now - live_at >= duration:
            break
        if now >= next_chat:
            next_chat += CHAT_EVERY_S
            await fan.chat(next(chats))
        if now >= next_tip and (tipping is None or tipping.done()):
            next_tip += TIP_EVERY_S
            tipping = asyncio.ensure_future(asyncio.to_thread(fan.tip_or_note, next(tips)))
        if now >= next_rss:
            next_rss += RSS_EVERY_S
            cpu.sample(now - live_at)
            loads.append(os.getloadavg()[0])
            rss = tree_rss_mb(studio.pid)
            if result.rss_start_mb is None and now >= rss_start_at:
                result.rss_start_mb = round(rss, 1)
                say(f"RSS at start {rss:.0f} MB (studio and its backend)")
            result.rss_end_mb = round(rss, 1)
            say(
                f"{(now - live_at) / 60:.1f} min live, RSS {rss:.0f} MB, "
                f"load {loads[-1]:.2f}, tips {len(fan.tips)}, alerts {len(_tray_alerts(env))}, "
                f"viewer frames {min(viewers.frames)}, "
                f"chat {len(fan.sent_chat & fan.echoed)}/{len(fan.sent_chat)}"
            )
        await asyncio.sleep(SAMPLE_EVERY_S)
    result.minutes_live = round((time.monotonic() - live_at) / 60, 2)
    if result.rss_start_mb is not None and result.rss_end_mb is not None:
        result.rss_growth_mb = round(result.rss_end_mb - result.rss_start_mb, 1)
    if loads:
        result.load_avg_during = round(sum(loads) / len(loads), 2)
        result.load_avg_max = round(max(loads), 2)
    if tipping is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(tipping, 60)
    return result


def run_soak(minutes: float, work: Path, say: Say = say_to_stderr) -> dict[str, object]:
    """Run the whole soak in `work` (a fresh directory); the figures."""
    if minutes <= 0:
        raise SoakError("--minutes must be more than 0")
    with artist_desktop(work) as (env, keyring):
        # The artist's desktop shows notifications: without a server, D-Bus would start (and
        # lose) one at every tip, which is not what a desktop costs.
        bus = Bus(keyring.address, {**os.environ, "DBUS_SESSION_BUS_ADDRESS": keyring.address})
        with dunst(bus, env, work), NotifyMonitor(bus, work / "notify.log") as notify:
            result = asyncio.run(_show(env, keyring.address, minutes, work, say))
            result.notifications_shown = sum(
                call.app_name == NOTIFYING_APP for call in notify.calls()
            )
        return result.as_dict()
