"""Text-to-speech of a fan's message: what is said (never markup or URLs), and a tip on the
devnet whose message is heard on a private PulseAudio's null sink (espeak-ng, Debian)."""

import asyncio
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from chain.networks import custom_network
from studio.tips.alert_rules import AlertLook, AlertRules, SpeechRules
from studio.tips.service import TipService
from studio.tips.speech import Speaker, speakable
from tests.live_capture import conftest as capture
from tests.live_capture.conftest import PulseServer
from tests.support.waiting import wait_until
from tests.tips.conftest import TipChain

pulse = capture.pulse  # the private PulseAudio with its null sink, as the capture tests use it


@pytest.mark.parametrize(
    ("message", "said"),
    [
        ("Love the set!", "Love the set!"),
        ("<b>loud</b> <script>alert(1)</script>thanks", "loud alert(1) thanks"),
        ("&lt;speak&gt;hi&lt;/speak&gt; there", "hi there"),
        ("visit https://evil.example/x?y=1 now", "visit now"),
        ("go to www.spam.example or spam.example/path, ok", "go to or ok"),
        ("mail me@evil.example please", "mail please"),
        ("**bold** _it_ `code` [link](x)", "bold it code link (x)"),
        ("<https://only.a.link>", None),
        ("\u202eevil\u202c \x07bell", "evil bell"),
        ("", None),
    ],
)
def test_only_words_are_said(message: str, said: str | None) -> None:
    assert speakable(message, 200) == said


def test_speech_is_cut_at_a_word_within_the_maximum() -> None:
    said = speakable("one two three four five six seven eight nine ten", 20)
    assert said == "one two three four"
    assert speakable("x" * 50, 10) == "x" * 10


class SinkRecording:
    """Everything played on the null sink, from its monitor, as 16-bit samples."""

    def __init__(self, pulse: PulseServer, path: Path) -> None:
        self.path = path
        self.process = subprocess.Popen(
            ["parecord", f"--device={pulse.sink}.monitor", "--file-format=wav", str(path)],
            env=pulse.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> np.ndarray:
        self.process.terminate()
        self.process.wait(10)
        with wave.open(str(self.path)) as recording:
            return np.frombuffer(recording.readframes(recording.getnframes()), "<i2")


async def wait_recording(pulse: PulseServer) -> None:
    def recording() -> bool:
        out = pulse.pactl("list", "short", "source-outputs").stdout
        return bool(out.strip())

    await wait_until(recording, what="parecord attached to the sink monitor")


async def test_speaker_is_heard_on_the_sink(pulse: PulseServer, tmp_path: Path) -> None:
    recording = SinkRecording(pulse, tmp_path / "silence.wav")
    await wait_recording(pulse)
    assert not await Speaker(enabled=False).say("not said")
    quiet = recording.stop()
    assert np.abs(quiet).max(initial=0) < 100, "nothing is said while speech is off"

    recording = SinkRecording(pulse, tmp_path / "speech.wav")
    await wait_recording(pulse)
    assert await Speaker("en").say("thank you for the music")
    samples = recording.stop()
    assert np.abs(samples).max() > 2000, "the speech reached the sink"

    speaker = Speaker("en")
    long_speech = asyncio.ensure_future(speaker.say("a very long message " * 40))
    await wait_until(lambda: speaker.speaking, what="espeak-ng speaking")
    await speaker.stop()  # what Skip and Mute do
    assert await long_speech is False and not speaker.speaking


async def test_a_tip_on_the_devnet_is_spoken_when_its_turn_comes(
    pulse: PulseServer, tip_chain: TipChain, tmp_path: Path
) -> None:
    network = custom_network(
        tip_chain.node.http_url, 1114, symbol="tCORE2", contracts={"tipping": tip_chain.address}
    )
    rules = AlertRules(
        default_look=AlertLook(duration_s=1),
        tts=SpeechRules(enabled=True, min_wei=10**17, max_chars=60),
    )
    tips = TipService(
        network, tip_chain.artist.address, tmp_path, poll_interval_s=0.05, rules=rules
    )
    spoken: list[str | None] = []
    tips.queue.played.connect(lambda alert: spoken.append(alert.speech))
    recording = SinkRecording(pulse, tmp_path / "tip.wav")
    await wait_recording(pulse)
    await tips.start()
    try:
        await asyncio.to_thread(tip_chain.tip, tip_chain.fans[0], 10**16, "too small to say")
        await asyncio.to_thread(
            tip_chain.tip, tip_chain.fans[1], 10**18, "<i>great</i> show https://x.example"
        )
        await wait_until(lambda: len(spoken) == 2, what="both alerts played")
        await wait_until(lambda: not tips._tasks, what="the speech to end")
    finally:
        await tips.stop()
    samples = recording.stop()
    assert spoken == [None, "great show"]
    assert np.abs(samples).max() > 2000, "the fan's message was heard"
