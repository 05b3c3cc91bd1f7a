"""The marketplace and the subscriptions on the embedded devnet and on anvil (Shanghai rules):
sales pay the EIP-2981 royalty to the artist's split (set in the tipping contract) and the rest
to the seller, to the wei; subscriptions run for whole 30-day periods on the chain's clock."""

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from web3 import Web3
from web3.logs import DISCARD

from chain import build
from chain.contracts import MARKETPLACE, SUBSCRIPTIONS
from chain.contracts.market import (
    SOLD_TOPIC,
    SUBSCRIBED_TOPIC,
    decode_event,
    decode_sold,
    decode_support,
)
from chain.contracts.tipping import hex_text as hex_of
from harness.market import expected_payouts, list_for_sale, mint_editions
from tests.chain.helpers import on_chain_settings, revert_reason, transact
from tests.chain.test_contracts import _fresh_addresses, splits

HERE = Path(__file__).resolve().parent
CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
PERIOD = 30 * 86400
ETHER = 10**18


def advance_time(chain, seconds: int) -> int:
    """Move the chain's clock `seconds` ahead (a new block); the new head's timestamp."""
    w3 = chain.w3
    target = w3.eth.get_block("latest")["timestamp"] + seconds
    if chain.kind == "anvil":
        reply = w3.provider.make_request("evm_setNextBlockTimestamp", [target])
        assert "error" not in reply, reply
        w3.provider.make_request("evm_mine", [])
    else:  # eth-tester travels to an absolute time and mines a block a second before it
        reply = w3.provider.make_request("testing_timeTravel", [target + 1])
        assert "error" not in reply, reply
    now = w3.eth.get_block("latest")["timestamp"]
    assert now == target
    return now


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
    sold_logs = [log for log in receipt["logs"] if hex_of(log["topics"][0]) == SOLD_TOPIC]
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

    @on_chain_settings(examples)
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
        payees = _fresh_addresses(seed, len(shares))
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


# ---- subscriptions -------------------------------------------------------------------------


def test_tiers_are_set_checked_and_read(chain, deployed):
    artist = chain.accounts[1]
    subs = deployed.subscriptions
    set_tiers = subs.functions.set_tiers
    assert "differ in length" in revert_reason(set_tiers(["a", "b"], [1]), artist.address)
    assert "needs a name" in revert_reason(set_tiers([""], [1]), artist.address)
    assert "more than zero" in revert_reason(set_tiers(["fan"], [0]), artist.address)
    # a sixth tier does not fit the contract's bound on the list: the call reverts
    revert_reason(set_tiers([str(i) for i in range(6)], [1] * 6), artist.address)
    names, prices = ["Fan", "Backstage", "Crew", "Band", "Patron"], [1, 2, 3, 4, 5 * ETHER]
    transact(chain.w3, artist, set_tiers(names, prices))
    assert subs.functions.tiers_of(artist.address).call() == list(zip(names, prices, strict=True))
    assert subs.functions.period().call() == PERIOD


def test_a_fan_subscribes_for_two_periods_and_it_expires_on_chain_time(chain, deployed):
    w3, (_, artist, fan, producer) = chain.w3, chain.accounts[:4]
    subs = deployed.subscriptions
    transact(w3, artist, subs.functions.set_tiers(["Fan", "Patron"], [10**16 + 1, ETHER]))
    split = ([producer.address, artist.address], [3000, 7000])
    transact(w3, artist, deployed.tipping.functions.set_split(*split))
    subscribe = subs.functions.subscribe
    assert "no such tier" in revert_reason(subscribe(artist.address, 2, 1), fan.address, 1)
    assert "between 1 and 120" in revert_reason(subscribe(artist.address, 0, 0), fan.address, 0)
    assert "exactly the tier's price" in revert_reason(
        subscribe(artist.address, 0, 2), fan.address, 10**16 + 1
    )
    assert "themselves" in revert_reason(
        subscribe(artist.address, 0, 1), artist.address, 10**16 + 1
    )
    assert subs.functions.active_until(fan.address, artist.address).call() == 0

    price = 2 * (10**16 + 1)
    receipt = transact(w3, fan, subscribe(artist.address, 0, 2), value=price)
    started = block_time(receipt, w3)
    until = subs.functions.active_until(fan.address, artist.address).call()
    assert until == started + 2 * PERIOD
    logs = market_logs(receipt, subs)
    assert [decode_event(SUBSCRIPTIONS, log).name for log in logs] == [
        "Subscribed", "Credited", "Credited"
    ]  # fmt: skip
    (event,) = [decode_support(log) for log in logs if hex_of(log["topics"][0]) == SUBSCRIBED_TOPIC]
    assert (event.renewal, event.fan, event.artist) == (False, fan.address, artist.address)
    assert (event.periods, event.amount_wei, event.active_until) == (2, price, until)
    owed = balances(subs, [producer.address, artist.address])
    assert owed == {
        producer.address: price * 3000 // 10_000,
        artist.address: price - price * 3000 // 10_000,
    }
    assert subs.functions.owed_total().call() == price == w3.eth.get_balance(subs.address)

    now = advance_time(chain, 2 * PERIOD - 100)
    assert now < subs.functions.active_until(fan.address, artist.address).call()
    now = advance_time(chain, 101)
    assert subs.functions.active_until(fan.address, artist.address).call() < now, "expired"
    # after expiry, paying again starts a new subscription from now
    receipt = transact(w3, fan, subscribe(artist.address, 1, 1), value=ETHER)
    assert subs.events.Subscribed().process_receipt(receipt, errors=DISCARD)
    assert subs.functions.active_until(fan.address, artist.address).call() == (
        block_time(receipt, w3) + PERIOD
    )


def test_renewal_adds_periods_at_the_end_and_cancel_keeps_the_current_period(chain, deployed):
    w3, (_, artist, fan) = chain.w3, chain.accounts[:3]
    subs = deployed.subscriptions
    transact(w3, artist, subs.functions.set_tiers(["Fan", "Patron"], [100, 1000]))
    receipt = transact(w3, fan, subs.functions.subscribe(artist.address, 0, 1), value=100)
    started = block_time(receipt, w3)
    advance_time(chain, PERIOD // 2)
    assert "current tier" in revert_reason(
        subs.functions.subscribe(artist.address, 1, 1), fan.address, 1000
    )
    receipt = transact(w3, fan, subs.functions.subscribe(artist.address, 0, 3), value=300)
    (renewed,) = subs.events.Renewed().process_receipt(receipt, errors=DISCARD)
    assert renewed["args"]["active_until"] == started + 4 * PERIOD
    advance_time(chain, PERIOD)  # now in the second period
    receipt = transact(w3, fan, subs.functions.cancel(artist.address))
    (cancelled,) = subs.events.Cancelled().process_receipt(receipt, errors=DISCARD)
    assert cancelled["args"]["active_until"] == started + 2 * PERIOD
    assert subs.functions.active_until(fan.address, artist.address).call() == started + 2 * PERIOD
    assert subs.functions.balances(artist.address).call() == 400, "nothing refunded"
    advance_time(chain, PERIOD)
    assert "no running subscription" in revert_reason(
        subs.functions.cancel(artist.address), fan.address
    )


def test_expiry_arithmetic_across_renewals(chain, deployed):
    """Hypothesis: any sequence of waits and payments; active_until follows the model (a
    running subscription grows by whole periods at its end, an expired one restarts from the
    block's time) and every wei paid is owed to the artist."""
    w3, (_, artist) = chain.w3, chain.accounts[:2]
    fans = iter(chain.accounts[2:] * 1000)
    subs = deployed.subscriptions
    transact(w3, artist, subs.functions.set_tiers(["Fan"], [7]))
    examples = 6 if chain.kind == "devnet" else 15

    @on_chain_settings(examples)
    @given(
        steps=st.lists(
            st.tuples(st.integers(0, 3 * PERIOD), st.integers(1, 120)), min_size=1, max_size=4
        )
    )
    def check(steps) -> None:
        fan = next(fans)
        until = subs.functions.active_until(fan.address, artist.address).call()
        owed_before = subs.functions.balances(artist.address).call()
        paid = 0
        for wait, periods in steps:
            if wait:
                advance_time(chain, wait)
            receipt = transact(
                w3, fan, subs.functions.subscribe(artist.address, 0, periods), value=7 * periods
            )
            now = block_time(receipt, w3)
            until = until + periods * PERIOD if until > now else now + periods * PERIOD
            paid += 7 * periods
            assert subs.functions.active_until(fan.address, artist.address).call() == until
        assert subs.functions.balances(artist.address).call() - owed_before == paid
        assert subs.functions.owed_total().call() == w3.eth.get_balance(subs.address)

    check()
