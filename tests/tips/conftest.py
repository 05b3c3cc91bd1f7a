"""Tip fixtures: anvil (npm @foundry-rs/anvil) on loopback with the Tipping contract, fans
that tip through real signed transactions, a TCP proxy that can drop the node's sockets, and
a fresh tip store per test."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import asyncio
import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from chain import contracts
from chain.devnet import dev_accounts
from harness.anvil import ANVIL, ANVIL_CHAIN_ID, anvil_command, wait_for_rpc
from studio.local_backend import free_port
from studio.tips.store import TipStore

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"


def browser_missing() -> str | None:
    """Why headless Chromium cannot be driven here, or None."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is not installed (Debian package chromium)"
    if shutil.which("node") is None or not (ROOT / "node_modules" / "playwright-core").exists():
        return "node and node_modules/playwright-core are needed (make node)"
    return None


class Anvil:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> Web3:
        self.process = subprocess.Popen(
            anvil_command(self.port),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        return wait_for_rpc(self.http_url)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    if not ANVIL.exists():
        pytest.skip(f"anvil is not installed ({ANVIL}); run `npm ci`")
    node = Anvil()
    node.start()
    yield node
    node.stop()


@dataclass
class TipChain:
    """A freshly deployed Tipping contract; the artist is dev account 1, fans are 2-5."""

    node: Anvil
    w3: Web3
    tipping: Contract
    artist: LocalAccount
    fans: list[LocalAccount]

    @property
    def address(self) -> str:
        return self.tipping.address

    def send(self, account: LocalAccount, tx: dict) -> str:
        tx = {
            **tx,
            "from": account.address,
            "nonce": self.w3.eth.get_transaction_count(account.address, "pending"),
            "chainId": ANVIL_CHAIN_ID,
        }
        tx.setdefault("gas", 300_000)
        tx.setdefault("maxFeePerGas", 2 * self.w3.eth.get_block("latest")["baseFeePerGas"] + 10**9)
        tx.setdefault("maxPriorityFeePerGas", 10**9)
        signed = account.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.02)
        assert receipt["status"] == 1, f"transaction reverted: {receipt}"
        return "0x" + bytes(tx_hash).hex()

    def tip(self, fan: LocalAccount, wei: int, message: str = "") -> str:
        """Sends tip(artist, message) from `fan`; returns the transaction hash."""
        call = self.tipping.functions.tip(self.artist.address, message)
        return self.send(fan, call.build_transaction({"from": fan.address, "value": wei}))

    def tip_raw_message(self, fan: LocalAccount, wei: int, message: bytes) -> str:
        """tip() with message bytes that need not be UTF-8 (crafted calldata)."""
        selector = Web3.keccak(text="tip(address,string)")[:4]
        data = selector + abi_encode(["address", "bytes"], [self.artist.address, message])
        return self.send(fan, {"to": self.address, "value": wei, "data": "0x" + data.hex()})

    def rpc(self, method: str, *params: object) -> object:
        response = self.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        assert "error" not in response, response
        return response["result"]

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", hex(blocks))

    def snapshot(self) -> str:
        return str(self.rpc("evm_snapshot"))

    def revert(self, snapshot_id: str) -> None:
        assert self.rpc("evm_revert", snapshot_id) is True


@pytest.fixture
def tip_chain(anvil: Anvil) -> TipChain:
    w3 = wait_for_rpc(anvil.http_url)
    accounts = dev_accounts(6)
    tipping = contracts.deploy(w3, contracts.TIPPING, (), accounts[0])
    return TipChain(anvil, w3, tipping, accounts[1], accounts[2:6])


@pytest.fixture
def tip_store(tmp_path: Path) -> Iterator[TipStore]:
    store = TipStore(tmp_path / "tips.sqlite3")
    yield store
    store.close()


class TcpProxy:
    """Forwards loopback TCP to the node; `drop()` cuts every open connection (a node that
    drops its WebSockets), `refuse` makes new connections fail (the node is unreachable)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.refuse = False
        self.accepted = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> "TcpProxy":
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse:
            writer.close()
            return
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    def drop(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
