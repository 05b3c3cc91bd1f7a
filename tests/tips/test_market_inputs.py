"""What the artist types to mint editions or set supporter tiers: read exactly, or refused in
words; and the NFT's metadata and the approval in the confirmation's words."""

from pathlib import Path

import pytest

from chain import contracts
from chain.describe import describe_call
from chain.networks import custom_network
from studio.market.minting import MintInputError, MintRequest, nft_metadata, parse_mint_request
from studio.market.tiers import Tier, TierInputError, parse_tiers
from studio.publishing.upload_queue import QueuedTrack, State


def test_a_mint_request_is_read_exactly() -> None:
    assert parse_mint_request(3, " 0,5 ", "7.25 %", "tCORE2") == MintRequest(3, 5 * 10**17, 725)
    assert parse_mint_request(1, "0.000000000000000001", "0", "tCORE2").price_wei == 1


@pytest.mark.parametrize(
    ("editions", "price", "royalty", "reason"),
    [
        (0, "1", "10", "between 1 and 100"),
        (101, "1", "10", "between 1 and 100"),
        (1, "", "10", "not a number of tCORE2"),
        (1, "0", "10", "above zero"),
        (1, "-1", "10", "above zero"),
        (1, "0.0000000000000000001", "10", "at most 18 decimals"),
        (1, "NaN", "10", "above zero"),
        (1, "1", "50.5", "between 0 and 50"),
        (1, "1", "ten", "between 0 and 50"),
        (1, "1", "7.125", "two decimals"),
    ],
)
def test_a_wrong_mint_request_says_what_to_fix(
    editions: int, price: str, royalty: str, reason: str
) -> None:
    with pytest.raises(MintInputError, match=reason):
        parse_mint_request(editions, price, royalty, "tCORE2")


def test_tiers_skip_blank_rows_and_name_the_row_to_fix() -> None:
    rows = [("Supporter", "0.05"), ("", ""), (" Patron ", "1")]
    assert parse_tiers(rows, "tCORE2") == [Tier("Supporter", 5 * 10**16), Tier("Patron", 10**18)]
    assert parse_tiers([("", "")] * 5, "tCORE2") == []
    with pytest.raises(TierInputError, match="Tier 2 needs a name"):
        parse_tiers([("A", "1"), ("", "2")], "tCORE2")
    with pytest.raises(TierInputError, match="Tier 1 needs a price"):
        parse_tiers([("A", "")], "tCORE2")
    with pytest.raises(MintInputError, match="Tier 1's price must be above zero"):
        parse_tiers([("A", "0")], "tCORE2")
    with pytest.raises(TierInputError, match="too long"):
        parse_tiers([("é" * 33, "1")], "tCORE2")
    with pytest.raises(TierInputError, match="At most 5"):
        parse_tiers([("A", "1")] * 6, "tCORE2")


def test_the_nft_metadata_names_the_artist_and_plays_the_audio() -> None:
    track = QueuedTrack(
        id=1, path=Path("/music/dawn.flac"), size=1000, mtime_ns=0, state=State.LISTED,
        cid="bafkreiaudio", fields={"title": "Dawn", "artist": "Nina Blue", "isrc": "FRZ039800212"},
        info={"duration_s": 61.25, "loudness": {"integrated_lufs": -14.2}},
        outputs={"artwork_cid": "bafkreiart", "rendition_cid": "bafkreiopus"},
    )  # fmt: skip
    document = nft_metadata(track)
    assert document["name"] == "Dawn" and document["artist"] == "Nina Blue"
    assert document["image"] == "ipfs://bafkreiart"
    assert document["animation_url"] == "ipfs://bafkreiaudio", "the audio, not the stream copy"
    traits = {a["trait_type"]: a["value"] for a in document["attributes"]}
    assert traits["Duration"] == 61.25 and traits["Loudness (LUFS)"] == -14.2
    assert traits["ISRC"] == "FRZ039800212"
    track.fields.pop("isrc")
    assert "ISRC" not in {a["trait_type"] for a in nft_metadata(track)["attributes"]}


def test_approving_the_marketplace_is_said_in_words() -> None:
    from web3 import Web3

    nft, market = "0x" + "11" * 20, "0x" + "22" * 20
    network = custom_network(
        "http://127.0.0.1:1", 1114, contracts={contracts.TRACK_NFT: nft, "marketplace": market}
    )
    token = Web3().eth.contract(abi=contracts.abi(contracts.TRACK_NFT))
    checksum = Web3.to_checksum_address
    data = token.encode_abi("setApprovalForAll", [checksum(market), True])
    described = describe_call(network, nft, data, 0)
    assert described.summary == "Let the marketplace hand your editions to the fans who buy them"
    data = token.encode_abi("setApprovalForAll", [checksum("0x" + "33" * 20), True])
    assert "check you trust it" in describe_call(network, nft, data, 0).summary


def test_a_tip_store_from_before_sales_keeps_its_tips_and_takes_sales(tmp_path: Path) -> None:
    """A tips file written when only tips were followed (no `kind` columns) opens: its tips
    are tips, and a sale is stored and shown as a sale."""
    import sqlite3

    from studio.tips.store import _SCHEMA, SALE, TIP, AlertRecord, Tip, TipStore

    old_schema = _SCHEMA.replace("    kind TEXT NOT NULL DEFAULT 'tip',\n", "")
    path = tmp_path / "tips.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(old_schema)
        for table in ("tips", "alerted"):
            assert "kind" not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        db.execute(
            "INSERT INTO tips VALUES ('s', '0x' || ?, 0, 7, '0xb', 1, '0xA', '0xF', '5', 'hi', "
            "'confirmed')",
            ("aa" * 32,),
        )
    db.close()
    store = TipStore(path)
    try:
        (old,) = store.tips("s")
        assert (old.kind, old.amount_wei, old.message) == (TIP, 5, "hi")
        sale = Tip("0x" + "bb" * 32, 1, 8, "0xc", 2, "0xA", "0xF", 10**17, "NFT #1", kind=SALE)
        store.put_tip("s", sale)
        assert [t.kind for t in store.tips("s")] == [TIP, SALE]
        record = AlertRecord(sale.tx_hash, 1, "chain", 1.0, "0xF", None, 10**17, "", "pending", 8)
        assert store.mark_alerted(record) is True
        assert store.alert(record.key).kind == TIP, "the default when not said"
        tx = "0x" + "cc" * 32
        shown = AlertRecord(tx, 0, "chain", 2.0, "0xF", None, 1, "", "pending", 9, SALE)
        store.mark_alerted(shown)
        assert store.alert(shown.key).kind == SALE
    finally:
        store.close()
