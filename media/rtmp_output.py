"""Restream the show over RTMP(S) (YouTube, Twitch, any custom ingest) beside WHIP.

One H.264 encode and one AAC encode feed every destination: `RtmpOutput` subscribes each
destination to the show's H.264 encoder (the WHIP one when the show is H.264, else one extra
encoder the session attaches to the pipeline) and encodes the mixer's program blocks to AAC
once, on its own thread (RTMP carries no Opus). Each destination muxes FLV on its own thread,
so a slow or dead server never holds up the clocks, the other destinations, the WHIP show or
the recording.

A destination is connecting, live, reconnecting (after a drop or a failed attempt, with
backoff) or failed (it gave up: `max_attempts` failed connections in a row). Each
(re)connection starts at a keyframe, with timestamps from zero. Its figures (`stats`): bytes
and pictures written, pictures dropped because the server could not keep up, and pictures
written more than LATE_AFTER_S after they were encoded (late).

Stream keys are secrets: they are in the URL FFmpeg opens, so every error message is scrubbed
of them before it is logged or shown.
"""

import contextlib
import io
import logging
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from urllib.parse import urlsplit

import av
import numpy as np

from media.encoder import AacEncoder, AudioSettings, VideoEncoder

log = logging.getLogger(__name__)

BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 15.0)  # then every 15 s
MAX_ATTEMPTS = 12  # failed connections in a row before a destination gives up (~2 min)
MAX_QUEUED = 300  # packets (~4 s of 30 fps video and AAC) before a slow server loses some
FLV_TIME_BASE = Fraction(1, 1000)
HANDSHAKE_TIMEOUT_S = 5.0
LATE_AFTER_S = 0.5

StateCallback = Callable[[str, str, str | None], None]  # (destination name, state, error)


@dataclass(frozen=True)
class RtmpDestination:
    """Where to restream: `url` is the server's RTMP(S) URL, `key` the stream key."""

    name: str
    url: str
    key: str = field(default="", repr=False)

    @property
    def target(self) -> str:
        """The URL FFmpeg opens: the server URL with the key as its last path segment."""
        return f"{self.url.rstrip('/')}/{self.key}" if self.key else self.url

    @property
    def where(self) -> str:
        """The server URL without key, credentials or query: safe to show and log."""
        parts = urlsplit(self.url)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"

    def scrub(self, text: str) -> str:
        """`text` with the key (and the URL holding it) taken out."""
        text = text.replace(self.target, self.where)
        if len(self.key) >= 4:  # a shorter one is no secret, and would garble the text
            text = text.replace(self.key, "•••")
        return text


def check_rtmp_url(url: str) -> str:
    """`url` if FFmpeg can publish to it (rtmp:// or rtmps:// with a host); ValueError with the
    reason otherwise."""
    if not url.strip():
        raise ValueError("no server URL: give its rtmp://host/app address")
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise ValueError(f"'{url}' is not a valid URL ({exc}).") from None
    if parts.scheme not in ("rtmp", "rtmps") or not parts.hostname:
        raise ValueError(f"'{url}' is not an RTMP server URL: use rtmp://host/app or rtmps://…")
    return url.strip()


def probe_rtmp(url: str, timeout: float = HANDSHAKE_TIMEOUT_S) -> None:
    """Raise ConnectionError (an OSError) unless the server at `url` answers the start of an
    RTMP handshake (C0+C1 -> S0+S1) within `timeout`.

    PyAV opens an output's connection holding Python's GIL (avio_open, the header write), with
    no timeout: a server that takes the connection and never answers would freeze every thread
    of the studio. So we knock first, on a socket of our own with a timeout.
    """
    parts = urlsplit(url)
    tls = parts.scheme == "rtmps"
    port = parts.port or (443 if tls else 1935)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout) as raw:
            sock = (
                ssl.create_default_context().wrap_socket(raw, server_hostname=parts.hostname)
                if tls
                else raw
            )
            sock.settimeout(timeout)
            sock.sendall(b"\x03" + bytes(1536))  # C0 (version 3) + C1
            got = 0
            while got < 1537:  # S0 + S1
                chunk = sock.recv(1537 - got)
                if not chunk:
                    raise ConnectionError("the server closed the connection at the handshake")
                got += len(chunk)
    except TimeoutError:
        raise ConnectionError(f"the server did not answer within {timeout:g} s") from None


class _Destination:
    """One RTMP connection: its queue, its thread, its state."""

    def __init__(self, output: "RtmpOutput", destination: RtmpDestination) -> None:
        self.output = output
        self.destination = destination
        self.state = "connecting"
        self.error: str | None = None
        self.connections = 0
        self.video_frames = 0  # written to this destination, over every connection
        self.bytes_sent = 0  # audio and video, over every connection
        self.dropped = 0  # packets (audio and video) the queue had no room for
        self.video_dropped = 0  # of which pictures
        self.late = 0  # pictures written more than LATE_AFTER_S after they were encoded
        self._queue: queue.Queue[tuple[str, av.Packet, float] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._dropping = False
        self._unsubscribe: list[Callable[[], None]] = []
        if output.video is not None:
            self._unsubscribe.append(output.video.packets.subscribe(self._video))
        self._unsubscribe.append(output.audio.packets.subscribe(self._audio))
        self._thread = threading.Thread(
            target=self._run, name=f"rtmp-{destination.name}", daemon=True
        )

    # --- from the encoders' threads ----------------------------------------------------

    def _video(self, packet: av.Packet) -> None:
        self._put("video", packet)

    def _audio(self, packet: av.Packet) -> None:
        self._put("audio", packet)

    def _put(self, kind: str, packet: av.Packet) -> None:
        with self._lock:
            if self._dropping:
                # Resume once the server has caught up, at a picture it can decode.
                caught_up = self._queue.qsize() < MAX_QUEUED // 2
                if not caught_up or (self.output.video is not None and not _is_key(kind, packet)):
                    self._count_dropped(kind)
                    return
                self._dropping = False
            elif self._queue.qsize() >= MAX_QUEUED:
                self._dropping = True
                self._count_dropped(kind)
                self.output.request_keyframe()
                return
            self._queue.put((kind, packet, time.monotonic()))

    def _count_dropped(self, kind: str) -> None:
        self.dropped += 1
        self.video_dropped += kind == "video"

    # --- the destination's thread ------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        stop = self.output.stopping
        while not stop.is_set():
            try:
                self._stream()
                return  # the show ended
            except Exception as exc:  # whatever it is, it stays this destination's problem
                if stop.is_set():
                    return
                name, message = self.destination.name, self.destination.scrub(str(exc))
                if not isinstance(exc, av.FFmpegError | OSError):  # not the network: our bug
                    log.error("rtmp %s: %s: %s", name, type(exc).__name__, message)
                # A connection that was live starts a new series of attempts.
                failures = 1 if self.state == "live" else failures + 1
                if failures >= self.output.max_attempts:
                    self._set_state("failed", message)
                    log.warning("rtmp %s gave up: %s", name, message)
                    self._stop_listening()  # no more copies of every packet for nobody
                    self._drain()
                    return
                self._set_state("reconnecting", message)
                log.info("rtmp %s: %s; retrying", name, message)
                backoff = self.output.backoff
                stop.wait(backoff[min(failures, len(backoff)) - 1])

    def _stream(self) -> None:
        """Connect, then write until the connection breaks (raises) or the show ends."""
        first = self._first_packet()
        if first is None:
            return
        probe_rtmp(self.destination.target, self.output.handshake_timeout)
        # PyAV takes no I/O timeout for an output. Once connected, a stalled server blocks
        # only this thread (PyAV writes without the GIL) and the queue bound keeps it from
        # holding memory or anything else up.
        container = av.open(self.destination.target, "w", format="flv")
        try:
            streams = self._add_streams(container, first)
            offset_s = first[1].pts * first[1].time_base
            self._write(container, streams, offset_s, *first)  # connects, sends the header
            self.connections += 1
            self._set_state("live")
            while (item := self._queue.get()) is not None:
                self._write(container, streams, offset_s, *item)
        finally:
            # A connection already gone has nothing more to be told.
            with contextlib.suppress(av.FFmpegError, OSError):
                container.close()

    def _first_packet(self) -> tuple[str, av.Packet, float] | None:
        """The packet a connection starts with: a fresh keyframe (any packet when the show
        has no video). None when the show ends first."""
        if self._drain():  # what queued up while we were away is stale: start from now
            return None
        self.output.request_keyframe()
        while (item := self._queue.get()) is not None:
            kind, packet, _ = item
            if packet.pts is None or packet.time_base is None:
                continue
            if self.output.video is None or _is_key(kind, packet):
                return item
        return None

    def _add_streams(
        self, container: av.container.OutputContainer, first: tuple[str, av.Packet, float]
    ) -> dict[str, av.stream.Stream]:
        streams: dict[str, av.stream.Stream] = {}
        if first[0] == "video":
            # FLV needs the H.264 parameter sets (avcC) in its header: parse them out of the
            # keyframe (Annex B, sent with every keyframe) and copy that stream's parameters.
            with av.open(io.BytesIO(bytes(first[1])), format="h264") as parsed:
                streams["video"] = container.add_stream_from_template(parsed.streams.video[0])
            streams["video"].time_base = FLV_TIME_BASE
        audio = self.output.audio
        # Its AudioSpecificConfig comes from an encoder context opened with the same settings.
        streams["audio"] = container.add_stream("aac", rate=audio.sample_rate, layout=audio.layout)
        return streams

    def _write(
        self,
        container: av.container.OutputContainer,
        streams: dict[str, av.stream.Stream],
        offset_s: Fraction,
        kind: str,
        packet: av.Packet,
        encoded_at: float,
    ) -> None:
        if packet.pts is None or packet.time_base is None:
            return
        shift = round(offset_s / packet.time_base)
        if packet.pts - shift < 0:
            return  # from before this connection's first picture
        packet.pts -= shift
        if packet.dts is not None:
            packet.dts -= shift
        packet.stream = streams[kind]
        size = packet.size
        container.mux(packet)
        self.bytes_sent += size
        if kind == "video":
            self.video_frames += 1
            self.late += time.monotonic() - encoded_at > LATE_AFTER_S

    def _set_state(self, state: str | None, error: str | None = None) -> None:
        if state is None or (state == self.state and error == self.error):
            return
        self.state, self.error = state, error
        if self.output.on_state is not None:
            try:
                self.output.on_state(self.destination.name, state, error)
            except Exception:
                log.exception("rtmp state callback failed")

    def _stop_listening(self) -> None:
        with self._lock:
            unsubscribes, self._unsubscribe = self._unsubscribe, []
        for unsubscribe in unsubscribes:
            unsubscribe()

    def _drain(self) -> bool:
        """Throw away what is queued; True when the show's end was in it."""
        ended = False
        while True:
            try:
                ended = self._queue.get_nowait() is None or ended
            except queue.Empty:
                return ended

    def stop(self) -> None:
        self._stop_listening()
        self._queue.put(None)


def _is_key(kind: str, packet: av.Packet) -> bool:
    return kind == "video" and bool(packet.is_keyframe)


class RtmpOutput:
    """Every RTMP destination of a show, fed by one H.264 and one AAC encode.

    `video`: the show's H.264 encoder (None: sound only). Feed the program's sound with
    `feed_audio` (a pipeline program tap). `on_state(name, state, error)` is called on the
    destination's thread at each change.
    """

    def __init__(
        self,
        video: VideoEncoder | None,
        audio: AudioSettings,
        destinations: Sequence[RtmpDestination],
        on_state: StateCallback | None = None,
        backoff: Sequence[float] = BACKOFF_S,
        max_attempts: int = MAX_ATTEMPTS,
        handshake_timeout: float = HANDSHAKE_TIMEOUT_S,
    ) -> None:
        if video is not None and video.codec_name != "h264":
            raise ValueError("RTMP carries H.264 video: give the H.264 encoder.")
        names = [d.name for d in destinations]
        if len(set(names)) != len(names):
            raise ValueError("Each restream destination needs its own name.")
        self.video = video
        self.audio = AacEncoder(audio)
        self.on_state = on_state
        self.backoff = tuple(backoff)
        self.max_attempts = max_attempts
        self.handshake_timeout = handshake_timeout
        self.stopping = threading.Event()
        self._blocks: queue.Queue[tuple[np.ndarray, int] | None] = queue.Queue()
        self._aac_thread = threading.Thread(target=self._encode_audio, name="rtmp-aac", daemon=True)
        self.destinations = [_Destination(self, d) for d in destinations]
        self._aac_thread.start()
        for destination in self.destinations:
            destination._thread.start()

    def feed_audio(self, block: np.ndarray, first_sample: int) -> None:
        """A program block from the audio clock: copied and queued, encoded on our thread."""
        self._blocks.put((np.array(block, dtype=np.float32, copy=True), first_sample))

    def _encode_audio(self) -> None:
        while (item := self._blocks.get()) is not None:
            try:
                self.audio.encode(*item)
            except Exception:  # one bad block must not end the restream's sound
                log.exception("AAC encoding failed for a block")

    def request_keyframe(self) -> None:
        if self.video is not None:
            self.video.request_keyframe()

    def states(self) -> dict[str, str]:
        return {d.destination.name: d.state for d in self.destinations}

    def stats(self) -> dict[str, dict[str, object]]:
        return {
            d.destination.name: {
                "state": d.state,
                "error": d.error,
                "where": d.destination.where,
                "connections": d.connections,
                "video_frames": d.video_frames,
                "bytes_sent": d.bytes_sent,
                "dropped": d.dropped,
                "video_dropped": d.video_dropped,
                "late": d.late,
            }
            for d in self.destinations
        }

    def close(self, timeout: float = 5.0) -> None:
        """Stop every destination (what is queued is written first, as far as it goes).

        Waits at most `timeout` in all: a destination whose server hangs is left to end on
        its own (its thread is a daemon)."""
        deadline = time.monotonic() + timeout
        self._blocks.put(None)
        self._aac_thread.join(timeout)
        self.stopping.set()
        for destination in self.destinations:
            destination.stop()
        for destination in self.destinations:
            destination._thread.join(max(0.0, deadline - time.monotonic()))
            if destination.state != "failed":
                destination._set_state("stopped")
