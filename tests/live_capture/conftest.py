"""Fixtures for capture, mixing, encoding and recording tests.

Qt runs offscreen here (set before anything imports Qt). `pulse` starts a private PulseAudio
server with a null sink whose monitor is remapped to a microphone-like source, so the real
sounddevice/PortAudio/ALSA-pulse path captures what `paplay` plays.
"""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil
import subprocess
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest


def decode_video(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


def decode_audio(path: Path) -> np.ndarray:
    """All audio in `path` as float32 (samples, channels) at its own rate."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        layout = stream.codec_context.layout.name
        resampler = av.AudioResampler(format="flt", layout=layout, rate=stream.sample_rate)
        chunks = []
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1, out.layout.nb_channels))
    return np.concatenate(chunks) if chunks else np.zeros((0, 1), np.float32)


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    return float(np.fft.rfftfreq(len(mono), 1 / rate)[int(np.argmax(spectrum))])


@pytest.fixture
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    """ICE host candidates on 127.0.0.1 only: media in tests never leaves loopback."""
    import aioice.ice

    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


ALSA_PULSE_PLUGIN = "libasound_module_pcm_pulse.so"


def _alsa_pulse_plugin_present() -> bool:
    return any(
        next(Path(root).glob(pattern), None) is not None
        for root in ("/usr/lib", "/lib")
        for pattern in (f"*/alsa-lib/{ALSA_PULSE_PLUGIN}", f"alsa-lib/{ALSA_PULSE_PLUGIN}")
    )


class PulseServer:
    """A private PulseAudio: a null sink `studio_out` whose monitor is remapped as the
    microphone-like source `studio_mic` (the default source). What `play` sends to the
    sink is what a microphone capture through ALSA's pulse plugin hears."""

    sink = "studio_out"
    source = "studio_mic"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "pulse.sock"
        self.server = f"unix:{self.socket}"
        self.env = {
            **os.environ,
            "HOME": str(root),
            "XDG_RUNTIME_DIR": str(root / "run"),
            "PULSE_SERVER": self.server,
        }
        (root / "run").mkdir(parents=True, exist_ok=True)
        self.log = open(root / "pulseaudio.log", "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [
                "pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "-n", "--disallow-exit",
                "--disable-shm=yes", "--log-target=stderr",
                f"--load=module-native-protocol-unix socket={self.socket} auth-anonymous=1",
                f"--load=module-null-sink sink_name={self.sink} rate=48000",
                f"--load=module-remap-source master={self.sink}.monitor source_name={self.source}",
            ],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while self.pactl("info").returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log = (root / "pulseaudio.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"pulseaudio did not start:\n{log}")
            time.sleep(0.1)
        self.pactl("set-default-source", self.source)
        self.pactl("set-default-sink", self.sink)

    def pactl(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["pactl", *args], env=self.env, capture_output=True, timeout=10)

    def play(self, wav: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            ["paplay", f"--device={self.sink}", str(wav)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        """The sound server goes away, as an unplugged USB microphone would."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def stop(self) -> None:
        self.kill()
        self.log.close()


def write_tone_wav(path: Path, frequency: float, seconds: float, level: float = 0.3) -> Path:
    t = np.arange(int(48_000 * seconds)) / 48_000
    pcm = (level * 32767 * np.sin(2 * np.pi * frequency * t)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(48_000)
        out.writeframes(np.repeat(pcm[:, None], 2, axis=1).tobytes())
    return path


@pytest.fixture
def pulse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PulseServer]:
    """A running private PulseAudio; this process's PortAudio is re-initialised to use it."""
    for binary in ("pulseaudio", "pactl", "paplay"):
        if shutil.which(binary) is None:
            pytest.skip(f"{binary} is not installed (Debian: pulseaudio, pulseaudio-utils)")
    if not _alsa_pulse_plugin_present():
        pytest.skip("ALSA's pulse plugin is not installed (Debian: libasound2-plugins)")
    server = PulseServer(tmp_path / "pulse")
    monkeypatch.setenv("PULSE_SERVER", server.server)
    try:
        yield server
    finally:
        server.stop()


class XServer:
    def __init__(self, display: str, process: subprocess.Popen[bytes]) -> None:
        self.display = display
        self.process = process

    def kill(self) -> None:
        """The display goes away (a closed session, a crashed X server)."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def xvfb() -> Iterator[XServer]:
    """A private X server (Xvfb) 640x480."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (Debian: xvfb)")
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "640x480x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    server = XServer(f":{number}", process)
    try:
        if not number:
            pytest.fail("Xvfb did not report a display number")
        yield server
    finally:
        server.kill()
