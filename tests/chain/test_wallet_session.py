"""The studio's wallet session on the devnet served over HTTP, with the real keyring."""

import asyncio

import httpx
import pytest

from chain import contracts
from chain.errors import WalletLockedError, WrongPasswordError
from chain.wallet import Wallet, new_mnemonic
from studio.wallet.session import WalletSession, local_network

PASSWORD = "a long enough password"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def session(vault, devnet_server, tmp_path):
    clock = FakeClock()
    network = await local_network(devnet_server.url)
    session = WalletSession(Wallet(vault, scrypt_n=2**12), network, tmp_path / "tx.db", 60.0, clock)
    session.clock = clock
    address = await session.create_from_mnemonic(new_mnemonic(), PASSWORD)
    session.lock()  # a new wallet starts unlocked; these tests start from a locked one
    async with httpx.AsyncClient() as client:
        reply = await client.post(f"{devnet_server.url}/chain/faucet", json={"address": address})
        reply.raise_for_status()
    await session.connect()
    yield session
    await session.close()


async def test_local_network_comes_from_the_backend(session, devnet_server):
    assert session.network.key == "local"
    assert session.network.rpc_url == f"{devnet_server.url}/rpc"
    assert set(session.network.contracts) == set(contracts.NAMES)
    assert await session.balance() == 10 * 10**18


async def test_unlock_tip_and_follow_to_the_receipt(session, devnet_server):
    artist = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    prepared = await session.prepare_tip(artist, 10**17, "from the session")
    description = session.describe(prepared)
    assert description.contract == "Tipping contract" and description.function == "tip"
    assert "0.1 DEV" in description.summary and "from the session" in description.summary
    with pytest.raises(WalletLockedError, match="locked"):
        await session.send(prepared)
    with pytest.raises(WrongPasswordError):
        await session.unlock("not my password")
    assert not session.unlocked
    await session.unlock(PASSWORD)
    assert session.unlocked and session.unlock_remaining_s == 60.0

    settled = asyncio.get_running_loop().create_future()
    session.tx_updated.connect(lambda outcome: settled.done() or settled.set_result(outcome))
    sent = await session.send(prepared)
    outcome = await asyncio.wait_for(settled, 30)
    assert outcome.hash == sent.hash and outcome.status == "mined"
    (record,) = session.recent()
    assert record.status == "mined" and "Tip 0.1 DEV" in record.description
    tipping = session.contract(contracts.TIPPING)
    assert tipping.functions.balances(artist).call() >= 10**17


async def test_the_unlock_expires(session):
    changes = []
    session.changed.connect(lambda: changes.append(session.unlocked))
    await session.unlock(PASSWORD)
    session.clock.now += 59
    assert session.unlocked
    session.clock.now += 2
    assert not session.unlocked and session.unlock_remaining_s == 0
    assert changes[-1] is False
    prepared = await session.prepare_tip("0x70997970C51812dc3A010C7d01b50e0d17dc79C8", 1)
    with pytest.raises(WalletLockedError):
        await session.send(prepared)
