"""The fan page's Tip button (backend/static/fan/tip.js) in headless Chromium, through an
EIP-1193 wallet that forwards to anvil: the tip lands on chain with the exact amount and
message, and markup in the message is never rendered."""

import asyncio
import functools
import http.server
import json
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from eth_abi import encode as abi_encode
from web3 import Web3

from chain.contracts.tipping import decode_tipped
from tests.tips.conftest import ROOT, TipChain, browser_missing

TIP_JS = ROOT / "backend" / "static" / "fan" / "tip.js"
MESSAGE = '<img src=x onerror="alert(1)"><b>encore!</b> & é'


@pytest.fixture
def page_server(tmp_path: Path, tip_chain: TipChain):  # type: ignore[no-untyped-def]
    shutil.copy(TIP_JS, tmp_path / "tip.js")
    (tmp_path / "index.html").write_text(
        f"""<!doctype html><html><head><meta charset="utf-8">
<meta name="harmonie:tipping" content="{tip_chain.address}">
<meta name="harmonie:chain-id" content="1114"></head>
<body><h2 data-tip-artist="{tip_chain.artist.address}">Nova live</h2>
<script src="tip.js"></script></body></html>""",
        encoding="utf-8",
    )
    (tmp_path / "follow.html").write_text(
        f"""<!doctype html><html><head><meta charset="utf-8">
<meta name="harmonie:tipping" content="{tip_chain.address}">
<meta name="harmonie:chain-id" content="1114"></head>
<body><section id="stage"><h2>stage</h2></section>
<script>window.harmonie = {{current: "s1", streams: [{{stream: "s1",
  info: {{id: "s1", artist_address: "{tip_chain.artist.address}"}}}}]}};</script>
<script src="tip.js"></script></body></html>""",
        encoding="utf-8",
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


async def test_fan_tips_from_the_page_through_the_wallet(
    tip_chain: TipChain, page_server: str
) -> None:
    if reason := browser_missing():
        pytest.skip(reason)
    fan = tip_chain.fans[0]
    cmd = [
        "node", str(ROOT / "tests" / "tips" / "fan_tip_check.mjs"),
        "--page", page_server, "--rpc", tip_chain.node.http_url, "--fan", fan.address,
        "--amount", "0.000000000000000001", "--message", MESSAGE,
    ]  # fmt: skip
    done = await asyncio.to_thread(
        subprocess.run, cmd, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    assert lines, f"no result: {done.stdout[-2000:]} {done.stderr[-2000:]}"
    result = json.loads(lines[-1][len("RESULT ") :])

    assert "too long (282 bytes; 280 at most)" in result["tooLong"]
    assert "more than zero" in result["zero"]
    assert result["callsBeforeTip"] == 0, "bad input never reaches the wallet"
    assert result["injected"] == 0 and result["alerts"] == []
    assert result["status"].startswith("Sent 0.000000000000000001 — thank you!")
    assert result["walletCalls"][-1] == "eth_sendTransaction"
    assert result["formatted"] == "0.000000000000000001"
    assert result["followedArtist"] == tip_chain.artist.address, "the watched stream's artist"
    selector = Web3.keccak(text="tip(address,string)")[:4]
    expected = selector + abi_encode(["address", "string"], ["0x" + "ab" * 20, "hé"])
    assert result["encoded"] == "0x" + expected.hex()

    receipt = tip_chain.w3.eth.get_transaction_receipt(result["txHash"])
    assert receipt["status"] == 1
    tip = decode_tipped(receipt["logs"][-1])
    assert (tip.artist, tip.fan) == (tip_chain.artist.address, fan.address)
    assert tip.amount_wei == 1 and tip.message == MESSAGE
