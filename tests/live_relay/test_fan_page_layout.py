"""The fan page as a fan without a browser wallet sees it (most phones), in headless Chromium
at 1280x800 and 390x844, against the real backend with a show published into its relay:
an empty "Live now" list that says what to do; a show the browser starts muted, with a
banner to unmute; the chat readable without signing in; the Tip button on screen without
scrolling; the Tip panel with the artist's name, the address, the amount in the chain's coin
and a QR code of an EIP-681 payment request. Screenshots go to test-artifacts/."""

import asyncio
import json
import subprocess
from pathlib import Path

import httpx
import pytest

from media.whip import WhipPublisher
from studio.local_backend import free_port
from tests.live_relay.artist import announce_stream
from tests.live_relay.e2e_scenario import TestProgram as ShowProgram
from tests.live_relay.e2e_scenario import start_backend
from tests.tips.conftest import browser_missing

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("fan_page_layout.mjs")

pytestmark = pytest.mark.slow


async def fan_sees(url: str, out: Path, stream: str | None = None) -> dict:  # type: ignore[type-arg]
    command = ["node", str(SCRIPT), "--url", url, "--out", str(out)]
    command += ["--stream", stream] if stream else []
    done = await asyncio.to_thread(
        subprocess.run, command, cwd=ROOT, capture_output=True, text=True, timeout=240
    )
    lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    assert lines, f"no result: {done.stdout[-2000:]} {done.stderr[-2000:]}"
    result = json.loads(lines[-1][len("RESULT ") :])
    assert "error" not in result, (result["error"], result.get("errorPage"))
    return result


async def test_fan_without_a_wallet_watches_reads_chat_and_can_tip_at_both_sizes(
    tmp_path: Path, artifacts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if reason := browser_missing():
        pytest.skip(reason)
    monkeypatch.setenv("HARMONIE_ICE_LOOPBACK", "only")
    monkeypatch.setenv("HARMONIE_DEVNET", "1")  # /chain: the chain id a wallet app pays on
    port = free_port()
    backend = await start_backend(tmp_path, port)
    url = f"http://127.0.0.1:{port}"
    program = publisher = None
    try:
        empty = await fan_sees(url, artifacts_dir)
        artist = await announce_stream(url, "Fan page check", name="Nova")
        assert artist.stream_id is not None
        async with httpx.AsyncClient(timeout=60) as client:
            chain_id = (await client.get(f"{url}/chain")).json()["chain_id"]
            said = await client.post(
                f"{url}/streams/{artist.stream_id}/chat",
                json={"text": "welcome, everyone"},
                headers={"Authorization": f"Bearer {artist.access_token}"},
            )
            assert said.status_code == 201, said.text
        program = ShowProgram(320, 180, 15, 440.0, tmp_path / "show.mkv")
        program.start()
        token = (tmp_path / "ingest-token").read_text().strip()
        publisher = WhipPublisher(f"{url}/whip/{artist.stream_id}", token, program.tracks())
        await publisher.start()
        seen = await fan_sees(url, artifacts_dir, artist.stream_id)
    finally:
        if publisher is not None:
            await publisher.stop()
        if program is not None:
            program.stop()
        backend.terminate()
        try:
            backend.wait(10)
        except subprocess.TimeoutExpired:
            backend.kill()

    for size in ("desktop", "phone"):
        text = empty[size]["emptyText"]
        assert (
            text.startswith("Nobody is live right now.") and "keep this page open" in text.lower()
        )
        fan = seen[size]
        assert fan["listed"].startswith("Fan page check — Nova"), fan["listed"]
        assert fan["startedMuted"] and "tap to unmute" in fan["unmuteText"], fan
        assert fan["unmute"]["visible"], (size, fan["unmute"])
        assert not fan["mutedAfterTap"]
        tip = fan["tipButton"]
        assert tip["visible"] and tip["scrollY"] == 0, (size, tip)  # no scrolling to find it
        assert any("welcome, everyone" in line for line in fan["chatLines"]), fan["chatLines"]
        assert fan["chatInput"] == {"disabled": True, "placeholder": "Sign in to chat"}
        assert "Anyone can read the chat" in fan["signInWithoutWallet"]
        panel = fan["tip"]
        assert panel["title"] == "Tip Nova" and panel["unit"] == "DEV", panel
        assert panel["address"].lower() == artist.address.lower()
        wanted = f"ethereum:{panel['address']}@{chain_id}?value=10000000000000000"  # 0.01
        assert panel["uri"] == wanted and panel["href"] == wanted, panel
        assert panel["modules"] >= 25  # a QR code big enough for the URI (version 2+)
        assert not panel["sendVisible"] and not panel["messageVisible"]  # nothing to send with
        assert fan["uriAfterAmount"].endswith("?value=1500000000000000000")
        assert fan["badAmount"] == "Enter an amount like 0.5"
