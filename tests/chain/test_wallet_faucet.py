"""Coin to start: on the local profile a new or imported wallet is funded by the faucet of the
studio's own backend (a real `python -m backend` process, started by the Studio)."""

import pytest
from eth_account import Account

from chain.errors import ChainError
from chain.wallet import Wallet, new_mnemonic
from studio.core import Studio
from studio.profiles import load_profile
from studio.settings import Settings
from studio.wallet.session import START_COIN_WEI

PASSWORD = "a long enough password"


@pytest.fixture
async def studio(vault, tmp_path):
    studio = Studio(
        load_profile("local"),
        Settings.open(tmp_path / "settings.toml"),
        tmp_path / "data",
        tmp_path / "log",
    )
    try:
        await studio.start()
        await studio.start_wallet()
        assert studio.wallet is not None
        studio.wallet.wallet = Wallet(vault, scrypt_n=2**12)  # the test's private keyring
        yield studio
    finally:
        await studio.stop()


async def test_a_new_wallet_on_local_gets_coin_to_start(studio):
    wallet = studio.wallet
    assert wallet.test_coin_available
    changes = []
    wallet.changed.connect(lambda: changes.append(wallet.address))
    address = await wallet.create_from_mnemonic(new_mnemonic(), PASSWORD)
    assert await wallet.balance() == START_COIN_WEI
    assert changes and changes[-1] == address, "the window hears of the new balance"


async def test_an_imported_wallet_gets_coin_and_more_on_request(studio):
    wallet = studio.wallet
    key = Account.create().key.hex()
    await wallet.import_private_key(key, PASSWORD)
    assert await wallet.balance() == START_COIN_WEI
    await wallet.get_test_coin(2 * 10**18)  # the "Get test coin" path
    assert await wallet.balance() == START_COIN_WEI + 2 * 10**18
    with pytest.raises(ChainError, match="refused"):
        await wallet.get_test_coin(10**40)  # over the faucet's cap: its reason, not a crash
