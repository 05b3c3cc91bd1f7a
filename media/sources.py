"""Capture sources: one protocol for pictures, one for sound, so tests plug lavfi where a
camera would be.

A `VideoSource` yields `av.VideoFrame`s; an `AudioSource` yields float32 blocks shaped
(samples, channels) in [-1, 1] at its `sample_rate`. Both iterate blocking, in real time:
live devices are paced by the hardware, synthetic sources (lavfi) pace themselves by their
timestamps unless `realtime=False` (tests read them as fast as they decode).
"""

import contextlib
import glob
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol, runtime_checkable

import av
import numpy as np

from media.errors import DeviceLostError, MediaError, NoDeviceError

AUDIO_RATE = 48_000


@runtime_checkable
class VideoSource(Protocol):
    name: str
    width: int
    height: int
    fps: Fraction

    def frames(self) -> Iterator[av.VideoFrame]: ...

    def close(self) -> None: ...


@runtime_checkable
class AudioSource(Protocol):
    name: str
    sample_rate: int
    channels: int

    def blocks(self) -> Iterator[np.ndarray]: ...

    def close(self) -> None: ...


class _Pacer:
    """Sleeps so that media time `t` (seconds from the first item) is reached at wall time."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._start: float | None = None

    def wait(self, media_time: float) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self._start is None:
            self._start = now - media_time
        delay = self._start + media_time - now
        if delay > 0:
            time.sleep(delay)


class _Closable:
    def __init__(self) -> None:
        self._closed = threading.Event()
        self._container: av.container.InputContainer | None = None

    def close(self) -> None:
        self._closed.set()

    def _finish(self) -> None:
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
            self._container = None


class LavfiVideoSource(_Closable):
    """Any FFmpeg lavfi video graph, e.g. `testsrc2=size=1280x720:rate=30`."""

    def __init__(
        self,
        graph: str,
        width: int,
        height: int,
        fps: int | Fraction,
        name: str = "lavfi",
        realtime: bool = True,
    ) -> None:
        super().__init__()
        self.graph = graph
        self.name = name
        self.width, self.height, self.fps = width, height, Fraction(fps)
        self.realtime = realtime

    def frames(self) -> Iterator[av.VideoFrame]:
        pacer = _Pacer(self.realtime)
        try:
            self._container = av.open(self.graph, format="lavfi")
            for frame in self._container.decode(video=0):
                if self._closed.is_set():
                    return
                if frame.pts is not None and frame.time_base is not None:
                    pacer.wait(float(frame.pts * frame.time_base))
                yield frame
        except av.FFmpegError as exc:
            raise MediaError(f"The video source '{self.name}' failed: {exc}") from exc
        finally:
            self._finish()


class MediaFileSource(_Closable):
    """A video file played in a loop at its own pace (a scene's media source)."""

    def __init__(self, path: str | os.PathLike[str], name: str = "", realtime: bool = True) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self.name = name or os.path.basename(self.path)
        self.realtime = realtime
        try:
            with av.open(self.path) as container:
                if not container.streams.video:
                    raise MediaError(f"{self.path} holds no video to show.")
                stream = container.streams.video[0]
                self.width = stream.codec_context.width
                self.height = stream.codec_context.height
                self.fps = Fraction(stream.average_rate or stream.guessed_rate or 30)
        except (av.FFmpegError, OSError) as exc:
            raise MediaError(f"The video file {self.path} cannot be played: {exc}") from exc

    def frames(self) -> Iterator[av.VideoFrame]:
        pacer = _Pacer(self.realtime)
        offset = 0.0  # media time at which the current loop started
        step = 1 / float(self.fps)
        try:
            while not self._closed.is_set():
                self._container = av.open(self.path)
                played = 0.0
                for frame in self._container.decode(video=0):
                    if self._closed.is_set():
                        return
                    if frame.pts is not None and frame.time_base is not None:
                        played = float(frame.pts * frame.time_base)
                    else:
                        played += step
                    pacer.wait(offset + played)
                    yield frame
                self._finish()
                offset += played + step
        except av.FFmpegError as exc:
            raise MediaError(f"The video file '{self.name}' failed: {exc}") from exc
        finally:
            self._finish()


def pattern_source(
    width: int = 1280,
    height: int = 720,
    fps: int = 30,
    realtime: bool = True,
    seconds: float | None = None,
) -> LavfiVideoSource:
    """FFmpeg's moving colour test card with a running clock (testsrc2); endless by default."""
    duration = f":d={seconds}" if seconds else ""
    return LavfiVideoSource(
        f"testsrc2=size={width}x{height}:rate={fps}{duration}",
        width,
        height,
        fps,
        name="Test pattern",
        realtime=realtime,
    )


class LavfiAudioSource(_Closable):
    """Any FFmpeg lavfi audio graph; its output is converted to float32 at `sample_rate`."""

    def __init__(
        self,
        graph: str,
        channels: int = 2,
        sample_rate: int = AUDIO_RATE,
        name: str = "lavfi",
        realtime: bool = True,
    ) -> None:
        super().__init__()
        self.graph = graph
        self.name = name
        self.channels = channels
        self.sample_rate = sample_rate
        self.realtime = realtime

    def blocks(self) -> Iterator[np.ndarray]:
        pacer = _Pacer(self.realtime)
        layout = "mono" if self.channels == 1 else "stereo"
        resampler = av.AudioResampler(format="flt", layout=layout, rate=self.sample_rate)
        produced = 0
        try:
            self._container = av.open(self.graph, format="lavfi")
            for frame in self._container.decode(audio=0):
                if self._closed.is_set():
                    return
                for out in resampler.resample(frame):
                    block = out.to_ndarray().reshape(-1, self.channels)
                    pacer.wait(produced / self.sample_rate)
                    produced += len(block)
                    yield block
        except av.FFmpegError as exc:
            raise MediaError(f"The audio source '{self.name}' failed: {exc}") from exc
        finally:
            self._finish()


def tone_source(
    frequency: float = 440.0,
    level_dbfs: float = -20.0,
    channels: int = 2,
    realtime: bool = True,
    seconds: float | None = None,
) -> LavfiAudioSource:
    """A pure sine at `level_dbfs` peak (aevalsrc, so the level is exact); endless by default."""
    amplitude = 10 ** (level_dbfs / 20)
    expr = f"{amplitude:.9f}*sin(2*PI*{frequency}*t)"
    exprs = "|".join([expr] * channels)
    return LavfiAudioSource(
        f"aevalsrc={exprs}:s={AUDIO_RATE}:n=960" + (f":d={seconds}" if seconds else ""),
        channels=channels,
        name=f"Tone {frequency:g} Hz",
        realtime=realtime,
    )


# --- devices -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceInfo:
    id: str  # what the source constructor takes
    label: str  # what a person sees
    channels: int = 0
    default_sample_rate: float = 0.0


def _has_input_format(name: str) -> bool:
    # Entries may list aliases: "video4linux2,v4l2".
    return any(name in entry.split(",") for entry in av.formats_available)


def list_cameras() -> list[DeviceInfo]:
    """V4L2 capture nodes (Linux). Empty when there is no camera: a normal state."""
    devices = []
    for path in sorted(glob.glob("/dev/video*")):
        name_file = f"/sys/class/video4linux/{os.path.basename(path)}/name"
        try:
            with open(name_file) as fh:
                label = fh.read().strip()
        except OSError:
            label = path
        devices.append(DeviceInfo(id=path, label=f"{label} ({path})"))
    return devices


class _ContainerVideoSource(_Closable):
    """A live PyAV input (camera, screen): frames come at the device's pace."""

    kind = "device"

    def __init__(self, name: str, url: str, fmt: str, options: dict[str, str]) -> None:
        super().__init__()
        self.name = name
        self._url, self._format, self._options = url, fmt, options
        self._container = self._open()
        stream = self._container.streams.video[0]
        self.width = stream.codec_context.width
        self.height = stream.codec_context.height
        self.fps = Fraction(stream.average_rate or stream.guessed_rate or 30)

    def _open(self) -> av.container.InputContainer:
        raise NotImplementedError

    def frames(self) -> Iterator[av.VideoFrame]:
        assert self._container is not None
        try:
            for frame in self._container.decode(video=0):
                if self._closed.is_set():
                    return
                yield frame
        except av.FFmpegError as exc:
            if self._closed.is_set():
                return
            raise DeviceLostError(f"{self.name} stopped delivering pictures: {exc}") from exc
        finally:
            self._finish()
        if not self._closed.is_set():
            raise DeviceLostError(f"{self.name} stopped delivering pictures.")


class CameraSource(_ContainerVideoSource):
    """A V4L2 camera through PyAV. Raises NoDeviceError when the node is absent or busy."""

    def __init__(
        self, device: str = "/dev/video0", width: int = 1280, height: int = 720, fps: int = 30
    ) -> None:
        if not _has_input_format("v4l2"):
            raise NoDeviceError("This build of FFmpeg cannot read cameras (no v4l2 input).")
        if not os.path.exists(device):
            raise NoDeviceError(f"No camera found at {device}. Plug one in and refresh.")
        options = {"video_size": f"{width}x{height}", "framerate": str(fps)}
        super().__init__(f"Camera {device}", device, "v4l2", options)

    def _open(self) -> av.container.InputContainer:
        try:
            return av.open(self._url, format="v4l2", options=self._options)
        except av.FFmpegError as exc:
            raise NoDeviceError(f"The camera at {self._url} could not be opened: {exc}") from exc


class ScreenSource(_ContainerVideoSource):
    """The X11 screen (or a region of it) through PyAV's x11grab."""

    def __init__(
        self,
        display: str | None = None,
        width: int | None = None,
        height: int | None = None,
        fps: int = 30,
        offset: tuple[int, int] = (0, 0),
        draw_mouse: bool = True,
    ) -> None:
        display = display or os.environ.get("DISPLAY", "")
        if not display:
            raise NoDeviceError("Screen capture needs an X11 display; DISPLAY is not set.")
        if not _has_input_format("x11grab"):
            raise NoDeviceError("This build of FFmpeg cannot capture the screen (no x11grab).")
        options = {"framerate": str(fps), "draw_mouse": "1" if draw_mouse else "0"}
        if width and height:
            options["video_size"] = f"{width}x{height}"
        url = f"{display}+{offset[0]},{offset[1]}"
        super().__init__(f"Screen {display}", url, "x11grab", options)

    def _open(self) -> av.container.InputContainer:
        try:
            return av.open(self._url, format="x11grab", options=self._options)
        except av.FFmpegError as exc:
            raise NoDeviceError(f"The screen {self._url} could not be captured: {exc}") from exc


# --- microphone ----------------------------------------------------------------------------


_open_microphones = 0  # PortAudio cannot re-scan while a stream is open


def list_microphones(refresh: bool = False) -> list[DeviceInfo]:
    """Input devices PortAudio sees. `refresh=True` re-scans (hot-plug) unless a microphone
    is open (re-initialising PortAudio would cut it off); then the known list is returned."""
    import sounddevice as sd

    if refresh and _open_microphones == 0:
        # PortAudio lists devices once per initialisation; re-initialise to see new ones.
        sd._terminate()
        sd._initialize()
    devices = []
    try:
        listed = sd.query_devices()
    except sd.PortAudioError:
        return []
    for index, dev in enumerate(listed):
        if dev["max_input_channels"] > 0:
            devices.append(
                DeviceInfo(
                    id=str(index),
                    label=dev["name"],
                    channels=int(dev["max_input_channels"]),
                    default_sample_rate=float(dev["default_samplerate"]),
                )
            )
    return devices


class MicrophoneSource:
    """A sound card input through sounddevice (PortAudio), as float32 blocks.

    `device` is an index or a (part of a) name, None for the system default. The stream is
    opened at 48 kHz when the device accepts it; otherwise at its own rate, resampled.
    """

    SILENCE_TIMEOUT_S = 2.0
    # Opening the first stream of a process can take seconds (ALSA's pulse plugin loading
    # and connecting): a slow start is not a lost device.
    START_TIMEOUT_S = 10.0

    def __init__(
        self,
        device: str | int | None = None,
        channels: int = 1,
        sample_rate: int = AUDIO_RATE,
        block_size: int = 480,
    ) -> None:
        import sounddevice as sd

        self._sd = sd
        self.channels = channels
        self.sample_rate = sample_rate
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=200)
        self._status_error: str | None = None
        try:
            if isinstance(device, str) and device.isdigit():
                device = int(device)
            info = sd.query_devices(device, "input")
        except (ValueError, sd.PortAudioError) as exc:
            raise NoDeviceError(f"No microphone found ({device or 'default'}): {exc}") from exc
        self.name = str(info["name"])
        if info["max_input_channels"] < 1:
            raise NoDeviceError(f"'{self.name}' has no input channels.")
        self.channels = min(channels, int(info["max_input_channels"]))
        self.device_rate = sample_rate
        try:
            sd.check_input_settings(device=device, channels=self.channels, samplerate=sample_rate)
        except (ValueError, sd.PortAudioError):
            self.device_rate = int(info["default_samplerate"])
        try:
            self._stream = sd.InputStream(
                device=device,
                channels=self.channels,
                samplerate=self.device_rate,
                dtype="float32",
                blocksize=block_size,
                latency="low",
                callback=self._callback,
                finished_callback=self._finished,
            )
            self._stream.start()
            global _open_microphones
            _open_microphones += 1
            self._counted = True
        except sd.PortAudioError as exc:
            raise NoDeviceError(f"The microphone '{self.name}' could not be opened: {exc}") from exc

    def _callback(self, indata: np.ndarray, frames: int, t: object, status: object) -> None:
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(indata.copy())

    def _finished(self) -> None:
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)

    def blocks(self) -> Iterator[np.ndarray]:
        resampler = None
        if self.device_rate != self.sample_rate:
            layout = "mono" if self.channels == 1 else "stereo"
            resampler = av.AudioResampler(format="flt", layout=layout, rate=self.sample_rate)
        timeout = self.START_TIMEOUT_S
        while True:
            try:
                block = self._queue.get(timeout=timeout)
                timeout = self.SILENCE_TIMEOUT_S
            except queue.Empty:
                raise DeviceLostError(
                    f"The microphone '{self.name}' stopped delivering sound."
                ) from None
            if block is None:
                if self._stream.closed:
                    return
                raise DeviceLostError(f"The microphone '{self.name}' was disconnected.")
            if resampler is None:
                yield block
                continue
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(block).reshape(1, -1),
                format="flt",
                layout=resampler.layout,
            )
            frame.sample_rate = self.device_rate
            for out in resampler.resample(frame):
                yield out.to_ndarray().reshape(-1, self.channels)

    def close(self) -> None:
        global _open_microphones
        if getattr(self, "_counted", False):
            self._counted = False
            _open_microphones -= 1
        with contextlib.suppress(Exception):
            self._stream.close()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
