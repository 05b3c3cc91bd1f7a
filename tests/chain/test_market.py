"""The marketplace and the subscriptions on the embedded devnet and on anvil (Shanghai rules):
sales pay the EIP-2981 royalty to the artist's split (set in the tipping contract) and the rest
to the seller, to the wei; subscriptions run for whole 30-day periods on the chain's clock."""

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import Web3
from web3.logs import DISCARD

from chain import build
from chain.contracts import MARKETPLACE
from chain.contracts.market import SOLD_TOPIC, decode_event, decode_sold, decode_support
from harness.market import expected_payouts, list_for_sale, mint_editions
from tests.chain.helpers import revert_reason, transact
from tests.chain.test_contracts import splits

HERE = Path(__file__).resolve().parent
CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
PERIOD = 30 * 86400
ETHER = 10**18


def advance_time(chain, seconds: int) -> int:
    """Move the chain's clock `seconds` ahead (a new block); the new head's timestamp."""
    w3 = chain.w3
    if chain.kind == "anvil":
        w3.provider.make_request("evm_increaseTime", [seconds])
        w3.provider.make_request("evm_mine", [])
    else:  # eth-tester: travel to an absolute time, which mines a block at it
        now = w3.eth.get_block("latest")["timestamp"]
        reply = w3.provider.make_request("testing_timeTravel", [now + seconds])
        assert "error" not in reply, reply
    return w3.eth.get_block("latest")["timestamp"]


def block_time(receipt, w3: Web3) -> int:
    return w3.eth.get_block(receipt["blockNumber"])["timestamp"]


def balances(contract, addresses) -> Counter:
    return Counter({a: contract.functions.balances(a).call() for a in addresses})


# ---- marketplace ---------------------------------------------------------------------------


def test_editions_sold_and_resold_pay_seller_artist_and_split_to_the_wei(chain, deployed):
    """The issue's scenario: 3 editions minted, a fan buys one and resells it to a second fan."""
    w3, (_, artist, fan, second_fan, producer, singer) = chain.w3, chain.accounts[:6]
    market, nft = deployed.market, deployed.nft
    split = ([producer.address, singer.address, artist.address], [2500, 1333, 6167])
    transact(w3, artist, deployed.tipping.functions.set_split(*split))
    editions = mint_editions(w3, deployed.registry, nft, artist, CID, 3, royalty_bps=1000)
    assert len(editions) == 3 and nft.functions.balanceOf(artist.address).call() == 3
    first_price, resale_price = ETHER + 7, 3 * ETHER + 13
    receipt = None
    list_for_sale(w3, market, nft, artist, editions, first_price)
    assert market.functions.listings(editions[1]).call() == (artist.address, first_price)
    everyone = [artist.address, fan.address, second_fan.address, producer.address, singer.address]

    fan_before = w3.eth.get_balance(fan.address)
    receipt = transact(w3, fan, market.functions.buy(editions[1]), value=first_price)
    fan_gas = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert w3.eth.get_balance(fan.address) == fan_before - first_price - fan_gas
    assert nft.functions.ownerOf(editions[1]).call() == fan.address
    (sold,) = market.events.Sold().process_receipt(receipt, errors=DISCARD)
    assert sold["args"]["royalty"] == first_price // 10 and sold["args"]["artist"] == artist.address
    first = expected_payouts(first_price, 1000, artist.address, *split, seller=artist.address)
    assert balances(market, everyone) == first
    # producer: 25% of the royalty; singer 13.33%; the artist (last payee) the rest plus 90%
    assert first[producer.address] == (first_price // 10) * 2500 // 10_000

    list_for_sale(w3, market, nft, fan, [editions[1]], resale_price)
    assert "own listing" in revert_reason(
        market.functions.buy(editions[1]), fan.address, resale_price
    )
    transact(w3, second_fan, market.functions.buy(editions[1]), value=resale_price)
    assert nft.functions.ownerOf(editions[1]).call() == second_fan.address
    second = expected_payouts(resale_price, 1000, artist.address, *split, seller=fan.address)
    owed = balances(market, everyone)
    assert owed == first + second
    assert owed[fan.address] == resale_price - resale_price // 10
    assert sum(owed.values()) == first_price + resale_price == market.functions.owed_total().call()
    assert w3.eth.get_balance(market.address) == first_price + resale_price

    for payee in (fan, producer, singer, artist):
        before = w3.eth.get_balance(payee.address)
        receipt = transact(w3, payee, market.functions.withdraw())
        gas = receipt["gasUsed"] * receipt["effectiveGasPrice"]
        assert w3.eth.get_balance(payee.address) == before + owed[payee.address] - gas
    assert w3.eth.get_balance(market.address) == 0 == market.functions.owed_total().call()
    # the two unsold editions are still listed by the artist
    assert market.functions.listings(editions[0]).call() == (artist.address, first_price)


def test_listing_rules_cancel_and_price_change(chain, deployed):
    w3, (_, artist, fan, other) = chain.w3, chain.accounts[:4]
    market, nft = deployed.market, deployed.nft
    (token,) = mint_editions(w3, deployed.registry, nft, artist, CID, 1, royalty_bps=500)
    list_token = market.functions.list_token
    assert "approve the marketplace" in revert_reason(list_token(token, 100), artist.address)
    transact(w3, artist, nft.functions.approve(market.address, token))
    assert "only the token's owner" in revert_reason(list_token(token, 100), other.address)
    assert "more than zero" in revert_reason(list_token(token, 0), artist.address)
    receipt = transact(w3, artist, list_token(token, 100))
    (listed,) = market.events.Listed().process_receipt(receipt, errors=DISCARD)
    assert listed["args"]["seller"] == artist.address and listed["args"]["price"] == 100

    assert "only the seller" in revert_reason(market.functions.change_price(token, 5), fan.address)
    receipt = transact(w3, artist, market.functions.change_price(token, 250))
    (changed,) = market.events.PriceChanged().process_receipt(receipt, errors=DISCARD)
    assert (changed["args"]["old_price"], changed["args"]["new_price"]) == (100, 250)
    buy = market.functions.buy(token)
    assert "exactly the listed price" in revert_reason(buy, fan.address, 100)
    assert "exactly the listed price" in revert_reason(buy, fan.address, 251)

    assert "only the seller" in revert_reason(market.functions.cancel(token), fan.address)
    receipt = transact(w3, artist, market.functions.cancel(token))
    assert len(market.events.Cancelled().process_receipt(receipt, errors=DISCARD)) == 1
    assert "not listed" in revert_reason(buy, fan.address, 250)
    assert "not listed" in revert_reason(market.functions.cancel(token), artist.address)

    # a listing whose seller gave the token away elsewhere cannot be bought
    transact(w3, artist, list_token(token, 300))
    transact(w3, artist, nft.functions.transferFrom(artist.address, other.address, token))
    assert "no longer holds" in revert_reason(buy, fan.address, 300)
    assert market.functions.owed_total().call() == 0


def test_sold_logs_decode_for_the_followers(chain, deployed):
    w3, (_, artist, fan) = chain.w3, chain.accounts[:3]
    market, nft = deployed.market, deployed.nft
    (token,) = mint_editions(w3, deployed.registry, nft, artist, CID, 1, royalty_bps=1234)
    list_for_sale(w3, market, nft, artist, [token], 10**15)
    receipt = transact(w3, fan, market.functions.buy(token), value=10**15)
    sold_logs = [log for log in receipt["logs"] if log["topics"][0].to_0x_hex() == SOLD_TOPIC]
    (sale,) = [decode_sold(log) for log in sold_logs]
    assert (sale.seller, sale.buyer, sale.artist) == (artist.address, fan.address, artist.address)
    assert (sale.token_id, sale.price_wei, sale.royalty_wei) == (
        token,
        10**15,
        10**15 * 1234 // 10_000,
    )
    assert sale.tx_hash == receipt["transactionHash"].to_0x_hex()
    names = [decode_event(MARKETPLACE, log).name for log in market_logs(receipt, market)]
    assert names == ["Credited", "Credited", "Sold"]
    with pytest.raises(ValueError):
        decode_support(sold_logs[0])


def market_logs(receipt, contract):
    return [log for log in receipt["logs"] if log["address"] == contract.address]


def test_a_buyer_reentering_buy_from_the_token_hook_is_refused(chain, deployed):
    w3, (deployer, artist) = chain.w3, chain.accounts[:2]
    market, nft = deployed.market, deployed.nft
    first, second = mint_editions(w3, deployed.registry, nft, artist, CID, 2, royalty_bps=1000)
    list_for_sale(w3, market, nft, artist, [first, second], 1000)
    artifact = build.compile_source(HERE / "contracts" / "reentrant_buyer.vy")
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = transact(w3, deployer, factory.constructor(market.address))
    attacker = w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])
    transact(w3, deployer, attacker.functions.attack(first, 1000, second, 1000), value=2000)
    assert attacker.functions.attempts().call() == 1, "the hook ran"
    assert attacker.functions.reentered().call() is False
    assert nft.functions.ownerOf(first).call() == attacker.address
    assert nft.functions.ownerOf(second).call() == artist.address
    assert market.functions.listings(second).call() == (artist.address, 1000)
    assert w3.eth.get_balance(attacker.address) == 1000, "the second payment came back"
    assert market.functions.owed_total().call() == 1000 == w3.eth.get_balance(market.address)


def test_sales_lose_and_create_no_wei(chain, deployed):
    """Hypothesis: any split, royalty and chain of resales among four holders: every wei paid
    is owed to exactly the payee the model says, and the contract holds what it owes."""
    w3 = chain.w3
    artist, holders = chain.accounts[1], chain.accounts[2:6]
    market, nft = deployed.market, deployed.nft
    examples = 8 if chain.kind == "devnet" else 20
    minted = iter(range(10**6))

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        database=None,
    )
    @given(
        shares=splits(),
        royalty_bps=st.integers(0, 5000),
        sales=st.lists(
            st.tuples(st.integers(0, 3), st.integers(1, 10**20)), min_size=1, max_size=4
        ),
        seed=st.binary(min_size=8, max_size=8),
        withdraw=st.booleans(),
    )
    def check(shares, royalty_bps, sales, seed, withdraw) -> None:
        payees = [
            Web3.to_checksum_address(Web3.keccak(seed + bytes([i]))[-20:].hex())
            for i in range(len(shares))
        ]
        transact(w3, artist, deployed.tipping.functions.set_split(payees, shares))
        cid = f"{CID[:-6]}{next(minted):06d}"
        (token,) = mint_editions(w3, deployed.registry, nft, artist, cid, 1, royalty_bps)
        watched = sorted({artist.address, *payees, *(h.address for h in holders)})
        before = balances(market, watched)
        withdrawn = paid = 0
        expected: Counter = Counter()
        owner = artist
        for buyer_index, price in sales:
            buyer = holders[buyer_index]
            list_for_sale(w3, market, nft, owner, [token], price)
            if buyer.address == owner.address:
                assert "own listing" in revert_reason(
                    market.functions.buy(token), buyer.address, price
                )
                transact(w3, owner, market.functions.cancel(token))
                continue
            transact(w3, buyer, market.functions.buy(token), value=price)
            paid += price
            expected += expected_payouts(
                price, royalty_bps, artist.address, payees, shares, owner.address
            )
            owner = buyer
        if withdraw and market.functions.balances(owner.address).call():
            withdrawn = market.functions.balances(owner.address).call()
            transact(w3, owner, market.functions.withdraw())
        after = balances(market, watched)
        credited = Counter({a: after[a] - before[a] for a in watched})
        if withdrawn:
            credited[owner.address] += withdrawn
        assert +credited == +expected
        assert sum(credited.values()) == paid == sum(expected.values())
        assert market.functions.owed_total().call() == w3.eth.get_balance(market.address)

    check()
