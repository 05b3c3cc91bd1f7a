"""The three contracts on the embedded devnet and on anvil (chain id 1114, Shanghai rules)."""

import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from web3 import Web3

from chain import build, contracts
from tests.chain.helpers import on_chain_settings, revert_reason, transact

HERE = Path(__file__).resolve().parent
TOTAL_BPS = 10_000


# ---- tipping -------------------------------------------------------------------------------


def test_tip_without_split_credits_the_artist_and_logs_the_message(chain, deployed):
    artist, fan = chain.accounts[1], chain.accounts[2]
    receipt = transact(
        chain.w3, fan, deployed.tipping.functions.tip(artist.address, "great set!"), value=12345
    )
    (event,) = deployed.tipping.events.Tipped().process_receipt(receipt)
    assert event["args"]["artist"] == artist.address
    assert event["args"]["fan"] == fan.address
    assert event["args"]["amount"] == 12345
    assert event["args"]["message"] == "great set!"
    assert deployed.tipping.functions.balances(artist.address).call() == 12345
    assert deployed.tipping.functions.tipped_total(artist.address).call() == 12345


def test_tip_without_message_uses_the_one_argument_form(chain, deployed):
    artist, fan = chain.accounts[1], chain.accounts[2]
    tip_one_arg = deployed.tipping.get_function_by_signature("tip(address)")
    receipt = transact(chain.w3, fan, tip_one_arg(artist.address), value=7)
    (event,) = deployed.tipping.events.Tipped().process_receipt(receipt)
    assert event["args"]["message"] == ""


def test_tipped_is_indexed_by_artist_and_fan(chain, deployed):
    artist, other, fan = chain.accounts[1], chain.accounts[3], chain.accounts[2]
    transact(chain.w3, fan, deployed.tipping.functions.tip(artist.address, "a"), value=1)
    transact(chain.w3, fan, deployed.tipping.functions.tip(other.address, "b"), value=2)
    logs = deployed.tipping.events.Tipped().get_logs(
        from_block=0, argument_filters={"artist": artist.address}
    )
    assert [log["args"]["message"] for log in logs] == ["a"]


def test_zero_tip_and_zero_artist_revert(chain, deployed):
    fan = chain.accounts[2]
    tip = deployed.tipping.functions.tip
    assert "more than zero" in revert_reason(tip(chain.accounts[1].address, ""), fan.address, 0)
    zero = "0x" + "00" * 20
    assert "zero address" in revert_reason(tip(zero, ""), fan.address, 1)


def test_split_must_sum_to_10000_and_have_distinct_payees(chain, deployed):
    artist = chain.accounts[1]
    a, b = chain.accounts[3].address, chain.accounts[4].address
    set_split = deployed.tipping.functions.set_split
    assert "sum to 10000" in revert_reason(set_split([a, b], [5000, 4999]), artist.address)
    assert "listed twice" in revert_reason(set_split([a, a], [5000, 5000]), artist.address)
    assert "more than zero" in revert_reason(set_split([a, b], [10000, 0]), artist.address)
    assert "differ in length" in revert_reason(set_split([a, b], [10000]), artist.address)


def _fresh_addresses(seed: bytes, count: int) -> list[str]:
    return [
        Web3.to_checksum_address(Web3.keccak(seed + bytes([i]))[-20:].hex()) for i in range(count)
    ]


@st.composite
def splits(draw: st.DrawFn) -> list[int]:
    count = draw(st.integers(1, 16))
    cuts = sorted(
        draw(st.sets(st.integers(1, TOTAL_BPS - 1), min_size=count - 1, max_size=count - 1))
    )
    bounds = [0, *cuts, TOTAL_BPS]
    return [hi - lo for lo, hi in itertools.pairwise(bounds)]


def test_split_arithmetic_loses_and_creates_no_wei(chain, deployed):
    """Hypothesis: any split and any tips; every wei tipped lands in exactly one balance."""
    artist, fan = chain.accounts[1], chain.accounts[2]
    tipping = deployed.tipping
    examples = 25 if chain.kind == "devnet" else 60

    @on_chain_settings(examples)
    @given(
        shares=splits(),
        tips=st.lists(st.integers(1, 10**19), min_size=1, max_size=3),
        seed=st.binary(min_size=8, max_size=8),
    )
    def check(shares: list[int], tips: list[int], seed: bytes) -> None:
        payees = _fresh_addresses(seed, len(shares))
        transact(chain.w3, artist, tipping.functions.set_split(payees, shares))
        assert tipping.functions.split_of(artist.address).call() == [payees, shares]
        held_before = chain.w3.eth.get_balance(tipping.address)
        before = [tipping.functions.balances(p).call() for p in payees]
        for amount in tips:
            transact(chain.w3, fan, tipping.functions.tip(artist.address, ""), value=amount)
        expected = [0] * len(payees)
        for amount in tips:
            parts = [amount * bps // TOTAL_BPS for bps in shares[:-1]]
            parts.append(amount - sum(parts))
            expected = [e + p for e, p in zip(expected, parts, strict=True)]
        after = [tipping.functions.balances(p).call() for p in payees]
        balances = [a - b for a, b in zip(after, before, strict=True)]
        assert balances == expected
        assert sum(balances) == sum(tips)
        held = chain.w3.eth.get_balance(tipping.address)
        assert held - held_before == sum(tips)
        assert tipping.functions.owed_total().call() == held

    check()


def test_each_payee_withdraws_its_own_share(chain, deployed):
    artist, fan = chain.accounts[1], chain.accounts[2]
    payees = [chain.accounts[5], chain.accounts[6], chain.accounts[7]]
    shares = [5000, 3000, 2000]
    tipping = deployed.tipping
    transact(chain.w3, artist, tipping.functions.set_split([p.address for p in payees], shares))
    transact(chain.w3, fan, tipping.functions.tip(artist.address, "split me"), value=10**18 + 1)
    owed = [tipping.functions.balances(p.address).call() for p in payees]
    assert owed == [5 * 10**17, 3 * 10**17, 2 * 10**17 + 1]
    for payee, amount in zip(payees, owed, strict=True):
        before = chain.w3.eth.get_balance(payee.address)
        receipt = transact(chain.w3, payee, tipping.functions.withdraw())
        gas = receipt["gasUsed"] * receipt["effectiveGasPrice"]
        assert chain.w3.eth.get_balance(payee.address) == before + amount - gas
        assert tipping.functions.balances(payee.address).call() == 0
        (event,) = tipping.events.Withdrawn().process_receipt(receipt)
        assert event["args"]["amount"] == amount
    assert chain.w3.eth.get_balance(tipping.address) == 0
    assert "nothing to withdraw" in revert_reason(tipping.functions.withdraw(), payees[0].address)


def _deploy_attacker(chain, tipping_address: str, swallow: bool):
    artifact = build.compile_source(HERE / "contracts" / "reentrant_payee.vy")
    factory = chain.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = transact(chain.w3, chain.accounts[0], factory.constructor(tipping_address, swallow))
    return chain.w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])


@pytest.mark.parametrize("swallow", [False, True], ids=["bubbles", "swallows"])
def test_reentrancy_by_a_malicious_payee_fails(chain, deployed, swallow):
    artist, fan, honest = chain.accounts[1], chain.accounts[2], chain.accounts[5]
    tipping = deployed.tipping
    attacker = _deploy_attacker(chain, tipping.address, swallow)
    transact(
        chain.w3,
        artist,
        tipping.functions.set_split([attacker.address, honest.address], [5000, 5000]),
    )
    transact(chain.w3, fan, tipping.functions.tip(artist.address, ""), value=1000)
    transact(chain.w3, fan, tipping.functions.tip(artist.address, ""), value=1000)
    assert tipping.functions.balances(attacker.address).call() == 1000

    if not swallow:
        # the re-entered withdraw reverts, and so the whole withdrawal: nothing moves
        assert "reverted" in revert_reason(attacker.functions.attack(), chain.accounts[0].address)
        assert chain.w3.eth.get_balance(attacker.address) == 0
        assert tipping.functions.balances(attacker.address).call() == 1000
    else:
        transact(chain.w3, chain.accounts[0], attacker.functions.attack())
        assert attacker.functions.attempts().call() == 1
        assert attacker.functions.reentered().call() is False
        assert chain.w3.eth.get_balance(attacker.address) == 1000  # its share, once
        assert tipping.functions.balances(attacker.address).call() == 0
    held = chain.w3.eth.get_balance(tipping.address)
    assert held == tipping.functions.owed_total().call()
    assert tipping.functions.balances(honest.address).call() == 1000
    transact(chain.w3, honest, tipping.functions.withdraw())


# ---- content registry ----------------------------------------------------------------------

CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
META = "bafkreidgvpkjawlxz6sffxzwgooowe5yt7i6wsyg236mfoks77nywkptdq"


def test_register_a_track_and_look_it_up_by_artist(chain, deployed):
    artist = chain.accounts[1]
    registry = deployed.registry
    receipt = transact(chain.w3, artist, registry.functions.register(CID, META))
    (event,) = registry.events.TrackRegistered().process_receipt(receipt)
    assert event["args"]["artist"] == artist.address
    assert event["args"]["cid"] == CID
    assert event["args"]["cid_hash"] == Web3.keccak(text=CID)
    assert registry.functions.artist_of(CID).call() == artist.address
    track = registry.functions.track(CID).call()
    assert track[0] == artist.address and track[1] == META
    assert registry.functions.track_count(artist.address).call() == 1
    assert registry.functions.track_by_index(artist.address, 0).call() == CID
    assert registry.functions.artist_of("bafkunknown").call() == "0x" + "00" * 20


def test_a_cid_is_registered_once(chain, deployed):
    artist, other = chain.accounts[1], chain.accounts[3]
    registry = deployed.registry
    transact(chain.w3, artist, registry.functions.register(CID, META))
    assert "already registered" in revert_reason(
        registry.functions.register(CID, META), other.address
    )
    assert "already registered" in revert_reason(
        registry.functions.register(CID, ""), artist.address
    )
    assert "empty CID" in revert_reason(registry.functions.register("", META), artist.address)


def test_only_the_artist_updates_metadata(chain, deployed):
    artist, other = chain.accounts[1], chain.accounts[3]
    registry = deployed.registry
    transact(chain.w3, artist, registry.functions.register(CID, META))
    update = registry.functions.update_metadata(CID, "bafkreinew")
    assert "only the track's artist" in revert_reason(update, other.address)
    receipt = transact(chain.w3, artist, update)
    assert (
        registry.events.MetadataUpdated().process_receipt(receipt)[0]["args"]["metadata_cid"]
        == "bafkreinew"
    )
    assert registry.functions.track(CID).call()[1] == "bafkreinew"


def test_register_many_registers_a_batch_in_one_transaction(chain, deployed):
    artist, other = chain.accounts[1], chain.accounts[3]
    registry = deployed.registry
    cids = [f"bafkreibatch{i}" for i in range(3)]
    metas = [f"bafkreimeta{i}" for i in range(3)]
    receipt = transact(chain.w3, artist, registry.functions.register_many(cids, metas))
    events = registry.events.TrackRegistered().process_receipt(receipt)
    assert [e["args"]["cid"] for e in events] == cids
    assert [registry.functions.track(c).call()[1] for c in cids] == metas
    assert registry.functions.track_count(artist.address).call() == 3
    # sent again with one more (a batch resent after a crash): only the new one is registered
    receipt = transact(
        chain.w3, artist, registry.functions.register_many([*cids, CID], [*metas, META])
    )
    (event,) = registry.events.TrackRegistered().process_receipt(receipt)
    assert event["args"]["cid"] == CID
    assert registry.functions.track_count(artist.address).call() == 4
    # someone else's CID, an empty one or unpaired lists refuse the whole batch
    taken = registry.functions.register_many(["bafkreifresh", cids[0]], ["", ""])
    assert "already registered" in revert_reason(taken, other.address)
    assert "empty CID" in revert_reason(
        registry.functions.register_many([""], [META]), other.address
    )
    assert "one metadata CID per CID" in revert_reason(
        registry.functions.register_many(["bafkreifresh"], []), other.address
    )
    assert registry.functions.artist_of("bafkreifresh").call() == "0x" + "00" * 20


# ---- track NFT -----------------------------------------------------------------------------


def test_artist_mints_editions_with_ipfs_uri_and_royalty(chain, deployed):
    artist, fan = chain.accounts[1], chain.accounts[2]
    transact(chain.w3, artist, deployed.registry.functions.register(CID, META))
    nft = deployed.nft
    receipt = transact(chain.w3, artist, nft.functions.mint_edition(CID, META, fan.address, 750))
    (event,) = nft.events.EditionMinted().process_receipt(receipt)
    token_id = event["args"]["token_id"]
    assert event["args"]["edition"] == 1
    assert nft.functions.ownerOf(token_id).call() == fan.address
    assert nft.functions.tokenURI(token_id).call() == f"ipfs://{META}"
    assert nft.functions.royaltyInfo(token_id, 10_000).call() == [artist.address, 750]
    assert nft.functions.track_of(token_id).call() == CID
    receipt = transact(chain.w3, artist, nft.functions.mint_edition(CID, META, artist.address, 0))
    second = nft.events.EditionMinted().process_receipt(receipt)[0]["args"]
    assert second["edition"] == 2 and second["token_id"] == token_id + 1
    assert nft.functions.totalSupply().call() == 2
    for interface in ("0x80ac58cd", "0x5b5e139f", "0x2a55205a", "0x01ffc9a7"):
        assert nft.functions.supportsInterface(interface).call()
    assert not nft.functions.supportsInterface("0xdeadbeef").call()


def test_only_the_tracks_artist_mints(chain, deployed):
    artist, other = chain.accounts[1], chain.accounts[3]
    transact(chain.w3, artist, deployed.registry.functions.register(CID, META))
    mint = deployed.nft.functions.mint_edition
    assert "only the track's artist" in revert_reason(
        mint(CID, META, other.address, 0), other.address
    )
    assert "only the track's artist" in revert_reason(
        mint("bafkunregistered", META, artist.address, 0), artist.address
    )
    assert "royalty above 50%" in revert_reason(
        mint(CID, META, artist.address, 5001), artist.address
    )


def test_nft_transfers_follow_erc721(chain, deployed):
    artist, fan, friend = chain.accounts[1], chain.accounts[2], chain.accounts[3]
    transact(chain.w3, artist, deployed.registry.functions.register(CID, META))
    nft = deployed.nft
    transact(chain.w3, artist, nft.functions.mint_edition(CID, META, fan.address, 0))
    assert "not token owner" in revert_reason(
        nft.functions.transferFrom(fan.address, friend.address, 0), artist.address
    )
    transact(chain.w3, fan, nft.functions.transferFrom(fan.address, friend.address, 0))
    assert nft.functions.ownerOf(0).call() == friend.address


def test_chain_ids(chain):
    if chain.kind == "anvil":
        assert chain.w3.eth.chain_id == 1114
    else:  # eth-tester's id is fixed; the devnet reports it as is
        assert chain.w3.eth.chain_id == 131277322940537


def test_artifacts_are_what_the_sources_compile_to():
    assert build.stale_artifacts() == []
    for name in contracts.NAMES:
        artifact = contracts.load_artifact(name)
        assert artifact["evmVersion"] == "shanghai"
        assert artifact["compiler"] == "vyper-0.4.3"
        assert artifact["bytecode"].startswith("0x") and artifact["abi"]


def test_deployed_runtime_code_is_the_artifacts(chain, deployed):
    # both chains run the Shanghai rules (anvil --hardfork shanghai, py-evm ShanghaiVM)
    code = chain.w3.eth.get_code(deployed.tipping.address)
    assert code == bytes.fromhex(contracts.load_artifact("tipping")["bytecodeRuntime"][2:])
