"""Encode once per rendition: Opus 48 kHz for sound, VP8 or H.264 for pictures (PyAV), and
AAC for the RTMP restream (RTMP carries no Opus).

Each encoder publishes its `av.Packet`s through a `PacketFanout`; the recorder and the
WebRTC sender each get their own copy of every packet, so nothing is encoded twice and no
packet is shared between threads. Settings favour
latency: no B-frames, no look-ahead, constant bitrate, a keyframe at a fixed interval (and
on demand when a new viewer path joins).
"""

import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np

from media.errors import UnsupportedError
from media.packet_fanout import PacketFanout
from media.sources import AUDIO_RATE

VIDEO_ENCODERS = {"vp8": "libvpx", "h264": "libx264"}
MIME_TYPES = {"vp8": "video/VP8", "h264": "video/H264", "opus": "audio/opus"}
OPUS_FRAME = 960  # 20 ms at 48 kHz: the packet size WebRTC expects
AAC_FRAME = 1024  # FFmpeg's AAC encoder takes exactly 1024 samples a frame
# libvpx's VP8 speed in realtime mode. A positive `cpu-used` N is not a speed: it makes the
# encoder pick its own speed so that encoding takes (16 - N)/16 of the frame time, so 8 spent
# half of every frame's 33 ms (a third of a core at 720p30) on quality, and only sped up
# after a busy machine had already made it late. A negative N is the fixed speed N, as
# WebRTC's VP8 encoder uses on desktops (-6): 720p30 test card, 2.5 Mbit/s, 5.7 ms a picture
# and PSNR-Y 40.8 dB, against 7.5-13 ms and 41.2 dB for 8 (and with sensor-like noise
# 5.8 ms / 34.04 dB against 9.7 ms / 34.15 dB).
VP8_SPEED = -6


def available_video_codecs() -> list[str]:
    """The video codecs this PyAV build can encode, in order of preference."""
    found = []
    for name, encoder in VIDEO_ENCODERS.items():
        try:
            av.Codec(encoder, "w")
        except av.FFmpegError:
            continue
        found.append(name)
    return found


def choose_video_codec(accepted: list[str], preferred: str = "vp8") -> str:
    """Pick what both we and the ingest can do (`accepted`: lowercase codec names)."""
    ours = available_video_codecs()
    common = [c for c in ours if c in {a.lower() for a in accepted}]
    if not common:
        raise UnsupportedError(
            "The ingest accepts no video codec we can encode "
            f"(it offers {', '.join(accepted) or 'none'}; we have {', '.join(ours)})."
        )
    return preferred if preferred in common else common[0]


@dataclass(frozen=True)
class VideoSettings:
    codec: str = "vp8"
    width: int = 1280
    height: int = 720
    fps: int = 30
    bitrate: int = 2_500_000
    keyframe_interval_s: float = 2.0
    threads: int = 1

    @property
    def gop(self) -> int:
        return max(1, round(self.fps * self.keyframe_interval_s))


@dataclass(frozen=True)
class AudioSettings:
    channels: int = 2
    bitrate: int = 128_000


class EncoderStats:
    """Output bitrate over the last second and the time spent encoding one frame."""

    def __init__(self) -> None:
        self.frames = 0
        self.packets = 0
        self.bytes = 0
        self.keyframes = 0
        self.encode_ms = 0.0  # exponential average
        self._window: list[tuple[float, int]] = []
        self._lock = threading.Lock()

    def add(self, packets: list[av.Packet], seconds: float) -> None:
        now = time.monotonic()
        with self._lock:
            self.frames += 1
            self.encode_ms = (
                0.9 * self.encode_ms + 0.1 * seconds * 1000 if self.frames > 1 else seconds * 1000
            )
            for p in packets:
                self.packets += 1
                self.bytes += p.size
                self.keyframes += bool(p.is_keyframe)
                self._window.append((now, p.size))
            self._window = [(t, s) for t, s in self._window if now - t <= 1.0]

    @property
    def bitrate(self) -> float:
        with self._lock:
            return 8.0 * sum(s for _, s in self._window)


class _PacketEncoder:
    """Encodes with `self._context` and hands every packet to `self.packets` (the fan-out that
    gives the recorder and the WebRTC sender a copy each): the one place packets leave an
    encoder. The returned packets stay the caller's."""

    _context: Any
    packets: PacketFanout
    stats: EncoderStats
    time_base: Fraction

    def _encode_and_publish(self, frame: av.VideoFrame | av.AudioFrame) -> list[av.Packet]:
        started = time.perf_counter()
        packets = self._context.encode(frame)
        self.stats.add(packets, time.perf_counter() - started)
        return self._publish(packets)

    def flush(self) -> list[av.Packet]:
        return self._publish(self._context.encode(None))

    def _publish(self, packets: list[av.Packet]) -> list[av.Packet]:
        for packet in packets:
            packet.time_base = self.time_base
            self.packets.publish(packet)
        return packets


class VideoEncoder(_PacketEncoder):
    def __init__(self, settings: VideoSettings) -> None:
        if settings.codec not in VIDEO_ENCODERS:
            raise UnsupportedError(f"Unknown video codec '{settings.codec}' (use vp8 or h264).")
        if settings.codec not in available_video_codecs():
            raise UnsupportedError(
                f"This PyAV/FFmpeg build cannot encode {settings.codec.upper()}."
            )
        if settings.width % 2 or settings.height % 2:
            raise UnsupportedError("Video width and height must be even numbers.")
        self.settings = settings
        self.codec_name = settings.codec
        self.mime_type = MIME_TYPES[settings.codec]
        self.time_base = Fraction(1, settings.fps)
        self.packets = PacketFanout(f"video/{settings.codec}")
        self.packets.on_subscribe = self.request_keyframe
        self.stats = EncoderStats()
        self._keyframe_requested = False
        self._context = self._open()

    def _open(self) -> av.VideoCodecContext:
        s = self.settings
        ctx = av.CodecContext.create(VIDEO_ENCODERS[s.codec], "w")
        ctx.width, ctx.height, ctx.pix_fmt = s.width, s.height, "yuv420p"
        ctx.time_base = self.time_base
        ctx.framerate = Fraction(s.fps)
        ctx.bit_rate = s.bitrate
        ctx.gop_size = s.gop
        ctx.max_b_frames = 0
        ctx.thread_count = max(1, s.threads)
        rate = str(s.bitrate)
        if s.codec == "vp8":
            ctx.options = {
                "deadline": "realtime",
                "cpu-used": str(VP8_SPEED),
                "lag-in-frames": "0",
                "auto-alt-ref": "0",
                "error-resilient": "1",
                "static-thresh": "0",
                "minrate": rate,
                "maxrate": rate,
                "bufsize": str(s.bitrate // 2),
                "keyint_min": str(s.gop),
            }
        else:
            ctx.profile = "Constrained Baseline"
            ctx.options = {
                "preset": "veryfast",
                "tune": "zerolatency",
                "maxrate": rate,
                "bufsize": str(s.bitrate // 2),
                # Parameter sets before every keyframe: a viewer can join at any one.
                "x264-params": f"keyint={s.gop}:min-keyint={s.gop}:scenecut=0:repeat-headers=1",
            }
        self.codec_options = dict(ctx.options)  # as asked (libav consumes them at open)
        ctx.open()
        return ctx

    def request_keyframe(self) -> None:
        self._keyframe_requested = True

    def reconfigure(self, settings: VideoSettings) -> list[av.Packet]:
        """Encode the next pictures at `settings`' size and bitrate (same codec and frame
        rate): what the current codec context still holds is published, then a new one
        opens, whose first picture is a keyframe carrying the new parameters. The packets
        keep going to the same fan-out, so every subscriber (recording, WHIP, RTMP) goes on
        without a gap. Call it between two pictures, on the thread that encodes."""
        if (settings.codec, settings.fps) != (self.settings.codec, self.settings.fps):
            raise UnsupportedError("A running encoder changes size and bitrate only.")
        if settings.width % 2 or settings.height % 2:
            raise UnsupportedError("Video width and height must be even numbers.")
        current = self.settings
        self.settings = settings
        try:
            context = self._open()
        except av.FFmpegError:
            self.settings = current  # the current context goes on
            raise
        held = self.flush()
        self._context = context
        self._keyframe_requested = True
        return held

    def encode(self, frame: av.VideoFrame, index: int) -> list[av.Packet]:
        """Encode picture number `index` (pts in 1/fps) and publish its packets."""
        s = self.settings
        if frame.width != s.width or frame.height != s.height or frame.format.name != "yuv420p":
            frame = frame.reformat(width=s.width, height=s.height, format="yuv420p")
        frame.pts = index
        frame.time_base = self.time_base
        # Decoded frames arrive marked as I pictures; that would make every frame a keyframe.
        frame.pict_type = (
            av.video.frame.PictureType.I
            if self._keyframe_requested
            else av.video.frame.PictureType.NONE
        )
        self._keyframe_requested = False
        return self._encode_and_publish(frame)


class AudioEncoder(_PacketEncoder):
    """Opus at 48 kHz in 20 ms packets. Feed float32 blocks of `frame_size` samples."""

    codec_name = "opus"
    mime_type = MIME_TYPES["opus"]
    sample_rate = AUDIO_RATE
    frame_size = OPUS_FRAME
    label = "Opus"
    _encoder = "libopus"
    _format = "flt"  # the sample format the encoder takes
    _options: tuple[tuple[str, str], ...] = (("application", "lowdelay"), ("frame_duration", "20"))

    def __init__(self, settings: AudioSettings | None = None) -> None:
        self.settings = settings or AudioSettings()
        if self.settings.channels not in (1, 2):
            raise UnsupportedError(f"{self.label} here takes mono or stereo.")
        self.layout = "mono" if self.settings.channels == 1 else "stereo"
        self.time_base = Fraction(1, AUDIO_RATE)
        self.packets = PacketFanout(f"audio/{self.codec_name}")
        self.stats = EncoderStats()
        ctx = av.CodecContext.create(self._encoder, "w")
        ctx.sample_rate = AUDIO_RATE
        ctx.layout = self.layout
        ctx.format = self._format
        ctx.time_base = self.time_base
        ctx.bit_rate = self.settings.bitrate
        ctx.options = dict(self._options)
        ctx.open()
        self._context = ctx

    def encode(self, block: np.ndarray, first_sample: int) -> list[av.Packet]:
        """Encode `block` (frame_size x channels float32) whose first sample is `first_sample`."""
        data = np.ascontiguousarray(block, dtype=np.float32).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(data, format="flt", layout=self.layout)
        frame.sample_rate = AUDIO_RATE
        frame.pts = first_sample
        frame.time_base = self.time_base
        return self._encode_and_publish(frame)


class AacEncoder(AudioEncoder):
    """AAC-LC at 48 kHz for RTMP, fed the same program blocks as the Opus encoder.

    The program comes in 20 ms blocks (960 samples) and AAC takes 1024 a frame: an
    `av.AudioFifo` regroups them, keeping the sample clock (pts in samples) of the blocks.
    """

    codec_name = "aac"
    mime_type = "audio/aac"
    frame_size = AAC_FRAME
    label = "AAC"
    _encoder = "aac"
    _format = "fltp"
    _options = ()

    def __init__(self, settings: AudioSettings | None = None) -> None:
        super().__init__(settings)
        self._fifo = av.AudioFifo()

    def encode(self, block: np.ndarray, first_sample: int) -> list[av.Packet]:
        """Queue `block` (samples x channels float32, first sample `first_sample`); encode
        and publish every whole AAC frame now available."""
        planar = np.ascontiguousarray(np.asarray(block, dtype=np.float32).T)
        frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout=self.layout)
        frame.sample_rate = AUDIO_RATE
        frame.pts = first_sample
        frame.time_base = self.time_base
        self._fifo.write(frame)
        out: list[av.Packet] = []
        while (whole := self._fifo.read(AAC_FRAME)) is not None:
            out += self._encode_and_publish(whole)
        return out
