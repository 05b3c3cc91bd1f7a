"""Write the encoded packets to a local file (.mkv, .webm, .mp4) without re-encoding.

The recorder subscribes to the encoders' packet fan-outs, so it keeps writing whatever the
network does. Each packet it gets is its own (the fan-out hands every subscriber a copy), so
it rescales and muxes them in place on the recorder's own thread; a slow disk never holds
up the encoders.
"""

import logging
import queue
import threading
from collections import deque
from fractions import Fraction
from pathlib import Path

import av

from media.encoder import AudioEncoder, VideoEncoder
from media.errors import MediaError, UnsupportedError

log = logging.getLogger(__name__)

CONTAINERS = {".mkv": "matroska", ".webm": "webm", ".mp4": "mp4"}
EARLY_AUDIO_PACKETS = 100  # 2 s of 20 ms Opus packets
ALLOWED = {
    "matroska": {"vp8", "h264", "opus"},
    "webm": {"vp8", "opus"},
    "mp4": {"h264", "opus"},
}


def check_recording_target(path: Path, codecs: list[str]) -> str:
    """The container format for `path`, or a clear error when it cannot hold `codecs`."""
    fmt = CONTAINERS.get(path.suffix.lower())
    if fmt is None:
        raise UnsupportedError(
            f"Cannot record to '{path.name}': use a .mkv, .webm or .mp4 file name."
        )
    refused = [c for c in codecs if c not in ALLOWED[fmt]]
    if refused:
        hint = ".mkv" if fmt != "matroska" else "another format"
        raise UnsupportedError(
            f"A {path.suffix} file cannot hold {', '.join(c.upper() for c in refused)}; "
            f"record to {hint} instead."
        )
    return fmt


class Recorder:
    def __init__(
        self,
        path: str | Path,
        video: VideoEncoder | None = None,
        audio: AudioEncoder | None = None,
    ) -> None:
        if video is None and audio is None:
            raise MediaError("Nothing to record: no video and no audio.")
        self.path = Path(path)
        codecs = [e.codec_name for e in (video, audio) if e is not None]
        fmt = check_recording_target(self.path, codecs)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._container = av.open(str(self.path), "w", format=fmt)
        except (OSError, av.FFmpegError) as exc:
            raise MediaError(f"Cannot write the recording to {self.path}: {exc}") from exc
        self.error: str | None = None
        self.packets_written = 0
        self._streams: dict[str, av.stream.Stream] = {}
        self._offset_s: Fraction | None = None  # media time of the first packet kept
        self._need_keyframe = video is not None
        # Sound that arrives before the first keyframe (a keyframe takes longest to encode):
        # what of it falls at or after that picture is written once the picture is in.
        self._early_audio: deque[av.Packet] = deque(maxlen=EARLY_AUDIO_PACKETS)
        self._queue: queue.Queue[tuple[str, av.Packet] | None] = queue.Queue()
        self._unsubscribe = []
        if video is not None:
            s = video.settings
            self._streams["video"] = self._container.add_mux_stream(
                video.codec_name, rate=s.fps, width=s.width, height=s.height
            )
            self._unsubscribe.append(video.packets.subscribe(lambda p: self._put("video", p)))
        if audio is not None:
            # An Opus stream needs its OpusHead (extradata); a same-configured encoder
            # context, which PyAV opens but we never feed, supplies exactly that.
            self._streams["audio"] = self._container.add_stream(
                "libopus", rate=audio.sample_rate, layout=audio.layout
            )
            self._unsubscribe.append(audio.packets.subscribe(lambda p: self._put("audio", p)))
        self._thread = threading.Thread(target=self._write_loop, name="recorder", daemon=True)
        self._thread.start()

    def _put(self, kind: str, packet: av.Packet) -> None:
        self._queue.put((kind, packet))

    def _write_loop(self) -> None:
        while (item := self._queue.get()) is not None:
            if self.error:
                continue
            kind, packet = item
            try:
                self._write(kind, packet)
            except (av.FFmpegError, OSError) as exc:
                self.error = f"The recording stopped: {exc}"
                log.error("%s", self.error)

    def _write(self, kind: str, packet: av.Packet) -> None:
        if packet.pts is None or packet.time_base is None:
            return
        if self._offset_s is None:
            # Start on a keyframe so the file plays from its first picture.
            if self._need_keyframe and (kind != "video" or not packet.is_keyframe):
                if kind == "audio":
                    self._early_audio.append(packet)
                return
            self._offset_s = packet.pts * packet.time_base
            self._mux(kind, packet)
            early, self._early_audio = self._early_audio, deque()
            for sound in early:
                if (sound.pts + (sound.duration or 0)) * sound.time_base > self._offset_s:
                    self._mux("audio", sound)
            return
        self._mux(kind, packet)

    def _mux(self, kind: str, packet: av.Packet) -> None:
        assert self._offset_s is not None
        shift = round(self._offset_s / packet.time_base)
        packet.pts -= shift
        if packet.dts is not None:
            packet.dts -= shift
        packet.stream = self._streams[kind]
        self._container.mux(packet)
        self.packets_written += 1

    def close(self) -> None:
        """Stop listening, write what is queued and finish the file (idempotent)."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        try:
            self._container.close()
        except (av.FFmpegError, OSError) as exc:
            self.error = self.error or f"The recording could not be finished: {exc}"
        log.info("recording %s: %d packets", self.path, self.packets_written)
