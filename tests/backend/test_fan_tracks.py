"""The fan page's Tracks view (backend/static/fan/tracks.js) in headless Chromium on a real
backend with its devnet: a fan plays the public rendition, buys an edition and subscribes
through an EIP-1193 wallet, is refused then given the supporters-only track (decrypted in
the page), sees "My collection", and gets a supporter badge in the chat."""

import asyncio
import io
import json
import math
import struct
import subprocess
import wave
from pathlib import Path

import httpx
import pytest
from eth_abi import encode as abi_encode
from web3 import Web3

from chain.devnet import dev_accounts
from harness.backend_session import serve, sign_in
from harness.market import list_for_sale, mint_editions
from tests.backend.test_market import TIER_PRICE, chain_of, config, devnet_env  # noqa: F401
from tests.tips.conftest import ROOT, browser_missing

SHOT = ROOT / "test-artifacts" / "fan_tracks.png"
PRICE = 10**17 + 3


def tone_wav(seconds: float = 0.5, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = (
            int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(int(rate * seconds))
        )
        w.writeframes(b"".join(struct.pack("<h", f) for f in frames))
    return out.getvalue()


async def test_a_fan_buys_subscribes_unlocks_and_wears_the_badge_on_the_fan_page(
    devnet_env: None,  # noqa: F811
    tmp_path: Path,
) -> None:
    if reason := browser_missing():
        pytest.skip(reason)
    _, artist, fan = dev_accounts(3)
    public, secret = tone_wav(), tone_wav(0.3) + b"supporters"
    async with httpx.AsyncClient(timeout=30) as client, serve(config(tmp_path)) as backend:
        chain = await chain_of(client, backend)
        auth = {"Authorization": f"Bearer {await sign_in(client, backend, artist)}"}
        profile = {"role": "artist", "display_name": "Nova", "bio": ""}
        put = await client.put(
            f"{backend.url}/profiles/{artist.address}", json=profile, headers=auth
        )
        assert put.status_code == 200, put.text
        added = await client.post(
            f"{backend.url}/api/v0/add",
            params={"cid-version": "1"},
            files={"file": ("tone.wav", public)},
            headers=auth,
        )
        cid = added.json()["Hash"]

        def on_chain() -> list[int]:
            editions = mint_editions(chain.w3, chain.registry, chain.nft, artist, cid, 2, 500)
            list_for_sale(chain.w3, chain.market, chain.nft, artist, editions, PRICE)
            chain.send(
                artist, chain.subs.functions.set_tiers(["Fan", "Patron"], [TIER_PRICE, 10**18])
            )
            return editions

        editions = await asyncio.to_thread(on_chain)
        track = {"title": "Tone", "cid": cid, "duration_s": 0.5}
        listed = await client.post(f"{backend.url}/tracks", json=track, headers=auth)
        assert listed.status_code == 201, listed.text
        gated = await client.post(
            f"{backend.url}/market/gated",
            params={"title": "Secret tone"},
            content=secret,
            headers=auth,
        )
        assert gated.status_code == 201, gated.text
        watcher = backend.app.state.market.watcher
        head = await asyncio.to_thread(lambda: chain.w3.eth.block_number)
        while (watcher.head or -1) < head:
            await asyncio.sleep(0.05)

        SHOT.parent.mkdir(exist_ok=True)
        fan_token = await sign_in(client, backend, fan)
        cmd = [
            "node", str(Path(__file__).with_name("fan_tracks_check.mjs")),
            "--page", f"{backend.url}/fan/?artist={artist.address}", "--rpc", f"{backend.url}/rpc",
            "--fan", fan.address, "--token", fan_token, "--shot", str(SHOT),
        ]  # fmt: skip
        done = await asyncio.to_thread(
            subprocess.run, cmd, cwd=ROOT, capture_output=True, text=True, timeout=180
        )
        lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
        assert lines, f"no result: {done.stdout[-2000:]} {done.stderr[-2000:]}"
        result = json.loads(lines[-1][len("RESULT ") :])
        assert "failure" not in result, f"{result.get('failure')}\n{json.dumps(result, indent=1)}"
        assert result["errors"] == []

        assert sorted(int(t) for t in result["listings"]) == editions
        assert result["publicSrc"] == f"/ipfs/{cid}"
        assert result["buyLabel"] == "Buy for 0.100000000000000003"
        assert "Supporters only: subscribe to" in result["refused"]
        assert result["bought"].startswith(f"Bought token #{result['boughtToken']}")
        owner = await asyncio.to_thread(
            chain.nft.functions.ownerOf(int(result["boughtToken"])).call
        )
        assert owner == fan.address
        receipt = await asyncio.to_thread(
            chain.w3.eth.get_transaction_receipt, result["subscribeTx"]
        )
        assert receipt["status"] == 1
        until = await asyncio.to_thread(
            chain.subs.functions.active_until(fan.address, artist.address).call
        )
        started = (await asyncio.to_thread(chain.w3.eth.get_block, receipt["blockNumber"]))[
            "timestamp"
        ]
        assert until == started + 2 * 30 * 86400, "two periods, paid from the page"
        assert result["unlockedBytes"] == len(secret)
        assert result["unlockedStatus"].startswith("Unlocked “Secret tone”")
        assert any("Edition #" in row for row in result["collection"])
        assert any(row.startswith("Supporter of") for row in result["collection"])
        assert result["badges"] == [True, False]
        assert result["injected"] == 0, "names and titles are text, never markup"
        assert result["walletCalls"].count("eth_sendTransaction") == 2
        selector = Web3.keccak(text="subscribe(address,uint256,uint256)")[:4]
        expected = selector + abi_encode(
            ["address", "uint256", "uint256"], ["0x" + "ab" * 20, 1, 2]
        )
        assert result["encodedSubscribe"] == "0x" + expected.hex()
        assert "1 to 120 periods" in result["badPeriods"]
    assert SHOT.exists()
