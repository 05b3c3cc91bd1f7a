"""Issue 13's "Done when" as one journey: tips on the devnet, sent one right after the other,
reach every sink in the queue's order, once each, each during its own turn in the queue:

- the desktop notification, read from the D-Bus (dunst on the session bus, dbus-monitor);
- the entry in the Alerts dock's feed;
- the on-stream overlay, in the show's recording (Go Live: test pattern + tone, record only);
- the OBS alert page, in headless Chromium;
- speech (on in the settings' `[alerts.tts]`), heard on a PulseAudio null sink.

The real window composes them all (`on_desk`: local backend + devnet + keyring). Each sink
logs an event with the time it showed the alert (`tray_message` / the bus's Notify time,
`feed_entry`, `overlay_shown`, the page's `__shown`, `alert_spoken`); the queue logs
`alert_played`.
"""

import asyncio
import itertools
import logging
import wave
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import av
import numpy as np
import pytest
from web3 import Web3

from chain import contracts
from chain.devnet import dev_accounts
from harness.fan import send_tip
from harness.notification_server import Bus, NotifyMonitor, dunst
from tests.live_capture.conftest import PulseServer
from tests.support.secret_service import SecretServiceSession
from tests.support.xserver import xvfb_with_tray
from tests.tips.conftest import browser_missing
from tests.tips.test_alert_speech import SinkRecording, wait_recording
from tests.tips.test_overlay_page import open_page, page_result
from tests.window_journeys.conftest import Desk, wait_until
from tests.window_journeys.test_golive_window import end_show, prepare

pytestmark = [pytest.mark.slow, pytest.mark.xvfb]

DURATION_S = 4.0
# amounts tell the alerts apart everywhere; each message is longer than the one before, so its
# box is taller on stream and its speech lasts longer on the sink (the link is shown, not said).
# Three tips: an on-stream box that outlasts its turn falls behind by the third.
TIPS = [
    (Decimal("0.5"), "thanks a lot"),
    (Decimal("0.7"), "what a wonderful set tonight https://example.org/photos/tonight"),
    (
        Decimal("0.9"),
        "please play the last song once more, and the one before it too "
        "https://example.org/setlists/tonight/the-last-song-and-the-one-before",
    ),
]
SETTINGS = {
    "alerts": {
        "default": {"duration_s": DURATION_S},
        "tts": {"enabled": True, "min_amount": "0"},
    },
    "overlay_page": {"port": 0},
    "tip_overlay": True,
}


@pytest.fixture
def notification_server(
    secret_service: SecretServiceSession, tmp_path: Path
) -> Iterator[NotifyMonitor]:
    """dunst on the desk's session bus (the keyring's), and dbus-monitor recording Notify."""
    bus = Bus(secret_service.address, {"DBUS_SESSION_BUS_ADDRESS": secret_service.address})
    try:
        with (
            xvfb_with_tray() as xserver,
            dunst(bus, xserver.env, tmp_path),
            NotifyMonitor(bus, tmp_path / "notify.log") as monitor,
        ):
            yield monitor
    except FileNotFoundError as missing:
        pytest.skip(f"{missing} is not installed (make system-deps installs it)")


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[dict]:
    return [r.__dict__ for r in caplog.records if getattr(r, "event", "") == name]


def amount_of(text: str) -> Decimal:
    """Which tip a shown text is about, by its amount."""
    found = [amount for amount, _message in TIPS if f" {amount} " in f" {text} "]
    assert len(found) == 1, f"no single tip amount in {text!r}"
    return found[0]


def speech_bursts(path: Path) -> list[float]:
    """Lengths (s) of the stretches of sound on the sink, pauses under 0.7 s joined."""
    with wave.open(str(path)) as recording:
        rate, channels = recording.getframerate(), recording.getnchannels()
        samples = np.frombuffer(recording.readframes(recording.getnframes()), "<i2")
    mono = np.abs(samples.reshape(-1, channels).astype(np.int32)).max(axis=1)
    window = rate // 20
    loud = [bool(mono[i : i + window].max() > 1500) for i in range(0, len(mono), window)]
    bursts: list[list[int]] = []
    for index, on in enumerate(loud):
        if not on:
            continue
        if bursts and index - bursts[-1][1] <= 14:
            bursts[-1][1] = index
        else:
            bursts.append([index, index])
    return [(end - start + 1) / 20 for start, end in bursts]


def overlay_boxes(path: Path, artifacts: Path) -> list[int]:
    """The heights (px) of the alert boxes the recording shows, one per box, in order.

    The box (media.alert_overlay) sits centred near the top; its right padding holds no
    text, so a narrow column there is the box's dark background from its top to its bottom.
    """
    heights: list[list[int]] = []
    previous = False
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            width, height = frame.width, frame.height
            luma = frame.to_ndarray(format="yuv420p")[:height].astype(np.int32)
            box_w = max(160, int(width * 0.42)) // 2 * 2
            left = ((width - box_w) // 2) // 2 * 2
            top = int(height * 0.04) // 2 * 2
            scale = max(0.5, width / 1280)
            column = luma[:, left + box_w - int(12 * scale) : left + box_w - int(6 * scale)]
            dark = column.mean(axis=1) < 64
            shown = bool(dark[top + 4 : top + 12].all())
            if shown:
                rows = top + 4
                while rows < height and dark[rows]:
                    rows += 1
                if not previous:
                    heights.append([])
                    frame.to_image().save(artifacts / f"one-tip-overlay-{len(heights)}.png")
                heights[-1].append(rows - top)
            previous = shown
    return [int(np.median(h)) for h in heights if len(h) >= 3]


def test_one_tip_reaches_every_sink_in_order_once(
    on_desk,  # type: ignore[no-untyped-def]
    notification_server: NotifyMonitor,
    pulse: PulseServer,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    artifacts_dir: Path,
) -> None:
    missing = browser_missing()
    if missing:
        pytest.skip(missing)
    caplog.set_level(logging.INFO)
    recording = tmp_path / "show.mkv"
    heard = tmp_path / "sink.wav"
    page_shown: list[dict] = []
    fan = dev_accounts(3)[2]
    feed_keys: list[tuple[str, int]] = []

    async def scenario(desk: Desk) -> None:
        studio = desk.studio
        await wait_until(
            lambda: desk.journeys.tips_ui is not None and studio.overlay_page is not None,
            60,
            "tips followed and the OBS page served",
        )
        tips, notifier = studio.tips, desk.journeys.tips_ui.notifier
        assert tips.queue.rules.tts.enabled and tips.queue.rules.default_look.duration_s == 4
        notifier.sound.enabled = False  # the chime is not under test: the sink hears speech only

        url = studio.overlay_page.url
        page = await open_page(url, url.replace("/overlay/", "/overlay/x"), count=len(TIPS))
        prepare(desk, recording, whip=False)
        desk.golive.go_live.click()
        await wait_until(lambda: desk.golive.live_badge.text() == "● RECORDING", 90, "recording")
        await wait_until(lambda: studio.live.elapsed_s > 1, 30, "a second of show")
        sink = SinkRecording(pulse, heard)
        await wait_recording(pulse)

        network = studio.wallet.network
        w3 = Web3(Web3.HTTPProvider(network.rpc_url))
        tipping = contracts.deployed("tipping", w3, network.contract_address(contracts.TIPPING))
        for amount, message in TIPS:
            wei = Web3.to_wei(amount, "ether")
            await asyncio.to_thread(
                send_tip, w3, tipping, fan, studio.wallet.address, wei, message, 30
            )
        page_shown.extend((await page_result(page))["shown"])  # waits for both, then 1 s more
        await wait_until(
            lambda: (
                len(events(caplog, "alert_played")) == len(TIPS)
                and tips.queue.current is None
                and not tips.speaker.speaking
            ),
            60,
            "every alert played to its end",
        )
        await wait_until(lambda: not studio.live.alert_overlay.active, 30, "the overlay done")
        await asyncio.sleep(1.0)  # a repeat anywhere would show up here
        sink.stop()
        feed_keys.extend(notifier.feed.keys())
        desk.window.grab().save(str(artifacts_dir / "one-tip-everywhere-window.png"))
        await end_show(desk)

    on_desk(scenario, settings=SETTINGS)

    played = events(caplog, "alert_played")
    assert [p["kind"] for p in played] == ["tip"] * len(TIPS)
    starts = [p["at"] for p in played]
    tx = [p["key"].split(":")[1] for p in played]  # tip:<tx_hash>:<log_index>
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # one at a time; Qt's coarse timers (the qasync loop's) may end a turn up to 5 % early
    assert all(gap >= 0.94 * DURATION_S for gap in gaps), f"one at a time: {gaps}"
    ends = [*starts[1:], starts[-1] + DURATION_S]  # each alert's turn ends as the next begins

    def in_turns(sink: str, shown: list[tuple[Decimal | str, float]]) -> None:
        """Each alert once, in the queue's order, while its own alert plays."""
        assert len(shown) == len(TIPS), f"{sink}: each tip once, none repeated: {shown}"
        turns = zip(shown, starts, ends, strict=True)
        for index, ((which, at), start, end) in enumerate(turns):
            expected = TIPS[index][0] if isinstance(which, Decimal) else tx[index]
            assert which == expected, f"{sink}: alert {index + 1} is {which}, not {expected}"
            assert start - 0.05 <= at < end, (
                f"{sink}: alert {index + 1} shown at {at - start:+.2f} s from its turn"
            )

    notify = [c for c in notification_server.calls() if c.app_name == "HarmonieCORE Studio"]
    in_turns("D-Bus Notify", [(amount_of(c.summary), c.seen_at) for c in notify])
    told = events(caplog, "tray_message")
    assert [t["via"] for t in told] == ["dbus"] * len(TIPS), told
    in_turns("tray_message", [(t["tx_hash"], t["shown_at"]) for t in told])
    in_turns("feed", [(f["tx_hash"], f["shown_at"]) for f in events(caplog, "feed_entry")])
    assert [key[0] for key in feed_keys] == tx[::-1], "the feed lists the newest first"
    in_turns(
        "overlay", [(amount_of(o["title"]), o["shown_at"]) for o in events(caplog, "overlay_shown")]
    )
    in_turns("OBS page", [(amount_of(s["text"]), s["at"] / 1000) for s in page_shown])
    assert [s["id"] for s in page_shown] == [p["id"] for p in played]
    spoken = events(caplog, "alert_spoken")
    in_turns("speech", [(s["key"].split(":")[1], s["spoken_at"]) for s in spoken])

    # what the sinks drew and said, not only what they logged
    boxes = overlay_boxes(recording, artifacts_dir)
    assert len(boxes) == len(TIPS), f"each alert on stream once: boxes {boxes}"
    assert boxes == sorted(set(boxes)), f"the boxes in the tips' order (shortest first): {boxes}"
    bursts = speech_bursts(heard)
    assert len(bursts) == len(TIPS), f"each message said once: {bursts}"
    assert bursts == sorted(bursts), f"the messages said in order (shortest first): {bursts}"
