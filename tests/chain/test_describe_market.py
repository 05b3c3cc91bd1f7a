"""The confirmation dialog's words for marketplace and subscription transactions."""

from web3 import Web3

from chain import contracts
from chain.describe import describe_call
from chain.networks import LOCAL_DEVNET

MARKET = "0x" + "11" * 20
SUBS = "0x" + "22" * 20
ARTIST = Web3.to_checksum_address("0x" + "ab" * 20)
NETWORK = LOCAL_DEVNET.with_contracts(
    {contracts.MARKETPLACE: MARKET, contracts.SUBSCRIPTIONS: SUBS}
)


def data(name: str, fn: str, args: list) -> str:
    return Web3().eth.contract(abi=contracts.abi(name)).encode_abi(fn, args)


def summary(name: str, to: str, fn: str, args: list, value: int = 0) -> str:
    return describe_call(NETWORK, to, data(name, fn, args), value).summary


def test_market_calls_are_said_in_words():
    m = contracts.MARKETPLACE
    symbol = NETWORK.symbol
    assert summary(m, MARKET, "buy", [7], 15 * 10**17) == f"Buy edition #7 for 1.5 {symbol}"
    assert summary(m, MARKET, "list_tokens", [[1, 2, 3], 10**18]) == (
        f"List 3 editions for sale at 1 {symbol} each"
    )
    assert summary(m, MARKET, "change_price", [2, 2 * 10**18]) == (
        f"Change the price of edition #2 to 2 {symbol}"
    )
    assert summary(m, MARKET, "cancel", [2]) == "Take edition #2 off sale"
    assert summary(m, MARKET, "withdraw", []) == "Withdraw your marketplace balance to this wallet"


def test_subscription_calls_are_said_in_words():
    s = contracts.SUBSCRIPTIONS
    symbol = NETWORK.symbol
    assert summary(s, SUBS, "subscribe", [ARTIST, 0, 2], 2 * 10**18) == (
        f"Support 0xABaB…ABaB for 2 periods of 30 days (tier 1), paying 2 {symbol}"
    )
    assert "at the end of the current period (no refund)" in summary(s, SUBS, "cancel", [ARTIST])
    assert summary(s, SUBS, "set_tiers", [["Fan", "Patron"], [1, 2]]) == (
        "Set your supporter tiers (2)"
    )
