"""A paced, already-encoded test source: VP8 (or H.264) pictures and an Opus tone.

Stands in for the studio's encoder in relay tests and the live bench. A thread draws each
picture (a moving bar; optionally the wall clock stamped as 48 black/white blocks for
glass-to-glass latency), encodes it with PyAV and hands the `av.Packet`s to aiortc tracks.
Every packet's bytes are remembered, so a test can check viewers receive exactly them.
"""

import asyncio
import contextlib
import fractions
import math
import threading
import time
from collections import deque

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from harness.packet_stamp import STAMP_BITS, STAMP_ROWS, stamp_clock


class PacketTrack(MediaStreamTrack):
    def __init__(self, kind: str, codec_name: str, source: "EncodedTestSource") -> None:
        super().__init__()
        self.kind = kind
        self.codec_name = codec_name
        self._source = source
        self._queue: asyncio.Queue[av.Packet | None] = asyncio.Queue()

    def request_keyframe(self) -> None:
        self._source.keyframe_requests += 1
        self._source.force_keyframe = True

    def put(self, packet: av.Packet | None) -> None:
        if self._queue.qsize() > 120:  # nobody reading: keep only recent media
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
        self._queue.put_nowait(packet)

    async def recv(self) -> av.Packet:
        packet = await self._queue.get()
        if packet is None:
            raise MediaStreamError
        return packet


class EncodedTestSource:
    def __init__(
        self,
        width: int = 320,
        height: int = 240,
        fps: int = 30,
        codec: str = "vp8",
        tone_hz: float = 1000.0,
        keyframe_interval_s: float = 1.0,
        bitrate: int = 600_000,
        stamp_clock: bool = False,
        threads: int = 1,
    ) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.tone_hz = tone_hz
        self.stamp = stamp_clock
        self.sent_video: deque[bytes] = deque(maxlen=2000)
        self.keyframe_requests = 0
        self.force_keyframe = False
        self.encode_seconds = 0.0
        self.frames_encoded = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        name = {"vp8": "VP8", "h264": "H264"}[codec]
        self.video = PacketTrack("video", name, self)
        self.audio = PacketTrack("audio", "opus", self)
        self._video_ctx = av.CodecContext.create({"vp8": "libvpx", "h264": "libx264"}[codec], "w")
        ctx = self._video_ctx
        ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
        ctx.time_base = fractions.Fraction(1, fps)
        ctx.framerate = fractions.Fraction(fps)
        ctx.bit_rate = bitrate
        ctx.gop_size = int(keyframe_interval_s * fps)
        ctx.max_b_frames = 0
        ctx.thread_count = threads
        if codec == "vp8":
            ctx.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        else:
            ctx.profile = "Constrained Baseline"
            ctx.options = {
                "preset": "ultrafast",
                "tune": "zerolatency",
                "x264-params": f"keyint={ctx.gop_size}:scenecut=0:repeat-headers=1",
            }
        self._audio_ctx = av.CodecContext.create("libopus", "w")
        actx = self._audio_ctx
        actx.sample_rate, actx.layout, actx.format = 48000, "mono", "s16"
        actx.time_base = fractions.Fraction(1, 48000)
        actx.bit_rate = 64000
        actx.options = {"application": "lowdelay", "frame_duration": "20"}

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for target in (self._run_video, self._run_audio):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _post(self, track: PacketTrack, packet: av.Packet) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(track.put, packet)

    def _picture(self, index: int) -> av.VideoFrame:
        yuv = np.full((self.height * 3 // 2, self.width), 128, dtype=np.uint8)
        yuv[: self.height] = 110
        bar = (index * 4) % self.width
        yuv[: self.height, bar : bar + max(self.width // 16, 2)] = 200
        if self.stamp:
            block = self.width // (STAMP_BITS // STAMP_ROWS)
            stamp_clock(yuv, self.height, int(time.time() * 1000), block)
        return av.VideoFrame.from_ndarray(yuv, format="yuv420p")

    def _run_video(self) -> None:
        start = time.monotonic()
        index = 0
        while not self._stop.is_set():
            due = start + index / self.fps
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            frame = self._picture(index)
            frame.pts = index
            frame.time_base = self._video_ctx.time_base
            if self.force_keyframe:
                self.force_keyframe = False
                frame.pict_type = av.video.frame.PictureType.I
            began = time.perf_counter()
            packets = self._video_ctx.encode(frame)
            self.encode_seconds += time.perf_counter() - began
            self.frames_encoded += 1
            for packet in packets:
                packet.time_base = self._video_ctx.time_base
                self.sent_video.append(bytes(packet))
                self._post(self.video, packet)
            index += 1

    def _run_audio(self) -> None:
        start = time.monotonic()
        sample = 0
        step = 960
        while not self._stop.is_set():
            due = start + sample / 48000
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            t = (np.arange(sample, sample + step) / 48000.0).astype(np.float64)
            pcm = (0.5 * 32767 * np.sin(2 * math.pi * self.tone_hz * t)).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = 48000
            frame.pts = sample
            frame.time_base = self._audio_ctx.time_base
            for packet in self._audio_ctx.encode(frame):
                packet.time_base = self._audio_ctx.time_base
                self._post(self.audio, packet)
            sample += step
