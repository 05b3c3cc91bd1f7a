"""A fan's side of the chain: tip an artist through the tipping contract, as a wallet would."""

from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3


class TipReverted(RuntimeError):
    pass


def send_tip(
    w3: Web3, tipping: Any, fan: LocalAccount, artist: str, wei: int, text: str, timeout: float = 60
) -> str:
    """Tip `wei` with `text`, mined before this returns; the transaction hash (0x...)."""
    tx = tipping.functions.tip(artist, text).build_transaction(
        {
            "from": fan.address,
            "value": wei,
            "nonce": w3.eth.get_transaction_count(fan.address),
            "chainId": w3.eth.chain_id,
        }
    )
    signed = fan.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)
    if receipt.status != 1:
        raise TipReverted(f"the tip {text!r} reverted")
    return "0x" + bytes(tx_hash).hex().removeprefix("0x")


def buy_edition(w3: Web3, market: Any, fan: LocalAccount, token_id: int) -> str:
    """Buy a listed edition at its listed price, as a fan's wallet would; the mined hash."""
    from harness.market import send

    _seller, price = market.functions.listings(token_id).call()
    receipt = send(w3, fan, market.functions.buy(token_id), value=int(price))
    return "0x" + bytes(receipt["transactionHash"]).hex().removeprefix("0x")


def subscribe(
    w3: Web3, subscriptions: Any, fan: LocalAccount, artist: str, tier: int, periods: int = 1
) -> str:
    """Subscribe to (or renew) `artist`'s tier for `periods` of 30 days; the mined hash."""
    from harness.market import send

    tiers = subscriptions.functions.tiers_of(artist).call()
    price = int(tiers[tier][1]) * periods
    call = subscriptions.functions.subscribe(artist, tier, periods)
    receipt = send(w3, fan, call, value=price)
    return "0x" + bytes(receipt["transactionHash"]).hex().removeprefix("0x")
