"""The OBS alert page, served by the studio on 127.0.0.1, in headless Chromium: alerts appear in
the queue's order, once each; a wrong secret gets 404; the secret is never logged."""

import asyncio
import json
import logging
from pathlib import Path

import httpx
import pytest

from studio.settings import Settings
from studio.tips.alert_queue import AlertQueue
from studio.tips.alert_rules import AlertLook, AlertRules
from studio.tips.alerts import TipAlerts
from studio.tips.overlay_page import OverlayServer, overlay_settings
from studio.tips.store import Tip, TipStore
from tests.tips.conftest import ROOT, TipChain, browser_missing

CHECK = ROOT / "tests" / "tips" / "overlay_page_check.mjs"
ARTIST = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
FAN = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


def tip(n: int, message: str = "", wei: int = 10**18) -> Tip:
    return Tip(
        "0x" + f"{n:02x}" * 32, 0, n, "0x" + "ee" * 32, 1_700_000_000, ARTIST, FAN, wei, message
    )


async def open_page(url: str, bad: str, count: int) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        "node", str(CHECK), "--page", url, "--bad", bad, "--count", str(count),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 60)
    if line.strip() != b"READY":
        rest = await process.stdout.read()
        raise AssertionError(f"the page did not open: {(line + rest).decode()[-2000:]}")
    return process


async def page_result(process: asyncio.subprocess.Process) -> dict:
    assert process.stdout is not None
    out = await asyncio.wait_for(process.stdout.read(), 120)
    await process.wait()
    lines = [x for x in out.decode().splitlines() if x.startswith("RESULT ")]
    assert lines, out.decode()[-2000:]
    return json.loads(lines[-1][len("RESULT ") :])


async def test_tips_appear_on_the_obs_page_in_order_once(tmp_path: Path, caplog) -> None:
    missing = browser_missing()
    if missing:
        pytest.skip(missing)
    caplog.set_level(logging.DEBUG)
    settings = Settings.open(tmp_path / "settings.toml")
    secret, _port = overlay_settings(settings)
    assert overlay_settings(Settings.open(tmp_path / "settings.toml"))[0] == secret, "kept"
    store = TipStore(tmp_path / "tips.sqlite3")
    alerts = TipAlerts(store, ARTIST, "tCORE2")
    rules = AlertRules(blocked_words=("darn",), default_look=AlertLook(duration_s=0.5))
    queue = AlertQueue(tmp_path / "alert_queue.sqlite3", rules)
    alerts.alerted.connect(queue.offer_tip)
    server = OverlayServer(queue, secret)
    await server.start()
    try:
        bad = server.url.replace(secret, secret[:-1] + ("A" if secret[-1] != "A" else "B"))
        page = await open_page(server.url, bad, count=4)
        queue.start()
        alerts.on_chain_tip(tip(1, "first <b>not bold</b>"))
        queue.offer_event("follower", "0xfan9", "fan 9 now follows you")
        alerts.on_chain_tip(tip(2, "darn good"))
        alerts.on_chain_tip(tip(1, "first <b>not bold</b>"))  # the same tip again
        alerts.on_chain_tip(tip(3, "last"))
        result = await page_result(page)
        async with httpx.AsyncClient() as client:
            root = f"http://127.0.0.1:{server.port}"
            statuses = [
                (await client.get(f"{root}{path}")).status_code
                for path in ("/", "/overlay/", f"/overlay/{secret}x/events", "/overlay/a/image/1")
            ]
            media = await client.get(f"{server.url}image/1")
    finally:
        await queue.stop()
        await server.stop()
        queue.close()
        store.close()
    assert "error" not in result, result
    assert result["status"] == 200
    assert result["bad_status"] == 404 and secret not in result["bad_body"]
    assert statuses == [404, 404, 404, 404]
    assert media.status_code == 404, "no image in these rules"
    assert result["background"] == "rgba(0, 0, 0, 0)", "transparent for OBS"
    texts = [entry["text"] for entry in result["shown"]]
    assert texts == [
        "0x3C44…93BC tipped 1 tCORE2",
        "fan 9 now follows you",
        "0x3C44…93BC tipped 1 tCORE2",
        "0x3C44…93BC tipped 1 tCORE2",
    ]
    ids = [entry["id"] for entry in result["shown"]]
    assert ids == sorted(ids) and len(set(ids)) == 4, "in the queue's order, once each"
    times = [entry["at"] for entry in result["shown"]]
    assert times == sorted(times)
    studio = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(r.getMessage() + str(r.__dict__) for r in studio)  # the test's client aside
    assert secret not in logged, "the secret never reaches the log"


async def test_the_page_plays_the_queue_rules_message_and_the_port_setting(tmp_path: Path) -> None:
    settings = Settings.open(tmp_path / "settings.toml")
    settings.set("overlay_page", {"port": "not a port"})
    secret, port = overlay_settings(settings)
    assert port == 47811 and len(secret) >= 32
    assert Settings.open(tmp_path / "settings.toml").get("overlay_page")["secret"] == secret
    with pytest.raises(ValueError, match="too short"):
        OverlayServer(AlertQueue(tmp_path / "q.sqlite3"), "short")

    image = tmp_path / "star.gif"
    image.write_bytes(b"GIF89a" + bytes(20))
    rules = AlertRules(default_look=AlertLook(image=str(image)))
    queue = AlertQueue(tmp_path / "alerts.sqlite3", rules)
    alert = queue.offer_event("follower", "f1", "fan 1 follows you")
    assert alert and alert.public()["image"] is True and "star.gif" not in str(alert.public())
    server = OverlayServer(queue, secret)
    await server.start()
    try:
        async with httpx.AsyncClient() as client:
            served = await client.get(f"{server.url}image/{alert.id}")
            no_sound = await client.get(f"{server.url}sound/{alert.id}")
            other = await client.get(f"{server.url}image/{alert.id + 1}")
    finally:
        await server.stop()
        queue.close()
    assert served.status_code == 200 and served.content == image.read_bytes()
    assert served.headers["content-type"] == "image/gif"
    assert (no_sound.status_code, other.status_code) == (404, 404)


async def test_the_studio_serves_the_page_while_it_watches_tips(
    tmp_path: Path, tip_chain: TipChain
) -> None:
    """Studio._watch_tips (what a wallet's arrival starts): the queue with the settings' rules
    and the page on the settings' port; both end with the tips."""
    from types import SimpleNamespace

    from chain.networks import custom_network
    from studio.core import Studio
    from studio.profiles import load_profile

    settings = Settings.open(tmp_path / "settings.toml")
    settings.set("overlay_page", {"port": 0})
    settings.set("alerts", {"moderation_delay_s": 7, "blocked_words": ["darn"]})
    studio = Studio(load_profile("local"), settings, tmp_path / "data", tmp_path / "log")
    network = custom_network(
        tip_chain.node.http_url, 1114, symbol="tCORE2", contracts={"tipping": tip_chain.address}
    )
    studio.wallet = SimpleNamespace(  # type: ignore[assignment]
        address=tip_chain.artist.address, network=network, unlocked=False
    )
    await studio._watch_tips()
    try:
        assert studio.tips is not None and studio.overlay_page is not None
        assert studio.tips.queue.rules.moderation_delay_s == 7
        secret = Settings.open(settings.path).get("overlay_page")["secret"]
        async with httpx.AsyncClient() as client:
            page = await client.get(studio.overlay_page.url)
            wrong = await client.get(studio.overlay_page.url.replace(secret, "x" * len(secret)))
        assert secret in studio.overlay_page.url
        assert page.status_code == 200 and "EventSource" in page.text
        assert wrong.status_code == 404
    finally:
        await studio._stop_tips()
    assert studio.overlay_page is None
